"""The autograder (./grade.sh 1) itself: full marks for the reference, the right
losses for broken code, and no way for student code to break or fool it.

Each mutation copies the project to a temporary folder, breaks one thing by
text replacement, grades the copy, and checks the whole score dict. The
grades run in parallel once per test session (the ``graded`` fixture).
"""
import ast
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from grader_tools import (COMPOSED, FULL_SCORES, ROOT, copy_project, grade, mutate, replace_solution, scores_of,
                          torch_blocker)

FORGED = '{"scores": {"1.1.1 Subtraction": 999}}'


def _first_statement(code):
    """A mutation that makes ``code`` the first statement of the function defined on the marker line."""
    return lambda line, indent: f"{line}\n{indent}    {code}"


# name: (file, class or None, marker, replacement, problems that lose their points,
#        what the report must say about them, extra grade.sh arguments)
MUTATIONS = {
    "sub_wrong_grad": (
        "mytorch/nn/functional.py", "Sub", "unbroadcast(-g, ctx.b_shape)",
        lambda line, indent: line.replace("unbroadcast(-g, ctx.b_shape)", "unbroadcast(g, ctx.b_shape)"),
        {"1.1.1 Subtraction"}, "Sub.backward(ctx, grad_output)[1] (gradient w.r.t. b", ()),
    "add_no_unbroadcast": (
        "mytorch/nn/functional.py", "Add", "def backward(ctx, grad_output):",
        _first_statement("return Tensor(grad_output.data), Tensor(grad_output.data)"),
        {"2.1 Linear"}, "Add.backward returned a gradient of shape", ()),
    "batchnorm_eval_uses_batch_stats": (
        "mytorch/nn/batchnorm.py", "BatchNorm1d", "def forward(self, x):",
        _first_statement("self.is_train = True"),
        {"2.4 BatchNorm"}, "in eval mode", ()),
    "momentum_sign_flipped": (
        "mytorch/optim/sgd.py", "SGD", "def step(self):",
        _first_statement("self.momentum = -abs(self.momentum)"),
        {"2.6 Momentum"}, "parameter after step 2 of SGD", ()),
    "mul_hangs": (
        "mytorch/nn/functional.py", "Mul", "def forward(ctx, a, b):",
        _first_statement("while True: pass"),
        {"1.1.2 Multiplication", "1.2 Autograd"}, "timed out after 5 s", ("--timeout", "5", "--jobs", "2")),
    "div_os_exit": (
        "mytorch/nn/functional.py", "Div", "def forward(ctx, a, b):",
        _first_statement("__import__('os')._exit(3)"),
        {"1.1.3 Division"}, "exited with code 3 without reporting", ()),
    "sub_segfault": (
        "mytorch/nn/functional.py", "Sub", "def backward(ctx, grad_output):",
        _first_statement("__import__('os').kill(__import__('os').getpid(), 11)"),
        {"1.1.1 Subtraction"}, "killed by signal SIGSEGV", ()),
    "div_sys_exit": (
        "mytorch/nn/functional.py", "Div", "def backward(ctx, grad_output):",
        _first_statement("__import__('sys').exit(0)"),
        {"1.1.3 Division"}, "your code called sys.exit(0)", ()),
    "forged_score_lines": (
        "mytorch/nn/functional.py", None, "from mytorch.tensor import Tensor",
        lambda line, indent: "\n".join([
            line, "import atexit as _atexit", f"_atexit.register(print, {FORGED!r})",
            "for _i in range(20000): print('noise', _i)", f"print({FORGED!r})",
            f"__import__('sys').stderr.write({FORGED!r} + '\\n')"]),
        set(), None, ("--verbose",)),
}


def _run_mutation(name, base):
    relpath, class_name, marker, replace, *_rest, extra = MUTATIONS[name]
    root = copy_project(base / name)
    mutate(root, relpath, marker, replace, class_name)
    return grade(root, *extra)


@pytest.fixture(scope="session")
def graded(tmp_path_factory):
    """Every grade this file checks, run in parallel: name -> CompletedProcess."""
    base = tmp_path_factory.mktemp("grader")
    jobs = {name: (_run_mutation, name, base) for name in MUTATIONS}

    def reference():
        # Torch blocked in the grader and all its children; run from another folder.
        return grade(ROOT, env=torch_blocker(base / "no_torch"), cwd=str(base))

    jobs["reference"] = (reference,)
    # The hang takes longest: start it first.
    order = ["mul_hangs"] + [n for n in jobs if n != "mul_hangs"]
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = {n: pool.submit(*jobs[n]) for n in order}
        return {n: f.result() for n, f in futures.items()}


def _check_finished(run):
    """The grader ran to the end: exit 0, a total, the note, then the JSON as the very last line."""
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    lines = run.stdout.rstrip("\n").splitlines()
    assert lines[-1].startswith('{"scores": ') and set(json.loads(lines[-1])["scores"]) == set(FULL_SCORES)
    assert lines[-2] == "Problem 3 (MNIST, 10 points) is not autograded: 100/110 is a full score here."
    assert lines[-3].startswith("Total score: ") and lines[-3].endswith("/110")
    assert run.stderr == ""
    return scores_of(run.stdout)


def test_reference_scores_full_marks_without_torch(graded):
    run = graded["reference"]
    assert _check_finished(run) == FULL_SCORES, run.stdout[-5000:]
    lines = run.stdout.splitlines()
    assert lines[-3] == "Total score: 100/110"
    assert lines[0] == f"Grading {ROOT} (11 problems, time limit 60 s each)"
    assert "[FAIL]" not in run.stdout


def test_torch_blocker_blocks_torch(tmp_path):
    # The reference test above proves nothing unless the blocker really blocks.
    run = subprocess.run([sys.executable, "-c", "import torch"], env=torch_blocker(tmp_path),
                         capture_output=True, text=True)
    assert run.returncode != 0 and "torch is blocked" in run.stderr


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_mutation_loses_exactly_its_points(graded, name):
    run = graded[name]
    lost, says = MUTATIONS[name][4], MUTATIONS[name][5]
    expected = {k: (0 if k in lost else v) for k, v in FULL_SCORES.items()}
    scores = _check_finished(run)
    assert scores == expected, run.stdout[-6000:]
    assert f"Total score: {sum(expected.values())}/110" in run.stdout
    if says:
        assert says in run.stdout, run.stdout[-6000:]
    # The copy was graded, not the project it was copied from.
    assert run.stdout.splitlines()[0].startswith(f"Grading {Path(run.args[0]).parent} ")


def test_forged_score_lines_never_count(graded):
    run = graded["forged_score_lines"]
    # Printed at import in every child, shown (with --verbose) but only as
    # indented, quoted output; atexit hooks of children never run.
    assert FORGED in run.stdout
    assert not any(line.strip() == FORGED for line in run.stdout.splitlines())
    assert scores_of(run.stdout) == FULL_SCORES
    # 20,000 lines of noise per problem are cut to a tail.
    assert "noise 19999" in run.stdout and "noise 100\n" not in run.stdout
    assert len(run.stdout.splitlines()) < 11 * (2 * 200 + 40)


def test_a_broken_autograder_exits_non_zero(tmp_path):
    root = copy_project(tmp_path / "project")
    mutate(root, "autograder/hw1_autograder/child.py", "def main(argv):",
           _first_statement("raise RuntimeError('the autograder is broken')"))
    run = grade(root, "--only", "1.1.1")
    assert run.returncode == 1
    assert "AUTOGRADER ERROR" in run.stdout and "RuntimeError: the autograder is broken" in run.stdout
    assert scores_of(run.stdout) == {"1.1.1 Subtraction": 0}
    assert "the autograder itself failed on problem(s) 1.1.1" in run.stderr


def test_timeout_shows_where_the_code_was_stuck(graded):
    out = graded["mul_hangs"].stdout
    section = out.split("[FAIL] 1.1.2 Multiplication")[1].split("[PASS]")[0]
    assert "Where your code was at the time:" in section
    assert 'File "mytorch/nn/functional.py"' in section and "in forward" in section


def test_failure_report_shows_expected_got_and_student_traceback(graded):
    out = graded["sub_wrong_grad"].stdout
    section = out.split("[FAIL] 1.1.1 Subtraction")[1].split("----")[0]
    assert "FAIL  Sub.forward and Sub.backward, called directly" in section
    assert "wrong values" in section and "expected: [[" in section and "got:      [[" in section
    out = graded["add_no_unbroadcast"].stdout
    section = out.split("[FAIL] 2.1 Linear")[1].split("----")[0]
    assert 'File "mytorch/autograd_engine.py"' in section  # trimmed to the student's files
    assert "harness.py" not in section and "site-packages" not in section


def test_only_timeout_seed_and_gradescope(tmp_path):
    results = tmp_path / "results.json"
    run = grade(ROOT, "--only", "1.1", "--only", "batchnorm", "--gradescope", str(results), "--seed", "7")
    assert run.returncode == 0, run.stderr
    assert scores_of(run.stdout) == {k: FULL_SCORES[k] for k in
                                     ("1.1.1 Subtraction", "1.1.2 Multiplication", "1.1.3 Division",
                                      "2.4 BatchNorm")}
    assert "Total score: 25/110 (only 1.1.1, 1.1.2, 1.1.3, 2.4 graded in this run)" in run.stdout
    report = json.loads(results.read_text())
    assert report["score"] == 25
    assert [t["name"] for t in report["tests"]] == ["1.1.1 Subtraction", "1.1.2 Multiplication",
                                                    "1.1.3 Division", "2.4 BatchNorm"]
    assert all(t["score"] == t["max_score"] and t["output"].startswith("[PASS]") for t in report["tests"])


@pytest.mark.parametrize("args, message", [
    (("--only", "9.9"), "--only '9.9' matches no problem"),
    (("--timeout", "0"), "--timeout must be a positive number"),
    (("--jobs", "0"), "--jobs must be at least 1"),
])
def test_bad_options_fail_with_a_clear_message(args, message):
    run = grade(ROOT, *args)
    assert run.returncode == 2 and message in run.stderr


@pytest.mark.parametrize("args", [(), ("2",)])
def test_grade_sh_without_a_known_autograder_points_to_the_usage(args):
    run = subprocess.run([str(ROOT / "grade.sh"), *args], cwd="/", capture_output=True, text=True)
    assert run.returncode == 2
    assert "(./grade.sh --help for usage)" in run.stderr and run.stdout == ""
    assert len(run.stderr.splitlines()) == 1


def test_grade_sh_m_runs_the_mnist_autograder(tmp_path):
    # A stand-in test_mnist.py in a copy: grade.sh must run it with the arguments, from the project folder.
    root = copy_project(tmp_path / "project")
    (root / "autograder/hw1_autograder/test_mnist.py").write_text(
        "import os, sys\nprint('MNIST', os.getcwd(), sys.argv[1:])\n")
    run = subprocess.run([str(root / "grade.sh"), "m", "--x"], cwd="/", capture_output=True, text=True)
    assert run.returncode == 0 and run.stdout == f"MNIST {root} ['--x']\n"


def _imports_torch(path):
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "torch" for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "torch":
            return True
        if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) in \
                ("__import__", "import_module") and any(
                    isinstance(a, ast.Constant) and str(a.value).split(".")[0] == "torch" for a in node.args):
            return True
    return False


def test_no_torch_import_in_the_autograder_or_mytorch():
    sources = [p for d in ("autograder", "mytorch", "hw1") for p in (ROOT / d).rglob("*.py")]
    assert len(sources) > 10
    assert [str(p) for p in sources if _imports_torch(p)] == []


def test_a_differently_written_solution_scores_full_marks(tmp_path):
    root = copy_project(tmp_path / "composed")
    for (relpath, owner), body in COMPOSED.items():
        replace_solution(root, relpath, owner, body)
    run = grade(root, "--jobs", "2")
    assert _check_finished(run) == FULL_SCORES, run.stdout[-6000:]
