"""Helpers for testing the autograder: copy the project, mutate the copy, grade it.

Mutations are text replacements located by a marker that must exist exactly
once in the named class (or file), so a test fails loudly when the source it
mutates has changed, instead of silently grading an unmutated copy.
"""
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROJECT_PARTS = ("mytorch", "hw1", "autograder", "grade.sh", "create_tarball.sh")


def _load(name, relpath):
    """The module at ``relpath`` of the project, by file (tools/ and the autograder are not packages)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / relpath)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


make_handout = _load("make_handout", "tools/make_handout.py")  # the starter-code generator
problems = _load("hw1_problems", "autograder/hw1_autograder/problems.py")  # the problem table
never_shipped = _load("hw1_submission", "autograder/hw1_autograder/submission.py")  # reads never_shipped.txt

# A sitecustomize that makes ``import torch`` fail in every Python process
# that has its folder on PYTHONPATH, the grader's children included.
BLOCK_TORCH = '''\
import sys


class _BlockTorch:
    """Refuse to import torch: the autograder must grade without it."""

    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("torch is blocked here: the autograder must not import it")
        return None


sys.meta_path.insert(0, _BlockTorch())
'''


def copy_project(dest):
    """Copy the project's gradable parts to ``dest`` (no caches, no data files); return ``dest``."""
    dest = Path(dest)
    ignore = shutil.ignore_patterns(*never_shipped.NEVER_SHIPPED)
    for part in PROJECT_PARTS:
        src = ROOT / part
        if src.is_dir():
            shutil.copytree(src, dest / part, ignore=ignore)
        elif src.exists():
            shutil.copy2(src, dest / part)
    return dest


def _class_span(text, class_name):
    start = text.find(f"\nclass {class_name}(")
    assert start >= 0, f"mutation: class {class_name} not found"
    end = text.find("\nclass ", start + 1)
    return start, (len(text) if end < 0 else end)


def mutate(root, relpath, marker, replace, class_name=None):
    """Replace the one line containing ``marker`` (in ``class_name``, if given).

    ``replace(line, indent)`` returns the new text for that line (without
    its newline); ``indent`` is the line's leading whitespace.
    """
    path = Path(root) / relpath
    text = path.read_text()
    start, end = _class_span(text, class_name) if class_name else (0, len(text))
    region = text[start:end]
    lines = region.split("\n")
    hits = [i for i, line in enumerate(lines) if marker in line]
    where = f"{relpath}" + (f", class {class_name}" if class_name else "")
    assert len(hits) == 1, (f"mutation marker {marker!r} found {len(hits)} times in {where} (expected once): "
                            "the source changed, update the mutation")
    line = lines[hits[0]]
    indent = re.match(r"\s*", line).group(0)
    lines[hits[0]] = replace(line, indent)
    path.write_text(text[:start] + "\n".join(lines) + text[end:])


def torch_blocker(folder):
    """Write the torch-blocking sitecustomize into ``folder``; return the env to use it."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(BLOCK_TORCH)
    env = dict(os.environ)
    env["PYTHONPATH"] = str(folder) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def grade(root, *args, env=None, cwd=None, timeout=300):
    """Run ``root/grade.sh 1 args`` from another folder; return the CompletedProcess."""
    env = dict(os.environ if env is None else env)
    env["PYTHON"] = sys.executable  # the interpreter running the tests, with numpy
    return subprocess.run([str(Path(root) / "grade.sh"), "1", *args], cwd=cwd or "/", env=env,
                          capture_output=True, text=True, timeout=timeout)


def scores_of(output):
    """The Autolab scores from the last line of the grader's output."""
    last = output.rstrip("\n").splitlines()[-1]
    return json.loads(last)["scores"]


# What the reference scores: every problem's full points, from the problem table.
FULL_SCORES = {p.name: p.points for p in problems.PROBLEMS}


def replace_solution(root, relpath, owner, new_body):
    """Replace the solution region of function ``owner`` ("Class.method" or "function") with ``new_body``.

    ``new_body`` is unindented code; it takes the region's indentation. Used to
    grade other correct ways of writing a solution, as a student might. The
    region is found by the starter-code tool, tools/make_handout.py.
    """
    path = Path(root) / relpath
    text = path.read_text()
    regions = [r for r in make_handout.find_regions(text, relpath) if r.owner == owner]
    assert len(regions) == 1, f"replace_solution: {len(regions)} solution regions in {owner} ({relpath}), expected 1"
    region = regions[0]
    lines = text.splitlines(keepends=True)
    body = [region.indent + line + "\n" for line in new_body.strip("\n").splitlines()]
    lines[region.begin - 1:region.end] = body
    path.write_text("".join(lines))


# A solution written the way the handout suggests, from elementary operations
# and a recursive DFS: the grader must give it full marks too (its checks must
# not depend on how the reference happens to be written). These are the
# regions of the model student solution (tools/model_solution/solution.py)
# where it differs in kind from the reference: the engine and the layers the
# reference fuses.
model_solution = _load("model_solution", "tools/model_solution/solution.py")
COMPOSED = {(path, owner): model_solution.REGIONS[f"{path}::{owner}"] for path, owner in (
    ("mytorch/autograd_engine.py", "backward"),
    ("mytorch/nn/linear.py", "Linear.forward"),
    ("mytorch/nn/batchnorm.py", "BatchNorm1d.forward"),
    ("mytorch/nn/functional.py", "cross_entropy"),
)}


def compose(root, overrides=None):
    """Write the handout-style solution (COMPOSED, then ``overrides``) into the project at ``root``."""
    for (relpath, owner), body in {**COMPOSED, **(overrides or {})}.items():
        replace_solution(root, relpath, owner, body)
    return root
