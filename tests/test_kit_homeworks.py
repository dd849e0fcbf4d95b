"""The kits of the course's later homeworks (tools/make_handout.py --homework) and their model solutions.

A later homework's kit is HW1P1's kit (its student regions still stubs:
students bring their own code) plus the homework's own files, stubbed, its
exports and its grader folder; never another homework's file. Its model
solution (tools/model_solution/<slug>/solution.py) filled into a fresh kit
with HW1P1's must pass every check of the homework's grader; the bare kit
must fail every scored one. The grader's checks run here through an
in-process driver (as tests/test_grader_bonus.py drives them), in a Python
started in the kit, so that the kit's own mytorch is the one graded.
"""
import ast
import importlib.util
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from grader_tools import ROOT, make_handout
from test_kit import HANDOUT_STUBS, OPTIONAL_STUBS, TODO_STUBS, kit_stubs

FILL = ROOT / "tools" / "model_solution" / "fill.py"
BONUS_FILES = {"mytorch/optim/adam.py", "mytorch/nn/dropout.py"}
BONUS_STUBS = {("mytorch/optim/adam.py", "Adam.step"), ("mytorch/nn/dropout.py", "DropoutFunction.forward"),
               ("mytorch/nn/dropout.py", "DropoutFunction.backward")}

# How a homework's grader is imported in the kit: folders put first on sys.path (relative to the
# kit), and the problem table's module. Every table has Problem.id, .points and .checks(), and
# every check .inputs(rng), .probe(inp, student) and .judge(inp, obs).
GRADERS = {
    "1b": (["autograder/hw1b_autograder"], "problems"),
    "2": (["hw2", "autograder/hw2p1_autograder"], "problems"),  # hw2/ first: "hw2" is hw2/hw2.py
    "3": (["autograder"], "hw3p1_autograder.problems"),        # a package
}

DRIVER = """
import importlib, json, pickle, sys
import numpy as np
kit, folders, table, seed = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3], int(sys.argv[4])
sys.path[:0] = [kit + "/" + f for f in folders] + [kit]
problems = importlib.import_module(table)
report = {}
for problem in problems.PROBLEMS:
    failures = []
    for check in problem.checks():
        inp = check.inputs(np.random.default_rng(seed))
        try:  # the child gets the inputs as data, and hands back data (as between the harness's processes)
            obs = pickle.dumps(check.probe(pickle.loads(pickle.dumps(inp)), importlib.import_module))
        except Exception as err:  # the harness reports these with the student's traceback
            failures.append(f"your code raised {type(err).__name__}: {err}")
            continue
        try:
            check.judge(inp, pickle.loads(obs))
        except Exception as failure:  # the grader's CheckFailure: its message is the student's
            failures.append(f"{type(failure).__name__}: {failure}")
    report[problem.id] = [problem.points, failures]
print(json.dumps(report))
"""


def drive(kit, homework, seed=0):
    """{problem id: (points, failure messages)} of ``homework``'s checks on the kit's code."""
    folders, table = GRADERS[homework]
    run = subprocess.run([sys.executable, "-c", DRIVER, str(kit), json.dumps(folders), table, str(seed)],
                         cwd=kit, capture_output=True, text=True, timeout=300,
                         env={"PATH": "/usr/bin:/bin", "PYTHONHASHSEED": "0"})
    assert run.returncode == 0, run.stderr[-3000:]
    return {pid: (points, failures) for pid, (points, failures) in json.loads(run.stdout).items()}


def score(report):
    return sum(points for points, failures in report.values() if not failures)


def build(folder, homework, fill=None):
    """A fresh kit of ``homework`` in ``folder``; ``fill``: None (bare), "hw1p1" (HW1P1's model
    solution only) or "all" (HW1P1's and the homework's)."""
    make_handout.make_handout(ROOT, folder, allow_uncommitted=True, homework=homework)
    if fill:
        args = [sys.executable, str(FILL), str(folder), "--homework", homework]
        if fill == "hw1p1":
            args = [sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv[1]); import fill; "
                    "fill.fill(sys.argv[2], homework=sys.argv[3], own=False)",
                    str(FILL.parent), str(folder), homework]
        run = subprocess.run(args, capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr
    return Path(folder)


def files_of(kit):
    return {p.relative_to(kit).as_posix(): p.read_bytes() for p in Path(kit).rglob("*") if p.is_file()}


# What each later homework's kit adds to HW1P1's: its library files (besides its grader
# folder), the HW1P1 files whose homework blocks it ships, its stubs, its points, and
# the problems HW1P1's model solution alone passes (given code and HW1P1's own parts).
HW2_STUBS = {("mytorch/nn/conv.py", "conv1d_output_size"), ("mytorch/nn/conv.py", "Conv1dFunction.forward"),
             ("mytorch/nn/conv.py", "Conv1dFunction.backward"), ("mytorch/nn/conv.py", "Flatten.forward"),
             ("hw2/mlp_scan.py", "_window_filters"), ("hw2/hw2.py", "CNN.__init__")} | {
    ("hw2/mlp_scan.py", f"{cls}.{method}") for cls in ("CNN_SimpleScanningMLP", "CNN_DistributedScanningMLP")
    for method in ("__init__", "init_weights")}
HW3_STUBS = {("mytorch/tensor.py", "cat"), ("mytorch/tensor.py", "_unsqueeze"),
             ("mytorch/nn/util.py", "pack_sequence"), ("mytorch/nn/util.py", "unpack_sequence"),
             ("mytorch/nn/rnn.py", "RNNUnit.forward"), ("mytorch/nn/rnn.py", "TimeIterator.forward"),
             ("mytorch/nn/gru.py", "GRUUnit.forward")} | {
    ("mytorch/nn/functional.py", f"{op}.{method}") for op in ("Cat", "Unsqueeze") for method in ("forward", "backward")}
HOMEWORKS = {
    "1b": dict(files=BONUS_FILES, blocks={"mytorch/nn/__init__.py", "mytorch/optim/__init__.py"},
               stubs=BONUS_STUBS, points=25, hw1p1_only={"B.1", "B.2", "B.3", "B.4"}),
    "2": dict(files={"mytorch/nn/conv.py", "hw2/hw2.py", "hw2/mlp_scan.py"}, blocks={"mytorch/nn/__init__.py"},
              stubs=HW2_STUBS, points=95, hw1p1_only=set()),
    "3": dict(files={"mytorch/nn/util.py", "mytorch/nn/rnn.py", "mytorch/nn/gru.py"},
              blocks={"mytorch/tensor.py", "mytorch/nn/functional.py"},
              stubs=HW3_STUBS, points=100, hw1p1_only={"2.3", "2.4"}),  # slicing: given code
}
# What each bare kit lets a student (and the homework's grader) import, its stubs notwithstanding.
IMPORTS = {
    "1b": "from mytorch.nn import Dropout; from mytorch.optim import Adam; from mytorch.optim.adam import Adam",
    "2": "from mytorch.nn import Conv1d, Flatten; from mytorch.nn.conv import *; "
         "import sys; sys.path.insert(0, 'hw2'); import hw2, mlp_scan; hw2.CNN; mlp_scan.CNN_SimpleScanningMLP",
    "3": "from mytorch.tensor import cat, Tensor; from mytorch.nn import util; from mytorch.nn.rnn import RNN; "
         "from mytorch.nn.gru import GRU; Tensor.unsqueeze",
}


@pytest.fixture(scope="module")
def hw1_kit(tmp_path_factory):
    return build(tmp_path_factory.mktemp("kit") / "hw1p1", "1")


@pytest.fixture(scope="module")
def kits(tmp_path_factory):
    """The bare kit of each later homework, built once."""
    return {hw: build(tmp_path_factory.mktemp("kit") / hw, hw) for hw in HOMEWORKS}


@pytest.fixture(scope="module")
def bonus_kit(kits):
    return kits["1b"]


# ------------------------------------------------------------------ what each kit holds
def test_the_hw1p1_kit_holds_no_file_marker_or_export_of_a_later_homework(hw1_kit):
    files = files_of(hw1_kit)
    later = [f for f in files if make_handout.homework_of(f) != "1"]
    assert later == []
    for hw in HOMEWORKS.values():
        assert not hw["files"] & set(files)
    assert not [f for f in files if "hw1b" in f or "hw2" in f or "hw3" in f]
    for rel, data in files.items():
        assert b"BEGIN HOMEWORK" not in data and b"END HOMEWORK" not in data, rel
    for name in ("Dropout", "Conv1d"):
        assert name not in (hw1_kit / "mytorch/nn/__init__.py").read_text()
    assert "Adam" not in (hw1_kit / "mytorch/optim/__init__.py").read_text()
    assert "def cat(" not in (hw1_kit / "mytorch/tensor.py").read_text()
    assert "class Cat(" not in (hw1_kit / "mytorch/nn/functional.py").read_text()


@pytest.mark.parametrize("homework", sorted(HOMEWORKS))
def test_a_homeworks_kit_is_the_hw1p1_kit_plus_its_files_blocks_and_grader(hw1_kit, kits, homework):
    expected = HOMEWORKS[homework]
    grader = make_handout.HOMEWORKS[homework].grader
    base, kit = files_of(hw1_kit), files_of(kits[homework])
    added = set(kit) - set(base)
    assert set(base) <= set(kit)
    assert added == expected["files"] | {f for f in kit if f.startswith(grader)}
    assert {f for f in added if f.startswith(grader)} >= {grader + "problems.py"}
    # HW1P1's files are HW1P1's kit's, byte for byte, but for the blocks this homework adds.
    assert {f for f in base if base[f] != kit[f]} == expected["blocks"]
    for rel in expected["blocks"]:
        extra = set(kit[rel].decode().splitlines()) - set(base[rel].decode().splitlines())
        assert extra and not set(base[rel].decode().splitlines()) - set(kit[rel].decode().splitlines())
    for rel, data in kit.items():
        assert b"BEGIN HOMEWORK" not in data and b"REFERENCE ONLY" not in data, rel
        if rel.endswith(".py"):
            ast.parse(data)


@pytest.mark.parametrize("homework", sorted(HOMEWORKS))
def test_a_homeworks_stubs_are_hw1p1s_plus_its_own_and_no_line_of_its_solution_ships(kits, homework):
    kit = kits[homework]
    stubs = kit_stubs(kit)
    assert set(stubs) == HANDOUT_STUBS | OPTIONAL_STUBS | HOMEWORKS[homework]["stubs"]
    title = make_handout.HOMEWORKS[homework].title
    for key in HOMEWORKS[homework]["stubs"]:
        assert f"your code here; see the {title} handout" in stubs[key], stubs[key]
    assert TODO_STUBS <= {("mytorch/autograd_engine.py", "Function.apply")}
    for rel in {path for path, _ in HOMEWORKS[homework]["stubs"]}:
        reference = (ROOT / rel).read_text()
        text = (kit / rel).read_text()
        lines = reference.splitlines()
        regions = [r for r in make_handout.find_regions(reference, rel) if r.homework == homework]
        inside = {n for r in regions for n in range(r.begin, r.end - 1)}
        given = {line.strip() for n, line in enumerate(lines) if n not in inside}
        distinctive = {lines[n].strip() for n in inside} - given
        distinctive = {line for line in distinctive if len(line) > 25 and not line.startswith("#")}
        assert distinctive, rel
        for line in distinctive:
            assert line not in text, (rel, line)


def test_the_bonus_stubs_name_their_task(bonus_kit):
    stubs = kit_stubs(bonus_kit)
    assert stubs["mytorch/optim/adam.py", "Adam.step"] == "Adam.step: your code here; see the HW1 bonus handout: Adam"
    assert stubs["mytorch/nn/dropout.py", "DropoutFunction.forward"].endswith("see the HW1 bonus handout: "
                                                                               "Dropout (forward)")
    assert "param._bump_version()" in (bonus_kit / "mytorch/optim/adam.py").read_text()  # given code stays


@pytest.mark.parametrize("homework", sorted(HOMEWORKS))
def test_the_bare_kit_imports_what_the_homeworks_graders_import(kits, homework):
    run = subprocess.run([sys.executable, "-c", IMPORTS[homework] + "; print('ok')"], cwd=kits[homework],
                         capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin"})
    assert run.returncode == 0 and run.stdout == "ok\n", run.stderr


def test_the_bare_bonus_kit_builds_its_layer_and_optimizer(bonus_kit):
    run = subprocess.run([sys.executable, "-c", textwrap.dedent("""
        from mytorch.nn import Dropout
        from mytorch.optim import Adam
        from mytorch import nn, optim
        layer = Dropout(0.3)
        print(layer.p, layer.is_train, "Dropout" in nn.__all__, "Adam" in optim.__all__)
        opt = Adam(nn.Linear(2, 3).parameters(), lr=0.01)
        print(opt.lr, opt.betas, opt.eps)
    """)], cwd=bonus_kit, capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin"})
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == ["0.3 True True True", "0.01 (0.9, 0.999) 1e-08"]


# ------------------------------------------------------------------ scores through the driver
@pytest.mark.parametrize("homework", sorted(HOMEWORKS))
def test_the_bare_kit_scores_zero(kits, homework):
    report = drive(kits[homework], homework)
    assert score(report) == 0
    assert all(failures for _, failures in report.values())
    assert sum(points for points, _ in report.values()) == HOMEWORKS[homework]["points"]


@pytest.mark.parametrize("homework", sorted(HOMEWORKS))
def test_hw1p1s_model_solution_alone_passes_only_what_needs_no_code_of_the_homework(tmp_path, homework):
    kit = build(tmp_path / "kit", homework, fill="hw1p1")
    report = drive(kit, homework)
    assert {pid for pid, (_, failures) in report.items() if not failures} == HOMEWORKS[homework]["hw1p1_only"]
    title = make_handout.HOMEWORKS[homework].title
    assert any(f"your code here; see the {title} handout" in failures[0]
               for _, failures in report.values() if failures)


@pytest.mark.parametrize("homework, seed", [("1b", 0), ("1b", 1), ("2", 0), ("3", 0), ("3", 1)])
def test_the_model_solution_in_a_fresh_kit_scores_full_marks(tmp_path, homework, seed):
    kit = build(tmp_path / "kit", homework, fill="all")
    report = drive(kit, homework, seed)
    assert {pid: failures for pid, (_, failures) in report.items() if failures} == {}
    assert score(report) == HOMEWORKS[homework]["points"]


# ------------------------------------------------------------------ the markers
def _blocks(source, path="mytorch/x.py"):
    errors = []
    found = make_handout.homework_blocks(textwrap.dedent(source), path, errors)
    return found, errors


def test_homework_blocks_pair_and_name_a_later_homework():
    found, errors = _blocks("""
        a = 1
        # BEGIN HOMEWORK 1b
        b = 2
        # END HOMEWORK 1b
        # BEGIN HOMEWORK 3
        c = 3
        # END HOMEWORK 3
    """)
    assert errors == [] and found == [(3, 5, "1b"), (6, 8, "3")]


@pytest.mark.parametrize("source, message", [
    ("# BEGIN HOMEWORK 7\nx = 1\n# END HOMEWORK 7\n", "malformed marker '# BEGIN HOMEWORK 7'"),
    ("# BEGIN HOMEWORK 1\nx = 1\n# END HOMEWORK 1\n", "the id one of 1b, 2, 3"),
    ("# begin homework 1b\nx = 1\n# END HOMEWORK 1b\n", "malformed marker"),
    ("# BEGIN HOMEWORK 1b\n# BEGIN HOMEWORK 2\n# END HOMEWORK 2\n", "cannot nest"),
    ("# BEGIN HOMEWORK 1b\nx = 1\n# END HOMEWORK 2\n", "closes the block of homework 1b opened at line 1"),
    ("x = 1\n# END HOMEWORK 2\n", "without a '# BEGIN HOMEWORK 2' before it"),
    ("# BEGIN HOMEWORK 2\nx = 1\n", "is never closed by '# END HOMEWORK 2'"),
])
def test_bad_homework_markers_are_named(source, message):
    _, errors = _blocks(source)
    assert any(message in e for e in errors), errors
    assert all(e.startswith("mytorch/x.py:") for e in errors)


def test_a_homework_block_in_a_later_homeworks_file_is_refused():
    _, errors = _blocks("# BEGIN HOMEWORK 2\nx = 1\n# END HOMEWORK 2\n", "mytorch/nn/dropout.py")
    assert any("a homework block in a file of homework 1b" in e for e in errors), errors


FILE_WITH_A_BLOCK = """\
def given(x):
    # BEGIN SOLUTION
    return x + 1
    # END SOLUTION
# BEGIN HOMEWORK 3


def later(x):
    # BEGIN SOLUTION
    return x * 2
    # END SOLUTION
# END HOMEWORK 3
"""


def test_a_region_in_a_homework_block_is_that_homeworks_and_only_its_kit_ships_it():
    path = "mytorch/x.py"
    regions = make_handout.find_regions(FILE_WITH_A_BLOCK, path)
    assert [(r.owner, r.homework) for r in regions] == [("given", "1"), ("later", "3")]
    blocks = make_handout.homework_blocks(FILE_WITH_A_BLOCK, path, [])
    hw1, shipped1 = make_handout.kit_text(FILE_WITH_A_BLOCK, regions, [], blocks, "1")
    assert [r.owner for r in shipped1] == ["given"]
    assert "later" not in hw1 and "HOMEWORK" not in hw1
    assert make_handout.kit_text(FILE_WITH_A_BLOCK, regions, [], blocks, "2")[0] == hw1
    hw3, shipped3 = make_handout.kit_text(FILE_WITH_A_BLOCK, regions, [], blocks, "3")
    assert [r.owner for r in shipped3] == ["given", "later"] and "HOMEWORK" not in hw3
    assert 'raise NotImplementedError("later in mytorch/x.py: your code here; see the HW3P1 handout")' in hw3
    assert "x * 2" not in hw3 and "x + 1" not in hw3
    ast.parse(hw3)


def test_a_region_straddling_a_homework_marker_or_a_block_overlapping_a_reference_only_one_is_refused():
    straddling = FILE_WITH_A_BLOCK.replace("    # END SOLUTION\n# END HOMEWORK 3\n",
                                           "# END HOMEWORK 3\n    # END SOLUTION\n")
    with pytest.raises(make_handout.HandoutError, match="straddles a marker of the homework 3 block"):
        make_handout.find_regions(straddling, "mytorch/x.py")
    overlapping = "x = 1\n# BEGIN REFERENCE ONLY\n# BEGIN HOMEWORK 2\ny = 2\n# END HOMEWORK 2\n# END REFERENCE ONLY\n"
    with pytest.raises(make_handout.HandoutError, match="overlaps the reference-only block 2-6"):
        make_handout.find_regions(overlapping, "mytorch/x.py")


def test_every_homeworks_problem_table_names_only_its_own_regions():
    for homework in make_handout.HOMEWORKS:
        files = make_handout.project_files(ROOT)
        if homework != "1" and not any(make_handout.homework_of(f) == homework for f in files):
            continue
        _, regions, _ = make_handout.plan(ROOT, homework)
        assert make_handout._unknown_tasks(homework, regions) == []
        own = [r for rs in regions.values() for r in rs if r.homework == homework]
        if homework != "1":
            assert own, homework
        # Every stub names its task (a region the table misses would only get the file's name).
        assert [f"{r.path}::{r.owner}" for r in own if r.section is None] == [], homework
    fake = {"mytorch/optim/adam.py": [make_handout.Region("mytorch/optim/adam.py", 1, 3, "", "Adam.zero_grad",
                                                          None, homework="1b")]}
    errors = make_handout._unknown_tasks("1b", fake)
    assert any("names a region 'Adam.step' in mytorch/optim/adam.py" in e for e in errors), errors


# ------------------------------------------------------------------ the command line
def run_tool(*args):
    return subprocess.run([sys.executable, str(ROOT / "tools" / "make_handout.py"), *map(str, args)],
                          cwd="/", capture_output=True, text=True, timeout=120)


def test_the_tool_builds_the_bonus_kit_and_lists_its_regions(tmp_path):
    run = run_tool(tmp_path / "kit", "--homework", "hw1b", "--allow-uncommitted")
    assert run.returncode == 0, run.stderr
    assert "(HW1 bonus's kit)" in run.stdout and "mytorch/optim/adam.py" not in run.stdout.split("left out")[1]
    assert (tmp_path / "kit" / "mytorch/optim/adam.py").is_file()
    check = run_tool("--check", "--homework", "1b")
    assert check.returncode == 0, check.stderr
    assert "mytorch/optim/adam.py: 1 region" in check.stdout
    assert any(line.split()[-3:] == ["HW1", "bonus:", "Adam"] for line in check.stdout.splitlines())


def test_the_tool_refuses_an_unknown_homework_and_one_without_files(tmp_path):
    run = run_tool(tmp_path / "kit", "--homework", "4")
    assert run.returncode == 1
    assert "unknown homework '4'; known: 1 (HW1P1), 1b (HW1 bonus), 2 (HW2P1), 3 (HW3P1)" in run.stderr
    project = tmp_path / "project"
    (project / "mytorch").mkdir(parents=True)
    (project / "mytorch" / "x.py").write_text("x = 1\n")
    run = run_tool("--source", project, "--check", "--homework", "2")
    assert run.returncode == 1
    assert "HW2P1 (homework 2) has none of its files in" in run.stderr
    assert "--homework" in run_tool("--help").stdout


def _fill_module():
    spec = importlib.util.spec_from_file_location("kit_fill", FILL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_fill_refuses_a_kit_of_another_homework_and_a_homework_without_a_model_solution(hw1_kit, monkeypatch):
    run = subprocess.run([sys.executable, str(FILL), str(hw1_kit), "--homework", "1b"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 1 and ".py: missing; is" in run.stderr  # no bonus file in HW1P1's kit
    fill = _fill_module()
    assert set(fill.homework_solution("1b")) == {f"{path}::{owner}" for path, owner in BONUS_STUBS}
    assert fill.homework_solution("1") == {}
    monkeypatch.setattr(fill, "HERE", hw1_kit)  # a folder without hw1b/solution.py
    with pytest.raises(fill.FillError, match="HW1 bonus has no model solution yet"):
        fill.homework_solution("1b")
