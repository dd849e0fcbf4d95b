"""Bad input fails early with one clear line: the operation, the shapes or values, what was expected.

Students read these messages to find their bug, so each test checks the
message content, not just the exception type.
"""
import re

import numpy as np
import pytest

from mytorch.autograd_engine import ContextManager, Function
from mytorch.tensor import Tensor


def raises(exc, *fragments):
    """``pytest.raises`` requiring every fragment (matched literally) in a one-line message."""
    pattern = "".join(f"(?=.*{re.escape(f)})" for f in fragments)
    return pytest.raises(exc, match=pattern)


def assert_one_line(excinfo):
    assert "\n" not in str(excinfo.value)


# -------------------------------------------------------------- broadcasting
@pytest.mark.parametrize("op, name", [
    (lambda a, b: a + b, "Add"), (lambda a, b: a - b, "Sub"),
    (lambda a, b: a * b, "Mul"), (lambda a, b: a / b, "Div"),
])
@pytest.mark.parametrize("a_shape, b_shape", [((2, 3), (4,)), ((3, 1), (2, 4, 2)), ((5,), (4,))], ids=str)
def test_incompatible_broadcast(op, name, a_shape, b_shape):
    a = Tensor(np.ones(a_shape), requires_grad=True)
    b = Tensor(np.ones(b_shape))
    with raises(ValueError, f"{name}:", str(a_shape), str(b_shape), "cannot be broadcast") as excinfo:
        op(a, b)
    assert_one_line(excinfo)


@pytest.mark.parametrize("a_shape, b_shape, fragments", [
    ((3, 4), (5, 6), ["(4)", "second-to-last", "(5)"]),
    ((4,), (5,), ["(4)", "only axis", "(5)"]),
    ((2, 3), (4,), ["(3)", "only axis", "(4)"]),
    ((2, 3, 4), (3, 4, 5), ["batch", "(2,)", "(3,)"]),
    ((), (3,), ["at least 1 dimension"]),
    ((3,), (), ["at least 1 dimension"]),
], ids=str)
def test_incompatible_matmul(a_shape, b_shape, fragments):
    a, b = Tensor(np.ones(a_shape)), Tensor(np.ones(b_shape))
    with raises(ValueError, "MatMul", str(a_shape), str(b_shape), *fragments) as excinfo:
        a @ b
    assert_one_line(excinfo)


# ------------------------------------------------------ what a Tensor can hold
@pytest.mark.parametrize("data, fragment", [
    ("abc", "dtype <U3"),
    (["a", "b"], "dtype <U1"),
    (object(), "dtype object"),
    (None, "dtype object"),
    ({"a": 1}, "dtype object"),
    ([1 + 2j], "dtype complex128"),
    (np.array(["x"]), "dtype <U1"),
    ([[1, 2], [3]], "cannot make an array of list data"),
], ids=["str", "list-of-str", "object", "None", "dict", "complex", "ndarray-of-str", "ragged"])
def test_tensor_refuses_non_numeric_data(data, fragment):
    with raises(TypeError, "Tensor()", fragment) as excinfo:
        Tensor(data)
    assert_one_line(excinfo)


def test_tensor_flag_combinations_that_cannot_exist():
    with raises(ValueError, "Tensor()", "requires_grad=False", "leaf"):
        Tensor(1., requires_grad=False, is_leaf=False)
    with raises(ValueError, "Tensor()", "is_parameter=True", "requires_grad=True"):
        Tensor(1., is_parameter=True)


@pytest.mark.parametrize("make", [Tensor.zeros, Tensor.ones, Tensor.randn, Tensor.empty])
def test_constructors_refuse_non_integer_shapes(make):
    with raises(TypeError, f"Tensor.{make.__name__}", "integers", "2.5"):
        make(2.5, 3)


# ----------------------------------------------------------------- operands
@pytest.mark.parametrize("other", [[1.0, 2.0], "2", np.ones(2), None, {1: 2}, 1j],
                         ids=["list", "str", "ndarray", "None", "dict", "complex"])
@pytest.mark.parametrize("symbol, op", [
    ("+", lambda t, o: t + o), ("+", lambda t, o: o + t),
    ("-", lambda t, o: t - o), ("-", lambda t, o: o - t),
    ("*", lambda t, o: t * o), ("*", lambda t, o: o * t),
    ("/", lambda t, o: t / o), ("/", lambda t, o: o / t),
    ("@", lambda t, o: t @ o), ("@", lambda t, o: o @ t),
], ids=["t+o", "o+t", "t-o", "o-t", "t*o", "o*t", "t/o", "o/t", "t@o", "o@t"])
def test_operand_that_is_neither_tensor_nor_number(other, symbol, op):
    t = Tensor([1.0, 2.0], requires_grad=True)
    with raises(TypeError, f"unsupported operand for {symbol}", "Tensor (2,)", type(other).__name__,
                "expected a Tensor") as excinfo:
        op(t, other)
    assert_one_line(excinfo)
    if isinstance(other, np.ndarray):
        assert "wrap arrays with Tensor(array)" in str(excinfo.value)


@pytest.mark.parametrize("scalar", [2, 2.5, np.float64(2)], ids=repr)
def test_matmul_refuses_scalars(scalar):
    with raises(TypeError, "unsupported operand for @", "expected a Tensor"):
        Tensor(np.ones((2, 2))) @ scalar


@pytest.mark.parametrize("exponent", [Tensor(2.0), [2], "2", None], ids=["Tensor", "list", "str", "None"])
def test_pow_exponent_must_be_a_number(exponent):
    with raises(TypeError, "Tensor **", type(exponent).__name__, "exponent must be a Python or NumPy number"):
        Tensor([1.0, 2.0]) ** exponent


def test_rpow_base_must_be_a_number():
    # 0 ** t and (-2.0) ** t work as in PyTorch (tests/test_torch_habits.py).
    with raises(TypeError, "unsupported operand for **", "str", "expected a Tensor or a number"):
        "2" ** Tensor([1.0, 2.0])


# ------------------------------------------------------------------ backward
@pytest.mark.parametrize("make", [
    lambda: Tensor([1.0, 2.0]),
    lambda: Tensor([1.0, 2.0]) * 3.0,
    lambda: Tensor([1.0, 2.0], requires_grad=True).copy(),
], ids=["constant", "result-of-constants", "copy"])
def test_backward_on_a_tensor_that_does_not_require_grad(make):
    with raises(RuntimeError, "backward()", "(2,)", "does not require grad", "requires_grad=True") as excinfo:
        make().backward()
    assert_one_line(excinfo)


class BadCount(Function):
    """Returns one gradient for two inputs."""

    @staticmethod
    def forward(ctx, a, b):
        return Tensor(a.data + b.data)

    @staticmethod
    def backward(ctx, grad_output):
        return (Tensor(grad_output.data),)


class BadShape(Function):
    """Forgets to unbroadcast the gradient of its second input."""

    @staticmethod
    def forward(ctx, a, b):
        return Tensor(a.data + b.data)

    @staticmethod
    def backward(ctx, grad_output):
        return Tensor(grad_output.data), Tensor(grad_output.data)


class BadType(Function):
    """Returns a bare ndarray instead of a Tensor."""

    @staticmethod
    def forward(ctx, a):
        return Tensor(a.data * 2)

    @staticmethod
    def backward(ctx, grad_output):
        return (grad_output.data * 2,)


class BadContainer(Function):
    """Returns an ndarray where a tuple of two gradients is expected."""

    @staticmethod
    def forward(ctx, a, b):
        return Tensor(a.data * b.data)

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output.data


class ForwardReturnsArray(Function):
    @staticmethod
    def forward(ctx, a):
        return a.data * 2

    @staticmethod
    def backward(ctx, grad_output):
        return (grad_output,)


class ForwardReturnsInput(Function):
    @staticmethod
    def forward(ctx, a):
        return a

    @staticmethod
    def backward(ctx, grad_output):
        return (grad_output,)


def test_backward_returning_the_wrong_number_of_gradients():
    out = BadCount.apply(Tensor(1., requires_grad=True), Tensor(2., requires_grad=True))
    with raises(ValueError, "BadCount.backward returned 1 gradient(s)", "2 tensor input(s)") as excinfo:
        out.backward()
    assert_one_line(excinfo)


def test_backward_returning_a_gradient_of_the_wrong_shape():
    a = Tensor(np.ones((2, 3)), requires_grad=True)
    b = Tensor(np.ones(3), requires_grad=True)
    out = BadShape.apply(a, b)
    with raises(ValueError, "BadShape.backward", "shape (2, 3) for input 1", "whose shape is (3,)") as excinfo:
        out.backward()
    assert_one_line(excinfo)
    assert a.grad is None and b.grad is None  # nothing half-stored


def test_backward_returning_a_non_tensor_gradient():
    out = BadType.apply(Tensor([1., 2.], requires_grad=True))
    with raises(TypeError, "BadType.backward returned a ndarray for input 0", "Tensor(") as excinfo:
        out.backward()
    assert_one_line(excinfo)


def test_backward_returning_a_non_tuple():
    out = BadContainer.apply(Tensor([1., 2.], requires_grad=True), Tensor([1., 2.], requires_grad=True))
    with raises(TypeError, "BadContainer.backward must return a tuple of Tensors", "ndarray"):
        out.backward()


def test_forward_returning_a_non_tensor():
    with raises(TypeError, "ForwardReturnsArray.forward must return a Tensor", "ndarray") as excinfo:
        ForwardReturnsArray.apply(Tensor([1., 2.], requires_grad=True))
    assert_one_line(excinfo)


def test_forward_returning_its_input():
    x = Tensor([1., 2.], requires_grad=True)
    with raises(ValueError, "ForwardReturnsInput.forward returned one of its input tensors"):
        ForwardReturnsInput.apply(x)
    assert x.is_leaf and x.grad_fn is None  # the input is left untouched


def test_non_leaf_input_without_a_graph_is_refused():
    # Its gradient would silently vanish: no node to send it to.
    orphan = Tensor([1., 2.], requires_grad=True, is_leaf=False)
    with raises(ValueError, "Mul:", "(2,)", "is_leaf=False but no grad_fn"):
        orphan * 2.0


def test_accumulate_grad_refuses_a_wrongly_shaped_gradient():
    from mytorch.autograd_engine import AccumulateGrad
    x = Tensor(np.ones(3), requires_grad=True)
    with raises(ValueError, "AccumulateGrad", "(2,)", "(3,)"):
        AccumulateGrad(x).apply(Tensor(np.ones(2)))


def test_save_for_backward_takes_only_tensors():
    with raises(TypeError, "save_for_backward takes Tensors", "tuple", "ctx.name = value"):
        ContextManager().save_for_backward((2, 3))


# --------------------------------------------------------- reshape and sum
@pytest.mark.parametrize("shape", [(4,), (2, 2), (5, -1), (-1, -1)], ids=str)
def test_reshape_to_an_incompatible_size(shape):
    t = Tensor(np.ones((2, 3)), requires_grad=True)
    with raises(ValueError, "Reshape", "(2, 3)", "6 elements", str(tuple(shape))) as excinfo:
        t.reshape(*shape)
    assert_one_line(excinfo)


def test_reshape_shape_must_be_integers():
    with raises(TypeError, "Tensor.reshape", "integers"):
        Tensor(np.ones(6)).reshape(2.0, 3)


@pytest.mark.parametrize("axis", [2, -3, (0, 2), (0, 0), "0", 1.5], ids=repr)
def test_sum_with_a_bad_axis(axis):
    t = Tensor(np.ones((2, 3)), requires_grad=True)
    with raises(ValueError, "Sum: bad axis", repr(axis), "(2, 3)") as excinfo:
        t.sum(axis=axis)
    assert_one_line(excinfo)


def test_item_of_a_tensor_with_many_elements():
    with raises(ValueError, "item()", "(2,)"):
        Tensor([1., 2.]).item()
