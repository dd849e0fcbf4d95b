"""The student kit is the handout's assignment: its stubs, its given code, and a model solution.

A kit is generated with tools/make_handout.py; the model student solution in
tools/model_solution/ (written the handout's way: recursive DFS, layers
composed from elementary operations, plain SGD loop) is filled into it with
tools/model_solution/fill.py and graded.
"""
import ast
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from grader_tools import FULL_SCORES, ROOT, grade, make_handout, scores_of

FILL = ROOT / "tools" / "model_solution" / "fill.py"
RAISE = re.compile(r'^\s*raise NotImplementedError\("([^"]*)"\)$')

# Every stub of the kit: (file, function). The handout's tasks, plus the
# elementary operations a student may choose to write (OPTIONAL_STUBS).
HANDOUT_STUBS = {
    ("mytorch/tensor.py", "Tensor.__sub__"), ("mytorch/tensor.py", "Tensor.__mul__"),
    ("mytorch/tensor.py", "Tensor.__truediv__"), ("mytorch/tensor.py", "Tensor.backward"),
    ("mytorch/autograd_engine.py", "backward"),
    ("mytorch/nn/functional.py", "Sub.forward"), ("mytorch/nn/functional.py", "Sub.backward"),
    ("mytorch/nn/functional.py", "Mul.forward"), ("mytorch/nn/functional.py", "Mul.backward"),
    ("mytorch/nn/functional.py", "Div.forward"), ("mytorch/nn/functional.py", "Div.backward"),
    ("mytorch/nn/functional.py", "unbroadcast"),
    ("mytorch/nn/functional.py", "MatMul.forward"), ("mytorch/nn/functional.py", "MatMul.backward"),
    ("mytorch/nn/functional.py", "ReLU.forward"), ("mytorch/nn/functional.py", "ReLU.backward"),
    ("mytorch/nn/functional.py", "cross_entropy"),
    ("mytorch/nn/activations.py", "ReLU.forward"), ("mytorch/nn/sequential.py", "Sequential.forward"),
    ("mytorch/nn/linear.py", "Linear.forward"), ("mytorch/nn/batchnorm.py", "BatchNorm1d.forward"),
    ("mytorch/optim/sgd.py", "SGD.step"),
    ("hw1/mnist.py", "mnist"), ("hw1/mnist.py", "train"), ("hw1/mnist.py", "validate"),
}
OPTIONAL_STUBS = {("mytorch/nn/functional.py", f"{op}.{method}")
                  for op in ("Sum", "Pow", "Exp", "Neg") for method in ("forward", "backward")}
# Function.apply's region becomes step-by-step comments: its given code runs the forward.
TODO_STUBS = {("mytorch/autograd_engine.py", "Function.apply")}

# What only the reference has: never in the kit's code or texts.
REFERENCE_ONLY_WORDS = ("topological_sort", "fresh_grad", "_fresh", "LinearFunction", "BatchNormFunction",
                        "CrossEntropyFunction", "hand-derived", "topological order", "REFERENCE ONLY",
                        "_sum_rows", "_add_into", "BEGIN SOLUTION", "END SOLUTION")


def build_kit(folder, *fill_args):
    """A fresh kit in ``folder``, with the model solution filled in when ``fill_args`` is given."""
    make_handout.make_handout(ROOT, folder, allow_uncommitted=True)  # the code under test, committed or not
    if fill_args != (None,):
        run = subprocess.run([sys.executable, str(FILL), str(folder), *[a for a in fill_args if a]],
                             capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr
    return Path(folder)


def run_in(kit, code):
    """Run ``code`` with Python in ``kit`` (its mytorch first on the path); return the CompletedProcess."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=kit, capture_output=True,
                          text=True, timeout=120, env={"PYTHONPATH": str(kit), "PATH": "/usr/bin:/bin"})


@pytest.fixture(scope="module")
def bare_kit(tmp_path_factory):
    return build_kit(tmp_path_factory.mktemp("kit") / "bare", None)


@pytest.fixture(scope="module")
def solved_kit(tmp_path_factory):
    return build_kit(tmp_path_factory.mktemp("kit") / "solved")


def kit_stubs(kit):
    """{(file, function): message} of every raising stub in the kit's Python files."""
    found = {}
    for path in sorted(kit.rglob("*.py")):
        rel = path.relative_to(kit).as_posix()
        source = path.read_text()
        functions = []
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ClassDef):
                functions += [(f"{node.name}.{f.name}", f) for f in node.body if isinstance(f, ast.FunctionDef)]
            elif isinstance(node, ast.FunctionDef) and node.col_offset == 0:
                functions.append((node.name, node))
        for n, line in enumerate(source.splitlines(), 1):
            match = RAISE.match(line)
            if match and "your code here" in match.group(1):
                owner = max((f for f in functions if f[1].lineno <= n <= f[1].end_lineno),
                            key=lambda f: f[1].lineno)[0]
                found[rel, owner] = match.group(1)
    return found


def test_the_kits_stubs_are_exactly_the_handouts_tasks_plus_optional_operations(bare_kit):
    stubs = kit_stubs(bare_kit)
    assert set(stubs) == HANDOUT_STUBS | OPTIONAL_STUBS
    for key, message in stubs.items():
        optional = "optional: you may need this for handout §2." in message
        assert optional == (key in OPTIONAL_STUBS), (key, message)


def test_function_apply_is_a_todo_list_after_given_code_that_runs_the_forward(bare_kit):
    source = (bare_kit / "mytorch/autograd_engine.py").read_text()
    start = source.index("    def apply(cls, *args):")
    apply = source[start:source.index("        return output\n", start)]
    assert "raise NotImplementedError" not in apply
    assert "output = cls.forward(backward_function.ctx, *args)" in apply
    for step in ("1. For each argument", "AccumulateGrad", "grad_fn", "2. If any", "3. and store the node",
                 "A result of constants only stays a constant: grad_fn None"):
        assert step in apply, step
    assert "if not grad_mode._grad_enabled:" in apply  # no_grad() enforced by given code


def test_the_kit_holds_nothing_of_the_reference_only_code(bare_kit):
    for path in list(bare_kit.rglob("*.py")) + [bare_kit / "README.md", bare_kit / "pyproject.toml"]:
        text = path.read_text()
        for word in REFERENCE_ONLY_WORDS:
            assert word not in text, f"{path.relative_to(bare_kit)} holds {word!r}"
    assert not (bare_kit / "tools" / "model_solution").exists()


def test_the_kit_describes_the_recursive_dfs_and_composed_layers(bare_kit):
    engine = (bare_kit / "mytorch/autograd_engine.py").read_text()
    assert "recursive depth-first search" in engine and "base cases" in engine
    assert "x @ self.weight.T() + self.bias" in (bare_kit / "mytorch/nn/linear.py").read_text()
    batchnorm = (bare_kit / "mytorch/nn/batchnorm.py").read_text()
    assert "Sum" in batchnorm and "unbiased variance" in batchnorm
    functional = (bare_kit / "mytorch/nn/functional.py").read_text()
    assert "LogSumExp" in functional and "Compose it from tensor operations" in functional
    assert "lr=0.1, momentum=0.9" in (bare_kit / "hw1/mnist.py").read_text()
    sandbox = (bare_kit / "sandbox.py").read_text()
    assert '(handout §0.3.3: "write your own tests for these' in sandbox and "handout §2:" not in sandbox


def test_the_bare_kit_imports_and_operations_give_values_before_part_1_2(bare_kit):
    run = run_in(bare_kit, """
        import numpy as np
        import mytorch
        from mytorch import Tensor, nn, optim, no_grad
        from mytorch.nn import functional as F
        from mytorch.autograd_engine import backward, Function, AccumulateGrad
        from teaching import gradcheck, trace, viz, handout_graph
        import hw1.mnist
        a = Tensor([1., 2.], requires_grad=True)
        c = a + Tensor([3., 4.])
        print(c.data.tolist(), c.requires_grad, c.grad_fn)
        print((a + 1.0).data.tolist())
        print(F.unbroadcast(np.ones((3, 4)), ()).tolist(), F.unbroadcast(np.ones((3, 4)), (1, 1)).tolist())
        try:
            a - a
        except NotImplementedError as err:
            print(err)
    """)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [
        "[4.0, 6.0] False None", "[2.0, 3.0]", "12.0 [[12.0]]",
        "Tensor.__sub__: your code here; see handout §1.1.1 Subtract"]


def test_the_kits_pyproject_names_no_tests_folder(bare_kit):
    assert "testpaths" not in (bare_kit / "pyproject.toml").read_text()
    assert 'testpaths = ["tests"]' in (ROOT / "pyproject.toml").read_text()


def test_the_bare_kit_grades_zero(bare_kit):
    run = grade(bare_kit)
    assert scores_of(run.stdout) == {name: 0 for name in FULL_SCORES}, run.stdout[-3000:]
    assert "[PASS] Addition" in run.stdout


def test_the_model_solution_scores_full_marks(solved_kit):
    run = grade(solved_kit)
    assert scores_of(run.stdout) == FULL_SCORES, run.stdout[-3000:]


def test_the_model_solution_builds_no_graph_under_no_grad_and_runs_the_sandbox(solved_kit):
    run = run_in(solved_kit, """
        from mytorch import Tensor, no_grad
        a = Tensor([1., 2.], requires_grad=True)
        with no_grad():
            y = a * a + 1.0
        print(y.requires_grad, y.is_leaf, y.grad_fn)
        z = (a * a + 1.0).sum()
        z.backward()
        print(a.grad.data.tolist())
    """)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == ["False True None", "[2.0, 4.0]"]
    sandbox = subprocess.run([sys.executable, "sandbox.py"], cwd=solved_kit, capture_output=True,
                             text=True, timeout=120)
    assert sandbox.returncode == 0 and "All sandbox checks passed." in sandbox.stdout, sandbox.stdout[-2000:]


def test_no_grad_is_enforced_by_given_code_whatever_the_region_links(solved_kit):
    """The model's Function.apply, like the handout's, never looks at no_grad(); no graph inside it."""
    solution = (ROOT / "tools/model_solution/solution.py").read_text()
    assert "no_grad" not in solution.split('"mytorch/autograd_engine.py::Function.apply"')[1].split('""",')[0]
    run = run_in(solved_kit, """
        from mytorch import Tensor, no_grad, nn
        model = nn.Linear(3, 2)
        with no_grad():
            out = model(Tensor([[1., 2., 3.]]))
        print(out.requires_grad, out.is_leaf, out.grad_fn)
    """)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["False", "True", "None"]


def test_the_model_solution_with_leaf_nodes_stored_in_grad_fn_scores_full_marks(tmp_path):
    kit = build_kit(tmp_path / "kit", "--variant", "stored-leaf-nodes")
    run = grade(kit)
    assert scores_of(run.stdout) == FULL_SCORES, run.stdout[-3000:]


@pytest.mark.parametrize("variant", ["faithful-backward", "faithful-backward-stored-leaf-nodes"])
def test_the_handouts_own_tensor_backward_scores_full_marks(tmp_path, variant):
    """backward(self.grad_fn, Tensor.ones(...)) with a DFS that returns on None (handout §0.1.5, §1.2).

    backward() on a leaf no operation has used is not in the handout: it is a 0-point note.
    """
    kit = build_kit(tmp_path / "kit", "--variant", variant)
    run = grade(kit)
    assert scores_of(run.stdout) == FULL_SCORES, run.stdout[-3000:]
    if variant == "faithful-backward":
        assert "note  (0 points, not in the handout) x.backward() on a leaf no operation has used" in run.stdout
        assert "costs no points" in run.stdout


def test_a_kit_with_only_part_1_1_done_scores_15_for_it(tmp_path):
    kit = build_kit(tmp_path / "kit", "--only", "1.1")
    run = grade(kit)
    scores = scores_of(run.stdout)
    assert {k: v for k, v in scores.items() if k.startswith("1.1")} == \
        {"1.1.1 Subtraction": 5, "1.1.2 Multiplication": 5, "1.1.3 Division": 5}, run.stdout[-3000:]
    assert sum(scores.values()) == 15


def test_a_kit_with_part_1_done_runs_the_sandboxs_part_1_sections(tmp_path):
    """x + 1.0 and x / (x + 1) work before §2.1 (unbroadcast's number case is given)."""
    kit = build_kit(tmp_path / "kit", "--only", "1")
    run = subprocess.run([sys.executable, "sandbox.py"], cwd=kit, capture_output=True, text=True, timeout=120)
    assert "ok        x / (x + 1): autograd gradient == finite differences" in run.stdout, run.stdout[-3000:]
    assert "a.grad = Tensor(3.)   b.grad = None   c.grad = Tensor(1.)" in run.stdout
    assert "Step 8: AccumulateGrad of c receives 1: c.grad: None -> 1" in run.stdout  # the DFS's own order
    failed = run.stdout.splitlines()[-1]
    assert failed.startswith("3 check(s) failed: ") and failed.count("(Part 2: needs") == 3, failed
    assert "MISMATCH" not in run.stdout


def test_fill_refuses_what_is_not_a_kit_and_unknown_variants(tmp_path):
    run = subprocess.run([sys.executable, str(FILL), str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 1 and "missing; is" in run.stderr and "a kit made by tools/make_handout.py" in run.stderr
    kit = build_kit(tmp_path / "kit", None)
    (kit / "mytorch/nn/sequential.py").write_text((kit / "mytorch/nn/sequential.py").read_text()
                                                  .replace("raise NotImplementedError(", "return None  # ("))
    run = subprocess.run([sys.executable, str(FILL), str(kit)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 1
    assert "the stub of Sequential.forward occurs 0 times, expected once" in run.stderr
    # Nothing was written: the other stubs are still there.
    assert "raise NotImplementedError" in (kit / "mytorch/nn/functional.py").read_text()
