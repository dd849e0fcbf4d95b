"""The autograder's own expected answers (reference.py) and its checking helpers (harness.py).

The grader is only as right as its NumPy formulas: they are checked here
against finite differences and against PyTorch, and the helpers that compare
and report are checked to fail, and to say why, when they should.
"""
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

AUTOGRADER = Path(__file__).resolve().parents[1] / "autograder" / "hw1_autograder"


def _load(name):
    """Import an autograder module under a private name, without putting its folder on sys.path
    (its test_*.py files would shadow the project's tests of the same name)."""
    spec = importlib.util.spec_from_file_location(f"_grader_{name}", AUTOGRADER / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


harness = _load("harness")
problems = _load("problems")
ref = _load("reference")

EPS = 1e-5


def _fd(f, x):
    return harness.central_difference(f, x)


# ------------------------------------------------------------ the formulas
def test_linear_backward_matches_finite_differences(rng):
    x, w, b = rng.normal(size=(4, 3)), rng.normal(size=(2, 3)), rng.normal(size=2)
    g = rng.normal(size=(4, 2))
    dx, dw, db = ref.linear_backward(x, w, g)
    np.testing.assert_allclose(dx, _fd(lambda v: ref.linear(v, w, b) * g, x), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(dw, _fd(lambda v: ref.linear(x, v, b) * g, w), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(db, _fd(lambda v: ref.linear(x, w, v) * g, b), rtol=1e-6, atol=1e-8)


def test_batchnorm_backward_matches_finite_differences(rng):
    x, gamma, beta = rng.normal(1, 2, size=(6, 3)), rng.uniform(0.5, 1.5, 3), rng.normal(size=3)
    g = rng.normal(size=(6, 3))
    dx, dgamma, dbeta = ref.batchnorm_train_backward(x, gamma, g)
    out = lambda x_, gamma_, beta_: ref.batchnorm_train(x_, gamma_, beta_)[0] * g  # noqa: E731
    np.testing.assert_allclose(dx, _fd(lambda v: out(v, gamma, beta), x), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(dgamma, _fd(lambda v: out(x, v, beta), gamma), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(dbeta, _fd(lambda v: out(x, gamma, v), beta), rtol=1e-5, atol=1e-7)


def test_cross_entropy_grad_matches_finite_differences_and_is_stable(rng):
    logits, labels = rng.normal(size=(5, 4)), rng.integers(0, 4, 5)
    np.testing.assert_allclose(ref.cross_entropy_grad(logits, labels),
                               _fd(lambda v: ref.cross_entropy(v, labels), logits), rtol=1e-6, atol=1e-9)
    big = logits + 1000.0
    assert np.isfinite(ref.cross_entropy(big, labels))
    np.testing.assert_allclose(ref.cross_entropy(big, labels), ref.cross_entropy(logits, labels), rtol=1e-9)


def test_relu_derivative_at_zero_is_zero():
    z = np.array([-1.0, 0.0, 2.0])
    np.testing.assert_array_equal(ref.relu(z), [0.0, 0.0, 2.0])
    np.testing.assert_array_equal(ref.relu_grad(z), [0.0, 0.0, 1.0])


def test_reference_layers_match_torch(torch, rng):
    x = rng.normal(size=(7, 4))
    w, b = rng.normal(size=(3, 4)), rng.normal(size=3)
    tx = torch.tensor(x, requires_grad=True)
    tw, tb = torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True)
    g = rng.normal(size=(7, 3))
    (torch.nn.functional.linear(tx, tw, tb) * torch.tensor(g)).sum().backward()
    for got, want in zip(ref.linear_backward(x, w, g), (tx.grad, tw.grad, tb.grad)):
        np.testing.assert_allclose(got, want.numpy(), rtol=1e-10)

    gamma, beta = rng.uniform(0.5, 1.5, 4), rng.normal(size=4)
    bn = torch.nn.BatchNorm1d(4, dtype=torch.float64)
    with torch.no_grad():
        bn.weight.copy_(torch.tensor(gamma))
        bn.bias.copy_(torch.tensor(beta))
    tx = torch.tensor(x, requires_grad=True)
    g = rng.normal(size=(7, 4))
    out = bn(tx)
    (out * torch.tensor(g)).sum().backward()
    y, mean, _, unbiased = ref.batchnorm_train(x, gamma, beta)
    np.testing.assert_allclose(y, out.detach().numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ref.update_running(np.zeros(4), mean), bn.running_mean.numpy(), rtol=1e-12)
    np.testing.assert_allclose(ref.update_running(np.ones(4), unbiased), bn.running_var.numpy(), rtol=1e-12)
    dx, dgamma, dbeta = ref.batchnorm_train_backward(x, gamma, g)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(dgamma, bn.weight.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(dbeta, bn.bias.grad.numpy(), rtol=1e-12)
    bn.eval()
    np.testing.assert_allclose(
        ref.batchnorm_eval(x, gamma, beta, bn.running_mean.numpy(), bn.running_var.numpy()),
        bn(torch.tensor(x)).detach().numpy(), rtol=1e-10)

    logits, labels = rng.normal(size=(6, 5)), rng.integers(0, 5, 6)
    tl = torch.tensor(logits, requires_grad=True)
    loss = torch.nn.functional.cross_entropy(tl, torch.tensor(labels))
    loss.backward()
    np.testing.assert_allclose(ref.cross_entropy(logits, labels), loss.item(), rtol=1e-12)
    np.testing.assert_allclose(ref.cross_entropy_grad(logits, labels), tl.grad.numpy(), rtol=1e-10)


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_reference_mlp_training_matches_torch(torch, rng, momentum):
    """The NumPy twin the grader trains against equals a PyTorch model step for step."""
    spec = [("linear", 5, 4), ("batchnorm", 4), ("relu",), ("linear", 4, 3)]
    layers, modules = [], []
    for item in spec:
        if item[0] == "linear":
            w, b = rng.normal(size=(item[2], item[1])), rng.normal(size=item[2])
            layers.append(("linear", w, b))
            m = torch.nn.Linear(item[1], item[2], dtype=torch.float64)
            with torch.no_grad():
                m.weight.copy_(torch.tensor(w))
                m.bias.copy_(torch.tensor(b))
        elif item[0] == "relu":
            layers.append(("relu",))
            m = torch.nn.ReLU()
        else:
            gamma, beta = rng.uniform(0.5, 1.5, item[1]), rng.normal(size=item[1])
            layers.append(("batchnorm", gamma, beta, np.zeros(item[1]), np.ones(item[1])))
            m = torch.nn.BatchNorm1d(item[1], dtype=torch.float64)
            with torch.no_grad():
                m.weight.copy_(torch.tensor(gamma))
                m.bias.copy_(torch.tensor(beta))
        modules.append(m)
    twin, model = ref.MLP(layers), torch.nn.Sequential(*modules)
    lr = 0.1
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    for step in range(5):
        x, labels = rng.normal(size=(6, 5)), rng.integers(0, 3, 6)
        model.train()
        opt.zero_grad()
        out = model(torch.tensor(x))
        torch.nn.functional.cross_entropy(out, torch.tensor(labels)).backward()
        opt.step()
        expected = twin.forward(x, train=True)
        np.testing.assert_allclose(expected, out.detach().numpy(), rtol=1e-9, atol=1e-12)
        twin.step(twin.backward(ref.cross_entropy_grad(expected, labels)), lr, momentum)
    model.eval()
    x = rng.normal(size=(4, 5))
    np.testing.assert_allclose(twin.forward(x, train=False), model(torch.tensor(x)).detach().numpy(),
                               rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(twin.layers[0][1], modules[0].weight.detach().numpy(), rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(twin.layers[1][4], modules[1].running_var.numpy(), rtol=1e-10)


def test_problem_table_has_the_handouts_points():
    assert [(p.name, p.points) for p in problems.PROBLEMS] == [
        ("Addition", 0), ("1.1.1 Subtraction", 5), ("1.1.2 Multiplication", 5), ("1.1.3 Division", 5),
        ("1.2 Autograd", 25), ("2.1 Linear", 5), ("2.2 ReLU", 10), ("2.3 SGD", 10), ("2.4 BatchNorm", 10),
        ("2.5 Cross Entropy", 15), ("2.6 Momentum", 10)]
    assert problems.TOTAL_POINTS == 110


# -------------------------------------------------------------- the helpers
def test_assert_values_reports_shape_and_first_difference():
    with pytest.raises(harness.CheckFailure, match=r"wrong shape: expected \(2, 3\), got \(3, 2\)"):
        harness.assert_values("thing", np.zeros((3, 2)), np.zeros((2, 3)))
    with pytest.raises(harness.CheckFailure) as info:
        harness.assert_values("thing", np.array([1.0, 2.0, 5.0]), np.array([1.0, 2.0, 3.0]))
    message = str(info.value)
    assert "1 of 3 differ; first at index (2,): expected 3, got 5" in message
    assert "expected: [1., 2., 3.]" in message and "got:      [1., 2., 5.]" in message
    harness.assert_values("thing", np.array([1.0, 2.0]), np.array([1.0, 2.0 + 1e-12]))


def test_assert_values_refuses_nan_and_big_arrays_are_truncated():
    with pytest.raises(harness.CheckFailure, match="wrong values"):
        harness.assert_values("x", np.array([np.nan]), np.array([1.0]))
    text = harness.fmt_array(np.arange(10_000.0).reshape(100, 100))
    assert len(text) <= 160 and "..." in text and "\n" not in text


def test_student_traceback_keeps_only_student_frames(tmp_path, monkeypatch):
    student_file = Path(harness.PROJECT_ROOT) / "mytorch" / "tensor.py"
    code = compile("def boom():\n    raise ValueError('bad shape (2, 3)')\n", str(student_file), "exec")
    namespace = {}
    exec(code, namespace)
    try:
        namespace["boom"]()
    except ValueError as exc:
        text = harness.student_traceback(exc)
    lines = text.splitlines()
    assert lines[0] == '  File "mytorch/tensor.py", line 2, in boom'
    assert lines[-1] == "ValueError: bad shape (2, 3)"
    assert "test_grader_reference.py" not in text

    try:
        np.zeros(2) @ np.zeros(3)
    except ValueError as exc:
        text = harness.student_traceback(exc)
    assert "(raised outside your files" in text and text.splitlines()[-1].startswith("ValueError")


def test_deep_recursion_traceback_is_cut():
    student_file = Path(harness.PROJECT_ROOT) / "mytorch" / "autograd_engine.py"
    code = compile("def down(n):\n    if n == 0:\n        raise RuntimeError('deep')\n    down(n - 1)\n",
                   str(student_file), "exec")
    namespace = {}
    exec(code, namespace)
    try:
        namespace["down"](50)
    except RuntimeError as exc:
        text = harness.student_traceback(exc)
    assert "... 43 more frames ..." in text and len(text.splitlines()) < 20


def test_run_checks_isolates_each_failure():
    def passes(ctx):
        """It passes."""

    def fails(ctx):
        """It fails."""
        harness.require(False, "because")

    def exits(ctx):
        """It exits."""
        sys.exit(4)

    reports = harness.run_checks([fails, exits, passes], harness.Context(0))
    assert [(r["name"], r["passed"]) for r in reports] == [("It fails.", False), ("It exits.", False),
                                                           ("It passes.", True)]
    assert reports[0]["message"] == "because"
    assert reports[1]["message"].startswith("your code called sys.exit(4)")


def test_every_check_names_what_it_enforces_and_notes_say_they_are_notes():
    """problems.CHECK_BASIS: a handout section or given-code contract per scored check; notes marked as such."""
    code = ("import json, sys; sys.path.insert(0, sys.argv[1]); import problems; print(json.dumps("
            "[[p.id, c.__name__, bool(getattr(c, 'zero_points', False))] for p in problems.PROBLEMS "
            "for c in p.checks()]))")
    run = subprocess.run([sys.executable, "-c", code, str(AUTOGRADER)], capture_output=True, text=True,
                         timeout=60, cwd=AUTOGRADER)
    assert run.returncode == 0, run.stderr
    checks = json.loads(run.stdout)
    assert len(checks) > 30
    for problem_id, name, zero_points in checks:
        basis = problems.CHECK_BASIS.get(name)
        assert basis, f"problem {problem_id}: check {name} names no handout section or contract in CHECK_BASIS"
        assert basis.startswith("0-point note") == zero_points, (problem_id, name, basis)
        assert zero_points or "§" in basis or "Appendix" in basis or basis.startswith("given"), (problem_id, name)
    assert {name for _, name, _ in checks} == set(problems.CHECK_BASIS)
