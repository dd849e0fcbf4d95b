"""gradcheck: finite-difference checks of every built-in operation, and of wrong backwards."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mytorch import Tensor, autograd_engine, no_grad
from mytorch.autograd_engine import Function
from teaching.gradcheck import GradcheckError, gradcheck
from mytorch.nn import functional as F


def leaf(array):
    return Tensor(np.asarray(array, dtype=np.float64), requires_grad=True)


def away_from_zero(rng, shape, low=0.3):
    """Values with |x| >= low: ReLU, Div and Pow are smooth there."""
    return rng.uniform(low, 2.0, shape) * rng.choice([-1, 1], shape)


# name -> function of rng giving (fn, inputs)
CASES = {
    "Add (broadcast)": lambda r: (lambda a, b: a + b, [leaf(r.normal(size=(2, 3))), leaf(r.normal(size=(3,)))]),
    "Add (scalar)": lambda r: (lambda a: a + 3, [leaf(r.normal(size=(2, 3)))]),
    "Sub (broadcast)": lambda r: (lambda a, b: a - b, [leaf(r.normal(size=(2, 1))), leaf(r.normal(size=(2, 3)))]),
    "Mul (broadcast)": lambda r: (lambda a, b: a * b, [leaf(r.normal(size=(2, 3))), leaf(r.normal(size=(1, 3)))]),
    "Div": lambda r: (lambda a, b: a / b, [leaf(r.normal(size=(2, 3))), leaf(away_from_zero(r, (2, 3)))]),
    "Neg": lambda r: (lambda a: -a, [leaf(r.normal(size=(3,)))]),
    "Pow (integer)": lambda r: (lambda a: a ** 3, [leaf(r.normal(size=(2, 2)))]),
    "Pow (fractional)": lambda r: (lambda a: a ** 0.5, [leaf(r.uniform(0.5, 2, (2, 2)))]),
    "Transpose": lambda r: (lambda a: a.T(), [leaf(r.normal(size=(2, 3)))]),
    "Reshape": lambda r: (lambda a: a.reshape(3, 2), [leaf(r.normal(size=(2, 3)))]),
    "Log": lambda r: (lambda a: a.log(), [leaf(r.uniform(0.5, 2, (2, 3)))]),
    "Exp": lambda r: (lambda a: a.exp(), [leaf(r.normal(size=(2, 3)))]),
    "Sum (all)": lambda r: (lambda a: a.sum(), [leaf(r.normal(size=(2, 3)))]),
    "Sum (axis, keepdims)": lambda r: (lambda a: a.sum(axis=1, keepdims=True), [leaf(r.normal(size=(2, 3)))]),
    "MatMul": lambda r: (lambda a, b: a @ b, [leaf(r.normal(size=(2, 3))), leaf(r.normal(size=(3, 4)))]),
    "ReLU": lambda r: (F.relu, [leaf(away_from_zero(r, (2, 3)))]),
    "Sigmoid": lambda r: (F.sigmoid, [leaf(r.normal(size=(2, 3)))]),
    "Tanh": lambda r: (F.tanh, [leaf(r.normal(size=(2, 3)))]),
    "linear": lambda r: (F.linear, [leaf(r.normal(size=(4, 3))), leaf(r.normal(size=(2, 3))),
                                    leaf(r.normal(size=(2,)))]),
    "linear (no bias)": lambda r: (F.linear, [leaf(r.normal(size=(4, 3))), leaf(r.normal(size=(2, 3)))]),
    "batch_norm (training)": lambda r: (
        lambda x, g, b: F.batch_norm(x, None, None, g, b, training=True),
        [leaf(r.normal(size=(4, 3))), leaf(r.normal(size=(3,))), leaf(r.normal(size=(3,)))]),
    "cross_entropy": lambda r: (F.cross_entropy, [leaf(r.normal(size=(4, 3))), Tensor(np.array([0, 2, 1, 2]))]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_gradcheck_passes_on_builtin_operation(name, rng):
    fn, inputs = CASES[name](rng)
    assert gradcheck(fn, *inputs) is True


def test_gradcheck_passes_through_non_tensor_arguments(rng):
    x = leaf(rng.normal(size=(2, 3)))
    assert gradcheck(lambda t, shape: t.reshape(shape), x, (3, 2))


def test_gradcheck_checks_only_inputs_that_require_grad(rng):
    x, constant = leaf(rng.normal(size=(2,))), Tensor(rng.normal(size=(2,)))
    assert gradcheck(lambda a, b: a * b, x, constant)


# -------------------------------------------------------- wrong backwards
class SquareWrongAtOneElement(Function):
    """x ** 2 whose backward forgets element (1, 2)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return Tensor(x.data ** 2)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        grad = 2 * x.data * grad_output.data
        grad[1, 2] = 0.0
        return (Tensor(grad),)


class MulWrongForB(Function):
    """a * b whose gradient for b is b (should be a)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return Tensor(a.data * b.data)

    @staticmethod
    def backward(ctx, grad_output):
        a, b = ctx.saved_tensors
        return Tensor(grad_output.data * b.data), Tensor(grad_output.data * b.data)


class DoubleWithFlippedBackward(Function):
    """2 x whose backward reverses the gradient: right for a gradient of ones, wrong otherwise."""

    @staticmethod
    def forward(ctx, x):
        return Tensor(2 * x.data)

    @staticmethod
    def backward(ctx, grad_output):
        return (Tensor(2 * grad_output.data[::-1].copy()),)


def test_gradcheck_names_input_element_and_values_of_a_wrong_backward(rng):
    x = leaf(rng.uniform(1, 2, (2, 3)))
    with pytest.raises(GradcheckError) as info:
        gradcheck(SquareWrongAtOneElement.apply, x)
    error = info.value
    assert error.input_index == 0 and error.input_shape == (2, 3)
    assert error.element == (1, 2) and error.output_element == (1, 2)
    assert error.analytical == 0.0
    assert error.numerical == pytest.approx(2 * x.data[1, 2], rel=1e-6)
    message = str(error)
    assert "\n" not in message
    assert "SquareWrongAtOneElement.apply" in message
    assert "input 0 (shape (2, 3))" in message and "at element (1, 2)" in message
    assert f"analytical 0 vs numerical {2 * x.data[1, 2]:.6g}" in message
    assert "1 of 36 Jacobian entries differ" in message


def test_gradcheck_names_the_wrong_input_among_several(rng):
    a, b = leaf(rng.uniform(1, 2, (3,))), leaf(rng.uniform(3, 4, (3,)))
    with pytest.raises(GradcheckError, match=r"input 1 \(shape \(3,\)\)") as info:
        gradcheck(MulWrongForB.apply, a, b)
    assert info.value.input_index == 1
    assert not np.allclose(info.value.analytical, info.value.numerical)


def test_gradcheck_full_jacobian_catches_what_a_sum_would_hide(rng):
    x = leaf(rng.normal(size=(4,)))
    # Through .sum() the incoming gradient is all ones, and the flip goes unnoticed ...
    assert gradcheck(lambda t: DoubleWithFlippedBackward.apply(t).sum(), x)
    # ... while the full Jacobian of the operation itself exposes it.
    with pytest.raises(GradcheckError, match="input 0"):
        gradcheck(DoubleWithFlippedBackward.apply, x)


def test_gradcheck_jacobians_agree_with_pytorch(torch, rng):
    # The numerical Jacobian is the true one (to finite-difference accuracy);
    # the analytical one is what the wrong backward computed, row by row.
    a, b = leaf(rng.uniform(1, 2, (2, 3))), leaf(rng.uniform(3, 4, (2, 3)))
    with pytest.raises(GradcheckError) as info:
        gradcheck(MulWrongForB.apply, a, b)
    ta, tb = (torch.tensor(t.data) for t in (a, b))
    true_b = torch.autograd.functional.jacobian(lambda v: ta * v, tb).reshape(6, 6).numpy()
    wrong_b = torch.autograd.functional.jacobian(lambda v: v * v / 2, tb).reshape(6, 6).numpy()
    np.testing.assert_allclose(info.value.numerical_jacobian, true_b, rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(info.value.analytical_jacobian, wrong_b, rtol=1e-12)


def test_gradcheck_can_return_false_instead_of_raising(rng):
    x = leaf(rng.uniform(1, 2, (2, 3)))
    assert gradcheck(SquareWrongAtOneElement.apply, x, raise_exception=False) is False


def test_gradcheck_error_is_a_runtime_error():
    assert issubclass(GradcheckError, RuntimeError)


def test_gradcheck_reports_an_output_that_built_no_graph(rng):
    x = leaf(rng.normal(size=(3,)))
    with pytest.raises(GradcheckError, match="does not require grad"):
        gradcheck(lambda t: Tensor(t.data * 2), x)


# ------------------------------------------------- the caller's tensors
def test_gradcheck_leaves_the_callers_tensors_alone(rng):
    x = leaf(rng.normal(size=(2, 3)))
    y = leaf(rng.normal(size=(2, 3)))
    before = x.data.copy()
    old_grad = Tensor(np.full((2, 3), 7.0))
    x.grad = old_grad
    gradcheck(lambda a, b: a * b + a.exp(), x, y)
    assert np.array_equal(x.data, before)
    assert x.grad is old_grad and np.all(old_grad.data == 7.0)
    assert y.grad is None
    assert x.requires_grad and x.is_leaf and x.grad_fn is None


def test_gradcheck_checks_float32_inputs_in_float64(rng):
    # Central differences with eps=1e-6 are meaningless in float32 (eps is
    # below its resolution near 1); on float64 copies they are accurate.
    x = Tensor(rng.uniform(0.5, 1.5, (2, 3)).astype(np.float32), requires_grad=True)
    assert gradcheck(lambda t: t.exp() * t, x)
    assert x.data.dtype == np.float32


# ------------------------------------------------------------- bad calls
def test_gradcheck_refuses_inputs_without_requires_grad():
    with pytest.raises(ValueError, match="no input has requires_grad=True"):
        gradcheck(lambda t: t * 2, Tensor([1.0, 2.0]))


def test_gradcheck_refuses_fn_that_returns_no_tensor():
    with pytest.raises(TypeError, match="fn must return a Tensor, got float"):
        gradcheck(lambda t: 1.0, leaf([1.0]))


def test_gradcheck_refuses_to_run_inside_no_grad():
    with no_grad(), pytest.raises(RuntimeError, match="inside no_grad"):
        gradcheck(lambda t: t * 2, leaf([1.0]))


@pytest.mark.parametrize("kwargs", [{"eps": 0}, {"eps": -1e-6}, {"atol": -1.0}, {"rtol": -0.1}])
def test_gradcheck_refuses_bad_tolerances(kwargs):
    with pytest.raises(ValueError, match="gradcheck: "):
        gradcheck(lambda t: t * 2, leaf([1.0]), **kwargs)


# ------------------------------------------------------- property test
@settings(max_examples=25, deadline=None)
@given(rows=st.integers(1, 3), cols=st.integers(1, 3), seed=st.integers(0, 2**16))
def test_gradcheck_passes_on_composed_operations(rows, cols, seed):
    r = np.random.default_rng(seed)
    x, w = leaf(r.normal(size=(rows, cols))), leaf(r.normal(size=(cols, 2)))
    b = leaf(r.normal(size=(2,)))
    assert gradcheck(lambda x, w, b: F.tanh(x @ w + b) * x.sum(axis=1, keepdims=True), x, w, b)


# ------------------------------------------------------- where it lives
ROOT = Path(__file__).resolve().parent.parent


def test_gradcheck_is_a_teaching_tool_outside_the_library():
    import teaching
    assert teaching.gradcheck is gradcheck and teaching.GradcheckError is GradcheckError
    assert not hasattr(autograd_engine, "gradcheck")  # the library does not depend on its teaching tools


@pytest.mark.parametrize("statement", [
    "from teaching import gradcheck",
    "from teaching.gradcheck import gradcheck",
])
def test_gradcheck_imports_first_in_a_fresh_interpreter(statement):
    code = (f"{statement}\nfrom mytorch.tensor import Tensor\n"
            "assert gradcheck(lambda t: t * t, Tensor([1.0, 2.0], requires_grad=True))")
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
