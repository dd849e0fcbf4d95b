"""Every command-line script: --help, bad arguments, and the set-up checks of grade.sh and sandbox.py.

Conventions tested here (issue 21): ``--help`` prints a usage and exits 0;
a bad argument is refused with an error line and exit status 2, never a
traceback; numeric options are validated; the student scripts find the
project's ``.venv`` when it is not active, and without NumPy say in one line
how to set up (never a 0/110 made of import errors).
"""
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grader_tools import copy_project

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable

# (command, the name its usage and errors start with). Commands run from a scratch folder.
SCRIPTS = {
    "grade.sh": ([str(ROOT / "grade.sh")], "./grade.sh"),
    "create_tarball.sh": ([str(ROOT / "create_tarball.sh")], "./create_tarball.sh"),
    "sandbox.py": ([PY, str(ROOT / "sandbox.py")], "sandbox.py"),
    "draw_handout_graph.py": ([PY, str(ROOT / "teaching/draw_handout_graph.py")], "draw_handout_graph.py"),
    "runner.py": ([PY, str(ROOT / "autograder/hw1_autograder/runner.py")], "runner.py"),
    "child.py": ([PY, str(ROOT / "autograder/hw1_autograder/child.py")], "child.py"),
    "test_mnist.py": ([PY, str(ROOT / "autograder/hw1_autograder/test_mnist.py")], "test_mnist.py"),
    "prepare.py": ([PY, str(ROOT / "autograder/hw1_autograder/data/prepare.py")], "prepare.py"),
    "grade_submission.py": ([PY, str(ROOT / "autograder/hw1_autograder/grade_submission.py")],
                            "grade_submission.py"),
    "bench_epoch.py": ([PY, str(ROOT / "bench/bench_epoch.py")], "bench_epoch.py"),
    "make_handout.py": ([PY, str(ROOT / "tools/make_handout.py")], "make_handout.py"),
    "make_autograder.py": ([PY, str(ROOT / "tools/make_autograder.py")], "make_autograder.py"),
    "fill.py": ([PY, str(ROOT / "tools/model_solution/fill.py")], "fill.py"),
}
# bench/mnist_torch.py is PyTorch's twin of the MNIST run: it needs torch (a development dependency).
if importlib.util.find_spec("torch") is not None:
    SCRIPTS["mnist_torch.py"] = ([PY, str(ROOT / "bench/mnist_torch.py")], "mnist_torch.py")


def run(command, cwd, env=None, timeout=120):
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def assert_refused(done, prog, expected=""):
    """Exit status 2, an error line naming the script (and ``expected``), no traceback."""
    assert done.returncode == 2, (done.returncode, done.stdout[-500:], done.stderr[-500:])
    assert "Traceback" not in done.stderr + done.stdout
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(prog.lstrip("./")), last
    assert expected in last, last


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_help_prints_a_usage_and_exits_0(tmp_path, name):
    command, prog = SCRIPTS[name]
    done = run(command + ["--help"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-1000:]
    assert done.stdout.startswith(f"usage: {prog}"), done.stdout[:200]
    assert done.stderr == ""
    assert list(tmp_path.iterdir()) == []  # --help does nothing else (no folder named --help)


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_an_unknown_option_is_refused_with_exit_2(tmp_path, name):
    command, prog = SCRIPTS[name]
    args = {"grade.sh": ["1", "--no-such-option"], "grade_submission.py": ["autolab", "--no-such-option"],
            "child.py": ["--no-such-option", "1", "2"]}.get(name, ["--no-such-option"])
    done = run(command + args, cwd=tmp_path)
    assert_refused(done, "runner.py" if name == "grade.sh" else prog)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name, args, expected", [
    ("grade.sh", [], "which autograder? give 1"),
    ("grade.sh", ["2"], "unknown autograder '2'; expected 1 or m"),
    ("runner.py", ["--only", "9.9"], "--only '9.9' matches no problem"),
    ("runner.py", ["--timeout", "0"], "--timeout must be a positive number of seconds, got 0"),
    ("runner.py", ["--timeout", "inf"], "--timeout must be a positive number of seconds, got inf"),
    ("runner.py", ["--jobs", "0"], "--jobs must be at least 1, got 0"),
    ("runner.py", ["--seed", "-1"], "--seed must be an integer from 0 to"),
    ("runner.py", ["--timeout", "soon"], "argument --timeout: invalid float value: 'soon'"),
    ("test_mnist.py", ["--train-size", "0"], "--train-size must be at least 1, got 0"),
    ("test_mnist.py", ["--seed", "-1"], "--seed must be an integer from 0 to 4294967295, got -1"),
    ("bench_epoch.py", ["--rows", "-5"], "--rows must be at least 1000 (the largest batch), got -5"),
    ("bench_epoch.py", ["--rounds", "0"], "--rounds must be at least 1, got 0"),
    ("child.py", ["a", "b"], "REQUESTS_FD and REPLIES_FD must be file descriptor numbers"),
    ("child.py", [], "expected 2 arguments, got 0"),
    ("sandbox.py", ["extra"], "unrecognized arguments: extra"),
    ("create_tarball.sh", ["extra"], "takes no arguments, got 'extra'"),
    ("draw_handout_graph.py", ["a", "b"], "unrecognized arguments: b"),
    ("make_autograder.py", ["/dev/null"], "OUT_DIR /dev/null is a file, not a folder"),
    ("fill.py", ["/no/such/kit"], "KIT /no/such/kit is not a folder"),
    ("mnist_torch.py", ["--threads", "0"], "--threads must be at least 1, got 0"),
])
def test_bad_values_are_refused_with_one_line(tmp_path, name, args, expected):
    if name not in SCRIPTS:
        pytest.skip(f"{name} needs torch")
    command, prog = SCRIPTS[name]
    done = run(command + args, cwd=tmp_path)
    assert_refused(done, prog, expected)
    assert list(tmp_path.iterdir()) == []


def test_grade_sh_says_how_many_problems_with_the_right_plural():
    env = dict(os.environ, PYTHON=PY)
    done = run([str(ROOT / "grade.sh"), "1", "--only", "0"], cwd="/", env=env)
    assert done.returncode == 0, done.stderr
    assert "(1 problem, time limit 60 s each)" in done.stdout.splitlines()[0]


def test_draw_handout_graph_writes_into_the_folder_it_is_given(tmp_path):
    done = run(SCRIPTS["draw_handout_graph.py"][0] + ["out"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["handout_graph.png",
                                                                   "handout_graph_backward.png"]


# ------------------------------------------------------- which Python, NumPy
@pytest.fixture(scope="module")
def bare_python(tmp_path_factory):
    """A real Python without NumPy: a virtual environment with nothing installed."""
    venv = tmp_path_factory.mktemp("bare") / "venv"
    subprocess.run([PY, "-m", "venv", "--without-pip", str(venv)], check=True, capture_output=True)
    python = venv / "bin" / "python"
    assert run([str(python), "-c", "import numpy"], cwd="/").returncode != 0
    return python


def fake_venv(project):
    """``project/.venv/bin/python``: runs the Python running the tests (it has NumPy)."""
    python = project / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(f'#!/bin/sh\nexec "{PY}" "$@"\n')
    python.chmod(0o755)


def _env_without_venv(**extra):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHON", "VIRTUAL_ENV")}
    env.update(extra)
    return env


@pytest.mark.parametrize("target", ["1", "m"])
def test_grade_sh_without_numpy_says_how_to_set_up_in_one_line(tmp_path, bare_python, target):
    root = copy_project(tmp_path / "project")
    done = run([str(root / "grade.sh"), target], cwd="/", env=_env_without_venv(PYTHON=str(bare_python)))
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.splitlines() == [
        f"grade.sh: NumPy is not installed for {bare_python}; set up first: python3 -m venv .venv && "
        '.venv/bin/python -m pip install -e .   (README.md, "Set up")']


def test_grade_sh_uses_the_projects_venv_when_it_is_not_active(tmp_path):
    root = copy_project(tmp_path / "project")
    fake_venv(root)  # a .venv with NumPy
    path = os.pathsep.join([str(tmp_path / "empty-bin"), "/usr/bin", "/bin"])  # python3 here may lack NumPy
    done = run([str(root / "grade.sh"), "1", "--only", "1.1.1"], cwd="/", env=_env_without_venv(PATH=path))
    assert done.returncode == 0, done.stderr
    assert "Total score: 5/110" in done.stdout
    # An active virtual environment wins over the project's .venv: its python3 is first on PATH.
    active = tmp_path / "active" / "bin"
    active.mkdir(parents=True)
    (active / "python3").write_text('#!/bin/sh\necho "active venv python3 $*"\n')
    (active / "python3").chmod(0o755)
    done = run([str(root / "grade.sh"), "1", "--only", "1.1.1"], cwd="/",
               env=_env_without_venv(PATH=f"{active}{os.pathsep}{path}", VIRTUAL_ENV=str(active.parent)))
    assert done.stdout == "active venv python3 autograder/hw1_autograder/runner.py --only 1.1.1\n"


def test_sandbox_without_numpy_switches_to_the_projects_venv(tmp_path, bare_python):
    project = tmp_path / "project"
    project.mkdir()
    for part in ("sandbox.py", "mytorch", "teaching"):
        src = ROOT / part
        (shutil.copytree if src.is_dir() else shutil.copy)(src, project / part)
    done = run([str(bare_python), "sandbox.py"], cwd=project)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.splitlines() == [
        f"sandbox.py: NumPy is not installed for {bare_python}; set up first: python3 -m venv .venv && "
        ".venv/bin/python -m pip install -e ."]
    fake_venv(project)
    done = run([str(bare_python), "sandbox.py"], cwd=project)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith("All sandbox checks passed.")
