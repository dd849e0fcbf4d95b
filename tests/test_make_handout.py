"""tools/make_handout.py: the student starter code generated from this reference.

The generated tree must import its own (stubbed) code, grade to 0/110 with
only the Addition freebie passing, keep everything outside the solution
regions, and hold no solution line. That the reference itself grades
100/110 is checked by test_grader.py (test_reference_scores_full_marks_without_torch).
Bad markers and bad output folders are refused, naming the file and line.
"""
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from grader_tools import FULL_SCORES, ROOT, grade, make_handout, torch_blocker

TOOL = ROOT / "tools" / "make_handout.py"
STUB = re.compile(r'^(\s*)raise NotImplementedError\("([^"]*: (?:your code here; see |optional: you may '
                  r'need this for handout )[^"]*)"\)$')
BEGINS = ("# BEGIN SOLUTION", "# BEGIN SOLUTION (TODO)")
MARKERS = BEGINS + ("# END SOLUTION",)


def run_tool(*args):
    return subprocess.run([sys.executable, str(TOOL), *map(str, args)], cwd="/",
                          capture_output=True, text=True, timeout=120)


def plain_regions(lines):
    """(first, last) 0-based indices of the marker lines of each region of the HW1P1 kit, by a plain scan
    (those in a later homework's block are that homework's).

    Independent of the tool's tokenize/ast parsing, to cross-check it.
    """
    spans, begin, cut = [], None, plain_reference_only(lines)
    for i, line in enumerate(lines):
        if line.strip() in BEGINS:
            begin = i
        elif line.strip() == "# END SOLUTION" and begin not in cut:
            spans.append((begin, i))
    return spans


def plain_reference_only(lines):
    """0-based indices of the lines of every block the HW1P1 kit leaves out, markers included, by a plain
    scan: reference-only blocks and later homeworks' blocks."""
    cut, begin = set(), None
    for i, line in enumerate(lines):
        if line.strip() == "# BEGIN REFERENCE ONLY" or line.strip().startswith("# BEGIN HOMEWORK "):
            begin = i
        elif line.strip() == "# END REFERENCE ONLY" or line.strip().startswith("# END HOMEWORK "):
            cut |= set(range(begin, i + 1))
    return cut


def split_regions(lines):
    """(lines inside regions, lines outside them), markers excluded from both."""
    inside, outside, spans = [], [], plain_regions(lines)
    in_region = {i for b, e in spans for i in range(b, e + 1)}
    cut = plain_reference_only(lines)
    for i, line in enumerate(lines):
        if i in in_region:
            if line.strip() not in MARKERS:
                inside.append(line)
        elif i in cut:
            if "REFERENCE ONLY" not in line and "HOMEWORK" not in line:
                inside.append(line)  # never in the kit either
        else:
            outside.append(line)
    return inside, outside


def handout_files(root):
    # Bytecode caches aside: tests that run the kit write them where PYTHONDONTWRITEBYTECODE is unset.
    return sorted(p.relative_to(root).as_posix() for p in Path(root).rglob("*")
                  if p.is_file() and "__pycache__" not in p.parts)


@pytest.fixture(scope="session")
def handout(tmp_path_factory):
    """The starter code generated from the reference, with the tool's output."""
    out = tmp_path_factory.mktemp("starter") / "hw1p1_handout"
    run = run_tool(out, "--allow-uncommitted")  # the code under test, committed or not
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""
    return out, run.stdout


@pytest.fixture(scope="session")
def reference_files():
    """The reference's files that go to the handout (what git would commit, minus tests/, .ci/, the tool)."""
    files = [f for f in make_handout.project_files(ROOT) if not make_handout._dropped(f)]
    assert "mytorch/tensor.py" in files and not any(f.startswith("tests/") for f in files)
    return files


# ---------------------------------------------------------------- the generated tree
def test_generated_tree_imports_its_own_code(handout):
    out, _ = handout
    code = "import mytorch, mytorch.nn, mytorch.optim, hw1.mnist; print(mytorch.__file__); print(hw1.mnist.__file__)"
    env = dict(os.environ, PYTHONPATH=str(out))
    run = subprocess.run([sys.executable, "-c", code], cwd=out, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    # The generated tree was imported, not the reference (installed in editable mode here).
    assert run.stdout.splitlines() == [str(out / "mytorch" / "__init__.py"), str(out / "hw1" / "mnist.py")]


def test_generated_handout_grades_zero_except_the_addition_freebie(handout, tmp_path):
    out, _ = handout
    run = grade(out, env=torch_blocker(tmp_path / "no_torch"))
    assert run.returncode == 0 and run.stderr == "", run.stdout[-3000:] + run.stderr[-3000:]
    lines = run.stdout.rstrip("\n").splitlines()
    assert lines[0].startswith(f"Grading {out} ")  # the generated tree, not the reference
    assert json.loads(lines[-1]) == {"scores": {k: 0 for k in FULL_SCORES}}
    assert lines[-3] == "Total score: 0/110"
    assert any(line.startswith("[PASS] Addition: 0/0 points") for line in lines)
    for problem, points in FULL_SCORES.items():
        if problem != "Addition":
            assert any(line.startswith(f"[FAIL] {problem}: 0/{points} points") for line in lines), problem
    # Students see which part of the handout to read.
    assert "NotImplementedError: Sub.forward: your code here; see handout §1.1.1 Subtract" in run.stdout


def test_no_solution_line_is_left(handout, reference_files):
    out, _ = handout
    generated = {rel: (out / rel).read_text(errors="replace").splitlines() for rel in handout_files(out)}
    for rel, lines in generated.items():
        if not rel.endswith(".md"):  # prose may name the markers
            assert not [line for line in lines if line.strip() in MARKERS], rel
        if rel.endswith(".py"):
            assert "BEGIN SOLUTION" not in "\n".join(lines) and "END SOLUTION" not in "\n".join(lines), rel
    # Every distinctive line of a solution: long enough to be specific, and
    # found nowhere outside the regions (so not a freebie or a docstring).
    inside, outside = set(), set()
    for rel in reference_files:
        if rel.endswith(".py"):
            ins, outs = split_regions((ROOT / rel).read_text().splitlines())
            inside |= {line.strip() for line in ins}
            outside |= {line.strip() for line in outs}
    distinctive = {line for line in inside - outside if len(line) > 25}
    assert len(distinctive) > 100  # the check below means something
    leaked = {rel: sorted(distinctive & {line.strip() for line in lines}) for rel, lines in generated.items()}
    assert {rel: found for rel, found in leaked.items() if found} == {}


def test_everything_outside_the_regions_is_kept(handout, reference_files):
    out, _ = handout
    assert handout_files(out) == reference_files
    stubs = 0
    for rel in reference_files:
        ref = (ROOT / rel).read_bytes()
        new = (out / rel).read_bytes()
        ref_lines = ref.decode(errors="replace").splitlines()
        spans = plain_regions(ref_lines) if rel.endswith((".py")) else []
        if rel == "README.md":
            continue  # loses its reference-only blocks: test_readme_loses_its_reference_only_blocks
        if not spans and not plain_reference_only(ref_lines):
            assert new == ref, rel
            continue
        new_lines = new.decode().splitlines()
        _, outside = split_regions(ref_lines)
        # Each region became exactly one stub, at the indentation of its markers;
        # a (TODO) region became its kit lines, as comments.
        raising = [(b, e) for b, e in spans if ref_lines[b].strip() == "# BEGIN SOLUTION"]
        todo = [line.replace("#| ", "# ", 1).replace("#|", "#", 1).rstrip() for b, e in spans
                if ref_lines[b].strip() != "# BEGIN SOLUTION" for line in ref_lines[b + 1:e]
                if line.strip().startswith("#|")]
        stub_lines = [line for line in new_lines if STUB.match(line)]
        assert len(stub_lines) == len(raising), rel
        assert [STUB.match(s).group(1) for s in stub_lines] == \
            [re.match(r"\s*", ref_lines[b]).group(0) for b, _ in raising], rel
        rest = [line for line in new_lines if not STUB.match(line)]
        for line in todo:
            rest.remove(line)
        if plain_reference_only(ref_lines):  # the tool keeps at most two blank lines around a cut block
            rest, outside = [line for line in rest if line.strip()], [line for line in outside if line.strip()]
        assert rest == outside, rel
        stubs += len(spans)
    assert stubs > 30


def test_kept_and_dropped_files(handout):
    out, stdout = handout
    files = handout_files(out)
    for kept in ("README.md", "sandbox.py", "grade.sh", "create_tarball.sh", "pyproject.toml", ".gitignore",
                 "autograder/hw1_autograder/runner.py", "autograder/hw1_autograder/data/prepare.py",
                 "mytorch/nn/loss.py", "mytorch/nn/module.py", "mytorch/optim/optimizer.py", "hw1/mnist.py"):
        assert kept in files
    # The reference's own test suite, CI and this tool stay behind, and so do
    # caches, installs and generated data, though the reference folder has them.
    assert not [f for f in files if f.startswith(("tests/", ".ci/", "bench/")) or f == "tools/make_handout.py"]
    assert not [f for f in files if "__pycache__" in f or ".egg-info" in f or f.endswith((".npy", ".pyc"))]
    assert "validation_accuracy.png" not in files and "handin.tar" not in files
    assert stdout.startswith(f"Wrote {len(files)} files to {out}: ")
    assert "solution regions replaced by stubs" in stdout
    assert "left out tests/, .ci/, tools/, bench/" in stdout


def test_file_modes_are_kept(handout, reference_files):
    out, _ = handout
    for script in ("grade.sh", "create_tarball.sh"):
        assert os.access(out / script, os.X_OK), script
    assert {rel: stat.S_IMODE((out / rel).stat().st_mode) for rel in reference_files} == \
        {rel: stat.S_IMODE((ROOT / rel).stat().st_mode) for rel in reference_files}


@pytest.mark.parametrize("path, owner, section", [
    ("mytorch/nn/functional.py", "Sub.forward", "§1.1.1 Subtract"),
    ("mytorch/nn/functional.py", "Sub.backward", "§1.1.1 Subtract"),
    ("mytorch/tensor.py", "Tensor.__sub__", "§1.1.1 Subtract"),
    ("mytorch/nn/functional.py", "Mul.forward", "§1.1.2 Multiply"),
    ("mytorch/tensor.py", "Tensor.__mul__", "§1.1.2 Multiply"),
    ("mytorch/nn/functional.py", "Div.backward", "§1.1.3 Divide"),
    ("mytorch/tensor.py", "Tensor.__truediv__", "§1.1.3 Divide"),
    ("mytorch/autograd_engine.py", "backward", "§1.2 Autograd"),
    ("mytorch/tensor.py", "Tensor.backward", "§1.2 Autograd"),
    ("mytorch/nn/functional.py", "unbroadcast", "§2.1 Linear Layer (Add, and your Sub/Mul/Div"),
    ("mytorch/nn/functional.py", "MatMul.backward", "§2.1 Linear Layer"),
    ("mytorch/nn/linear.py", "Linear.forward", "§2.1 Linear Layer"),
    ("mytorch/nn/sequential.py", "Sequential.forward", "§2.1 Linear Layer"),
    ("mytorch/nn/functional.py", "ReLU.backward", "§2.2 ReLU"),
    ("mytorch/nn/activations.py", "ReLU.forward", "§2.2 ReLU"),
    ("mytorch/optim/sgd.py", "SGD.step", "§2.3 SGD / §2.6 Momentum"),
    ("mytorch/nn/batchnorm.py", "BatchNorm1d.forward", "§2.4 Batch Normalization"),
    ("mytorch/nn/functional.py", "Sum.forward", "§2.4 Batch Normalization"),
    ("mytorch/nn/functional.py", "Pow.forward", "§2.4 Batch Normalization"),
    ("mytorch/nn/functional.py", "cross_entropy", "§2.5 Cross Entropy Loss"),
    ("mytorch/nn/functional.py", "Exp.forward", "§2.5 Cross Entropy Loss"),
    ("mytorch/nn/functional.py", "Neg.forward", "§2.5 Cross Entropy Loss"),
    ("hw1/mnist.py", "mnist", "§3.1 Initialize Objects"),
    ("hw1/mnist.py", "train", "§3.2 train()"),
    ("hw1/mnist.py", "validate", "§3.3 validate()"),
])
def test_stubs_point_at_handout_sections(handout, path, owner, section):
    out, _ = handout
    messages = [STUB.match(line).group(2) for line in (out / path).read_text().splitlines() if STUB.match(line)]
    mine = [m for m in messages if m.startswith(f"{owner}: ")]
    assert len(mine) == 1, messages
    optional = owner.split(".")[0] in ("Sum", "Pow", "Exp", "Neg")
    start = "optional: you may need this for handout" if optional else "your code here; see handout"
    assert mine[0].startswith(f"{owner}: {start} {section}")


def test_every_reference_region_has_a_handout_section():
    # A region added without an entry in SECTIONS would only get the fallback hint.
    _, regions, _ = make_handout.plan(ROOT)
    assert [f"{r.path}:{r.begin} {r.owner}" for rs in regions.values() for r in rs if r.section is None] == []


# ---------------------------------------------------------------- the command line
def test_help_documents_the_tool():
    run = run_tool("--help")
    assert run.returncode == 0
    for words in ("OUT_DIR", "--force", "--check", "# BEGIN SOLUTION", "# END SOLUTION", "NotImplementedError",
                  "tests/", "nothing is written"):
        assert words in run.stdout, words


def test_check_lists_the_regions_of_each_file(reference_files):
    run = run_tool("--check")
    assert run.returncode == 0, run.stderr
    counts = {rel: len(plain_regions((ROOT / rel).read_text().splitlines()))
              for rel in reference_files if rel.endswith(".py")}
    counts = {rel: n for rel, n in counts.items() if n}
    for rel, n in counts.items():
        assert f"{rel}: {n} region{'s' if n > 1 else ''}" in run.stdout.splitlines()
    total = sum(counts.values())
    assert total > 30
    assert run.stdout.splitlines()[-1] == \
        f"Total: {total} solution regions in {len(counts)} of {len(reference_files)} files"
    assert re.search(r"^  lines \d+-\d+ +Sub\.forward +§1\.1\.1 Subtract$", run.stdout, re.M)


@pytest.mark.parametrize("args, message", [
    ((), "give OUT_DIR to generate the handout, or --check"),
    (("--check", "/tmp/x"), "give OUT_DIR to generate the handout, or --check"),
    (("--source", "/nonexistent/folder", "--check"), "--source /nonexistent/folder is not a folder"),
])
def test_bad_usage(args, message):
    run = run_tool(*args)
    assert run.returncode == 2 and message in run.stderr


# ---------------------------------------------------------------- small projects
def write_project(root, files):
    """Write ``{relpath: text}`` under ``root`` (texts dedented); a relpath ending in "*" is executable."""
    for rel, text in files.items():
        executable = rel.endswith("*")
        path = Path(root) / rel.rstrip("*")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
        if executable:
            path.chmod(0o755)
    return Path(root)


OPS = '''
"""A module with solution regions."""
TEMPLATE = """
    # BEGIN SOLUTION
"""  # a marker inside a string is text, not a region


def answer():
    """The answer."""
    # BEGIN SOLUTION
    return 42  # the one distinctive line
    # END SOLUTION


class Thing:
    def value(self, x):
        if x is None:
            raise ValueError("Thing.value: x is None")
        # BEGIN SOLUTION
        y = x * 2
        return y
        # END SOLUTION

    def free(self):
        return "free"  # kept
'''


def test_a_project_without_git_skips_caches_data_and_the_reference_suite(tmp_path):
    src = write_project(tmp_path / "proj", {
        "pkg/__init__.py": "", "pkg/ops.py": OPS, "run.sh*": "#!/bin/sh\necho hi\n", "README.md": "read me\n",
        # Never copied:
        "pkg/__pycache__/ops.cpython-311.pyc": "x", "pkg.egg-info/PKG-INFO": "x", ".venv/bin/python": "x",
        "venv/lib/x.py": "x", "data/train_data.npy": "x", "validation_accuracy.png": "x", "handin.tar": "x",
        "results.json": "x", "tests/test_ops.py": "x", ".ci/run": "x", "tools/make_handout.py": "x",
        ".pytest_cache/v": "x", ".hypothesis/x": "x",
    })
    out = tmp_path / "out"
    run = run_tool("--source", src, out)
    assert run.returncode == 0, run.stderr
    assert handout_files(out) == ["README.md", "pkg/__init__.py", "pkg/ops.py", "run.sh"]
    assert os.access(out / "run.sh", os.X_OK) and not os.access(out / "pkg/ops.py", os.X_OK)
    text = (out / "pkg/ops.py").read_text()
    assert "return 42" not in text and "y = x * 2" not in text
    assert '    # BEGIN SOLUTION\n"""  # a marker inside a string' in text  # strings are left alone
    assert '"""The answer."""' in text and 'raise ValueError("Thing.value: x is None")' in text
    assert 'return "free"  # kept' in text
    # The stubs raise even where the function returned a value; unmapped files get a hint naming function and file.
    code = ("import pkg.ops as m\n"
            "for call in (m.answer, lambda: m.Thing().value(1)):\n"
            "    try:\n        call()\n    except NotImplementedError as err:\n        print(err)\n"
            "print(m.Thing().free())\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=out, env=dict(os.environ, PYTHONPATH=str(out)),
                            capture_output=True, text=True)
    assert result.stdout.splitlines() == ["answer in pkg/ops.py: your code here; see the handout",
                                          "Thing.value in pkg/ops.py: your code here; see the handout",
                                          "free"], result.stderr


def _git(src, *args):
    subprocess.run(["git", "-C", str(src), "-c", "user.name=t", "-c", "user.email=t@t", *args], check=True,
                   capture_output=True)


@pytest.fixture
def git_project(tmp_path):
    """A committed git project, with ignored files beside it."""
    if shutil.which("git") is None:
        pytest.skip("needs the git command")
    src = write_project(tmp_path / "proj", {
        "pkg/__init__.py": "", "pkg/ops.py": OPS, ".gitignore": "*.log\nsecret/\n", "README.md": "read me\n",
        "tests/test_ops.py": "x",
    })
    subprocess.run(["git", "-c", "init.defaultBranch=main", "init", "-q", str(src)], check=True)
    _git(src, "add", "-A")
    _git(src, "commit", "-q", "-m", "start")
    write_project(src, {"debug.log": "x", "secret/key.py": "x"})  # ignored: never a question
    return src


def test_a_git_checkout_ships_the_tracked_files_only(git_project, tmp_path):
    out = tmp_path / "out"
    run = run_tool("--source", git_project, out)
    assert run.returncode == 0, run.stderr
    assert handout_files(out) == [".gitignore", "README.md", "pkg/__init__.py", "pkg/ops.py"]


def test_a_stray_or_modified_file_stops_the_tool_and_never_ships(git_project, tmp_path):
    write_project(git_project, {"scratch.py": "print('a staff member was here')\n", "pkg/plot.png": "x",
                                "tests/new_test.py": "x"})  # tests/ never ships: no question
    (git_project / "README.md").write_text("read me, edited\n")
    out = tmp_path / "out"
    run = run_tool("--source", git_project, out)
    assert run.returncode == 1 and not out.exists(), run.stdout
    listed = [line.replace("make_handout.py:", "", 1).strip() for line in run.stderr.splitlines()]
    assert "make_handout.py: the working tree differs from the last commit under the folders the kit ships:" \
        in run.stderr
    assert {"README.md (modified)", "pkg/plot.png (untracked)", "scratch.py (untracked)"} <= set(listed)
    assert not any("tests/new_test.py" in line for line in listed)
    assert "--allow-uncommitted" in run.stderr and run.stderr.splitlines()[-1] == "make_handout.py: no handout written"
    # Asked to go on: the tracked files as they are now, the stray ones left behind.
    run = run_tool("--source", git_project, out, "--allow-uncommitted")
    assert run.returncode == 0, run.stderr
    assert handout_files(out) == [".gitignore", "README.md", "pkg/__init__.py", "pkg/ops.py"]
    assert (out / "README.md").read_text() == "read me, edited\n"


def test_the_kit_speaks_to_students_only(handout):
    """No staff wording: the kit has no reference, no tools/, no tests/ to speak of."""
    out, _ = handout
    words = ("the reference", "reference's", "tools/", "make_handout", "model_solution", "tests/",
             "test_never_shipped", "grader_tools", "issue 1", "issue 2", "branch i1", "branch i2")
    hits = []
    for rel in handout_files(out):
        try:
            text = (out / rel).read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # a binary file
        for number, line in enumerate(text.splitlines(), 1):
            hits += [f"{rel}:{number}: {line.strip()}" for word in words if word in line.lower()]
    assert not hits, "\n".join(hits)
    assert "reference" not in toml_description(out / "pyproject.toml")


def toml_description(path):
    line = next(line for line in path.read_text().splitlines() if line.startswith("description"))
    return line.lower()


BAD_MARKERS = {
    "unclosed": ("def f():\n    # BEGIN SOLUTION\n    return 1\n", 2, "'# BEGIN SOLUTION' is never closed"),
    "end_without_begin": ("def f():\n    return 1\n    # END SOLUTION\n", 3, "without a '# BEGIN SOLUTION'"),
    "nested": ("def f():\n    # BEGIN SOLUTION\n    x = 1\n    # BEGIN SOLUTION\n    return x\n"
               "    # END SOLUTION\n", 4, "nested region"),
    "module_level": ("import os\n# BEGIN SOLUTION\nX = 1\n# END SOLUTION\n", 2,
                     "is not inside a function body (it is at module or class level)"),
    "class_level": ("class C:\n    # BEGIN SOLUTION\n    x = 1\n    # END SOLUTION\n", 2,
                    "is not inside a function body"),
    "end_indented_differently": ("def f():\n    if True:\n        # BEGIN SOLUTION\n        x = 1\n"
                                 "    # END SOLUTION\n    return 1\n", 5, "must close at the indentation it opened"),
    "leaves_its_block": ("def f(x):\n    if x:\n        # BEGIN SOLUTION\n        y = 1\n    else:\n"
                         "        y = 2\n        # END SOLUTION\n    return y\n", 3, "indented less than its markers"),
    "empty": ("def f():\n    # BEGIN SOLUTION\n    # nothing here\n    # END SOLUTION\n    return 1\n", 2,
              "holds no code"),
    "misspelled": ("def f():\n    # BEGIN SOLUTION:\n    return 1\n    # END SOLUTION\n", 2, "malformed marker"),
    "after_code": ("def f():\n    x = 1  # BEGIN SOLUTION\n    return x\n    # END SOLUTION\n", 2,
                   "put the marker on a line of its own"),
    "todo_without_kit_lines": ("def f():\n    x = 1\n    # BEGIN SOLUTION (TODO)\n    x = 2\n"
                               "    # END SOLUTION\n    return x\n", 3, "has no kit lines"),
    "kit_line_outside_todo": ("def f():\n    #| do this\n    return 1\n", 2,
                              "kit line outside a '# BEGIN SOLUTION (TODO)' region"),
    "reference_only_unclosed": ("X = 1\n# BEGIN REFERENCE ONLY\nY = 2\n", 2,
                                "'# BEGIN REFERENCE ONLY' is never closed"),
    "reference_only_end_alone": ("X = 1\n# END REFERENCE ONLY\n", 2, "without a '# BEGIN REFERENCE ONLY'"),
    "reference_only_nested": ("# BEGIN REFERENCE ONLY\nX = 1\n# BEGIN REFERENCE ONLY\nY = 1\n"
                              "# END REFERENCE ONLY\n", 3, "cannot nest"),
    "reference_only_misspelled": ("X = 1\n# BEGIN REFERENCE-ONLY\nY = 2\n# END REFERENCE ONLY\n", 2,
                                  "malformed marker"),
    "reference_only_holds_a_region": ("# BEGIN REFERENCE ONLY\ndef f():\n    # BEGIN SOLUTION\n    return 1\n"
                                      "    # END SOLUTION\n# END REFERENCE ONLY\n", 3,
                                      "solution marker inside the reference-only block"),
    "reference_only_breaks_the_kit": ("def f():\n    # BEGIN REFERENCE ONLY\n    return 1\n"
                                      "    # END REFERENCE ONLY\n", None,
                                      "without its reference-only blocks the file does not parse"),
}


@pytest.mark.parametrize("name", sorted(BAD_MARKERS))
def test_bad_markers_are_refused_naming_file_and_line(tmp_path, name):
    source, line, message = BAD_MARKERS[name]
    src = write_project(tmp_path / "proj", {"pkg/__init__.py": "", "pkg/bad.py": source})
    out = tmp_path / "out"
    for args in ((out,), ("--check",)):
        run = run_tool("--source", src, *args)
        assert run.returncode == 1, run.stdout
        first = run.stderr.splitlines()[0]
        where = "pkg/bad.py: " if line is None else f"pkg/bad.py:{line}: "
        assert first.startswith(f"make_handout.py: {where}") and message in first, run.stderr
        assert run.stderr.splitlines()[-1] == "make_handout.py: no handout written"
    assert not out.exists()  # nothing half-written


def test_every_bad_region_in_every_file_is_reported(tmp_path):
    src = write_project(tmp_path / "proj", {
        "a.py": BAD_MARKERS["module_level"][0],
        "b.py": BAD_MARKERS["empty"][0] + BAD_MARKERS["end_without_begin"][0]})
    run = run_tool("--source", src, "--check")
    assert run.returncode == 1
    assert [line.split(": ")[1] for line in run.stderr.splitlines()[:-1]] == ["a.py:2", "b.py:2", "b.py:8"]


def test_markers_in_other_files_are_refused_but_documentation_may_show_them(tmp_path):
    marked = "#!/bin/sh\n# BEGIN SOLUTION\necho secret\n# END SOLUTION\n"
    src = write_project(tmp_path / "proj", {"run.sh*": marked, "NOTES.md": marked})
    run = run_tool("--source", src, tmp_path / "out")
    assert run.returncode == 1
    assert run.stderr.splitlines()[:2] == [
        "make_handout.py: run.sh:2: solution markers only work in Python (.py) files; this region would ship as is",
        "make_handout.py: run.sh:4: solution markers only work in Python (.py) files; this region would ship as is"]
    (src / "run.sh").write_text("#!/bin/sh\necho hi\n")
    assert run_tool("--source", src, tmp_path / "out").returncode == 0


def test_out_dir_refusals(tmp_path):
    src = write_project(tmp_path / "parent" / "proj", {"pkg/__init__.py": "", "pkg/ops.py": OPS})
    # Inside the project, or the project itself: refused, nothing created.
    for out in (src / "handout", src):
        run = run_tool("--source", src, "--force", out)
        assert run.returncode == 1 and "is inside the project" in run.stderr
    assert not (src / "handout").exists()
    # A folder holding the project: refused even with --force, nothing deleted.
    run = run_tool("--source", src, "--force", tmp_path / "parent")
    assert run.returncode == 1 and "contains the project" in run.stderr
    assert (src / "pkg" / "ops.py").read_text() == textwrap.dedent(OPS).lstrip("\n")
    # A non-empty folder: refused without --force; replaced with it.
    out = tmp_path / "out"
    write_project(out, {"stale/old.py": "old\n"})
    run = run_tool("--source", src, out)
    assert run.returncode == 1 and f"OUT_DIR {out} is not empty; give --force to replace its contents" in run.stderr
    assert (out / "stale/old.py").exists()
    run = run_tool("--source", src, "--force", out)
    assert run.returncode == 0, run.stderr
    assert handout_files(out) == ["pkg/__init__.py", "pkg/ops.py"]
    # A file is not a folder.
    (tmp_path / "file").write_text("x")
    run = run_tool("--source", src, tmp_path / "file")
    assert run.returncode == 1 and "exists and is not a folder" in run.stderr


def test_readme_loses_its_reference_only_blocks(handout):
    out, _ = handout
    reference = (ROOT / "README.md").read_text()
    assert "<!-- BEGIN REFERENCE ONLY -->" in reference and "python3 -m pytest -q" in reference
    student = (out / "README.md").read_text()
    # The reference's own test suite, benchmarks and this tool are not in the handout:
    # its README does not send students to them, and keeps everything else.
    assert "REFERENCE ONLY" not in student
    assert "pytest" not in student and "bench/" not in student and "make_handout" not in student
    assert "./grade.sh 1" in student and "python3 sandbox.py" in student
    # Every line outside the reference-only blocks is kept, in order.
    outside, inside = [], False
    for line in reference.splitlines():
        if line.strip() == "<!-- BEGIN REFERENCE ONLY -->":
            inside = True
        elif line.strip() == "<!-- END REFERENCE ONLY -->":
            inside = False
        elif not inside:
            outside.append(line)
    assert student.splitlines() == outside


@pytest.mark.parametrize("text, problem", [
    ("a\n<!-- BEGIN REFERENCE ONLY -->\nb\n", "never closed"),
    ("a\n<!-- END REFERENCE ONLY -->\n", "without a"),
    ("<!-- BEGIN REFERENCE ONLY -->\n<!-- BEGIN REFERENCE ONLY -->\n<!-- END REFERENCE ONLY -->\n",
     "inside the block opened at line 1"),
])
def test_unbalanced_reference_only_blocks_are_refused(tmp_path, text, problem):
    src = write_project(tmp_path / "proj", {"pkg/__init__.py": "", "README.md": text})
    out = tmp_path / "out"
    run = run_tool("--source", src, out)
    assert run.returncode == 1 and problem in run.stderr and "README.md:" in run.stderr
    assert not out.exists() or not any(out.iterdir())


def test_reference_only_blocks_are_cut_with_their_marker_lines(tmp_path):
    text = "keep 1\n<!-- BEGIN REFERENCE ONLY -->\ncut\n<!-- END REFERENCE ONLY -->\nkeep 2\n"
    src = write_project(tmp_path / "proj", {"pkg/__init__.py": "", "README.md": text})
    out = tmp_path / "out"
    assert run_tool("--source", src, out).returncode == 0
    assert (out / "README.md").read_text() == "keep 1\nkeep 2\n"


def test_reference_only_code_and_todo_regions_in_the_kit(tmp_path):
    """Reference-only blocks vanish (Python and TOML); a (TODO) region becomes its kit lines as comments."""
    src = write_project(tmp_path / "proj", {
        "pkg/__init__.py": "",
        "pkg/mod.py": ("import os\n# BEGIN REFERENCE ONLY\nimport sys\n# END REFERENCE ONLY\n\n\n"
                       "def f(x):\n    y = x + 1\n    # BEGIN SOLUTION (TODO)\n    #| Step 1: double y.\n"
                       "    #|\n    #|   (in place)\n    y = y * 2\n    # END SOLUTION\n    return y\n"),
        "pyproject.toml": "[tool.x]\n# BEGIN REFERENCE ONLY\ntestpaths = [\"tests\"]\n# END REFERENCE ONLY\na = 1\n",
    })
    out = tmp_path / "out"
    run = run_tool("--source", src, out)
    assert run.returncode == 0, run.stderr
    assert (out / "pkg/mod.py").read_text() == (
        "import os\n\n\ndef f(x):\n    y = x + 1\n    # Step 1: double y.\n    #\n    #   (in place)\n"
        "    return y\n")
    assert (out / "pyproject.toml").read_text() == "[tool.x]\na = 1\n"
    assert "REFERENCE ONLY" not in run.stdout


def test_a_cut_block_leaves_at_most_two_blank_lines():
    source = "X = 1\n\n\n# BEGIN REFERENCE ONLY\nY = 2\n# END REFERENCE ONLY\n\n\nZ = 3\n"
    blocks = make_handout.reference_only_blocks(source, "m.py", [])
    assert make_handout.kit_source(source, (), blocks) == "X = 1\n\n\nZ = 3\n"


def test_optional_operations_say_so_in_their_stubs():
    region = make_handout.Region("mytorch/nn/functional.py", 1, 3, "        ", "Exp.forward",
                                 make_handout.section_for("mytorch/nn/functional.py", "Exp.forward"))
    assert region.optional
    assert region.stub() == ('        raise NotImplementedError("Exp.forward: optional: you may need this for '
                             'handout §2.5 Cross Entropy Loss (exp, Appendix B.1); your code here")\n')
    sub = make_handout.Region("mytorch/nn/functional.py", 1, 3, "        ", "Sub.forward", "§1.1.1 Subtract")
    assert not sub.optional
