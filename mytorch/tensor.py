"""Tensor: an np.ndarray plus what autograd needs to know about it (handout Appendix A)."""
import numbers

import numpy as np

# Kinds of NumPy data a Tensor may hold: bool, signed and unsigned int, float.
_NUMERIC_KINDS = "biuf"


def grad_dtype(array):
    """The dtype of a gradient for ``array``: its own if floating, float64 otherwise.

    Integer tensors may require grad (the handout's examples do this), and
    their gradients are real numbers.
    """
    return array.dtype if array.dtype.kind == "f" else np.float64


def _to_array(data):
    """Turn the ``data`` argument of ``Tensor(...)`` into a numeric ndarray."""
    if isinstance(data, Tensor):
        return data.data.copy()
    try:
        array = np.asarray(data)
    except (ValueError, TypeError) as err:
        raise TypeError(f"Tensor(): cannot make an array of {type(data).__name__} data ({err})") from None
    return array


def _shape_args(shape, where):
    """Accept both ``f(2, 3)`` and ``f((2, 3))``."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    for n in shape:
        if not isinstance(n, numbers.Integral):
            raise TypeError(f"{where}: shape entries must be integers, got {shape}")
    return tuple(int(n) for n in shape)


class Tensor:
    """A node of data in MyTorch: wraps ``data`` (an np.ndarray).

    Args:
        data: array-like of numbers (bool, int or float). An ndarray is
            wrapped as it is, without a copy (like ``torch.from_numpy``).
        requires_grad: whether gradients w.r.t. this tensor are wanted.
        is_leaf: False only for results of operations on tensors that
            require grad (set by ``Function.apply``).
        is_parameter: True for trainable weights of a network; these must
            also be leaves that require grad.

    Attributes (handout Appendix A): ``data``, ``requires_grad``,
    ``is_leaf``, ``grad_fn`` (the node that produced this tensor, or None),
    ``grad`` (a Tensor once backward reached this leaf, else None),
    ``is_parameter``.
    """

    # Tell NumPy to hand binary operators over to Tensor, so that
    # ``np.float64(2) * t`` calls ``t.__rmul__`` and gives a Tensor.
    __array_ufunc__ = None

    # True only on a gradient made by ``autograd_engine.fresh_grad``: an array
    # nothing else references, which a leaf may keep as its .grad uncopied.
    _fresh = False

    def __init__(self, data, requires_grad=False, is_leaf=True, is_parameter=False):
        if type(data) is not np.ndarray:
            data = _to_array(data)
        if data.dtype.kind not in _NUMERIC_KINDS:
            raise TypeError(
                f"Tensor(): data must be numbers (bool, int or float), got dtype {data.dtype}")
        if not is_leaf and not requires_grad:
            raise ValueError("Tensor(): a tensor with requires_grad=False is always a leaf (is_leaf=True)")
        if is_parameter and not (requires_grad and is_leaf):
            raise ValueError("Tensor(): a parameter (is_parameter=True) must have requires_grad=True and is_leaf=True")
        self.data = data
        self.requires_grad = requires_grad
        self.is_leaf = is_leaf
        self.grad_fn = None
        self.grad = None
        self.is_parameter = is_parameter

    # ------------------------------------------------------------------ basics
    def __repr__(self):
        body = np.array2string(self.data, separator=", ", prefix="Tensor(")
        extra = ""
        if self.grad_fn is not None:
            extra = f", grad_fn=<{self.grad_fn.function_name}>"
        elif self.requires_grad:
            extra = ", requires_grad=True"
        if self.is_parameter:
            extra += ", is_parameter=True"
        if self.data.dtype != np.float64:
            extra += f", dtype={self.data.dtype}"
        return f"Tensor({body}{extra})"

    __str__ = __repr__

    @property
    def shape(self):
        """The shape of ``data``, a tuple."""
        return self.data.shape

    @property
    def dtype(self):
        """The dtype of ``data``."""
        return self.data.dtype

    @property
    def ndim(self):
        """The number of dimensions of ``data``."""
        return self.data.ndim

    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(f"item(): only a one-element tensor has an item, this one has shape {self.shape}")
        return self.data.item()

    def numpy(self):
        """The underlying ndarray (shared, not copied)."""
        return self.data

    def fill_(self, fill_value):
        """Set every element to ``fill_value``, in place; returns self."""
        self.data.fill(fill_value)
        return self

    def copy(self):
        """A new constant tensor with a copy of the data (no grad, no graph)."""
        return Tensor(self.data.copy())

    def detach(self):
        """A constant tensor sharing this one's data, cut from the graph."""
        return Tensor(self.data)

    # ------------------------------------------------------------ constructors
    @staticmethod
    def zeros(*shape):
        """A float64 tensor of zeros: ``Tensor.zeros(2, 3)`` or ``Tensor.zeros((2, 3))``."""
        return Tensor(np.zeros(_shape_args(shape, "Tensor.zeros")))

    @staticmethod
    def ones(*shape):
        """A float64 tensor of ones: ``Tensor.ones(2, 3)``."""
        return Tensor(np.ones(_shape_args(shape, "Tensor.ones")))

    @staticmethod
    def arange(*interval):
        """``Tensor.arange(stop)``, ``(start, stop)`` or ``(start, stop, step)``, as ``np.arange``."""
        return Tensor(np.arange(*interval))

    @staticmethod
    def randn(*shape):
        """A float64 tensor of standard normal samples (from ``np.random``)."""
        return Tensor(np.random.normal(0, 1, _shape_args(shape, "Tensor.randn")))

    @staticmethod
    def empty(*shape):
        """A float64 tensor with uninitialised values."""
        return Tensor(np.empty(_shape_args(shape, "Tensor.empty")))

    # ---------------------------------------------------------------- autograd
    def backward(self):
        """Compute the gradient of this tensor w.r.t. every leaf that requires grad.

        The gradient of the tensor w.r.t. itself is a tensor of ones shaped
        like it (handout §0.1.5 Step 1), so for a non-scalar ``y``,
        ``y.backward()`` gives the gradients of ``y.sum()``. Gradients add up
        (``+=``) in each leaf's ``.grad`` across calls.
        """
        if not self.requires_grad:
            raise RuntimeError(
                f"backward(): this tensor of shape {self.shape} does not require grad and has no "
                "graph; create the inputs you want gradients for with requires_grad=True")
        # BEGIN SOLUTION
        ones = np.empty(self.data.shape, dtype=grad_dtype(self.data))
        ones.fill(1)
        seed = autograd_engine.fresh_grad(ones)
        # A leaf that requires grad has no grad_fn of its own: its node is an AccumulateGrad.
        node = self.grad_fn if self.grad_fn is not None else autograd_engine.AccumulateGrad(self)
        autograd_engine.backward(node, seed)
        # END SOLUTION

    # -------------------------------------------------------------- operations
    def T(self):
        """The transpose (all axes reversed), in the graph."""
        return F.Transpose.apply(self)

    def reshape(self, *shape):
        """The same data in a new shape: ``t.reshape(2, 3)`` or ``t.reshape((2, 3))``; -1 allowed."""
        return F.Reshape.apply(self, _shape_args(shape, "Tensor.reshape"))

    def log(self):
        """Element-wise natural logarithm, in the graph."""
        return F.Log.apply(self)

    def exp(self):
        """Element-wise exponential, in the graph."""
        return F.Exp.apply(self)

    def sum(self, axis=None, keepdims=False):
        """Sum over ``axis`` (None: all, an int, or a tuple of ints), as ``np.sum``, in the graph."""
        return F.Sum.apply(self, axis, keepdims)

    def mean(self, axis=None, keepdims=False):
        """Mean over ``axis``, as ``np.mean``, in the graph."""
        total = self.sum(axis, keepdims)
        count = self.data.size // max(total.data.size, 1) if self.data.size else 0
        return total / count

    def __add__(self, other):
        return F.Add.apply(self, _operand(other, self, "+"))

    def __radd__(self, other):
        return F.Add.apply(_operand(other, self, "+"), self)

    def __sub__(self, other):
        # BEGIN SOLUTION
        return F.Sub.apply(self, _operand(other, self, "-"))
        # END SOLUTION

    def __rsub__(self, other):
        return F.Sub.apply(_operand(other, self, "-"), self)

    def __mul__(self, other):
        # BEGIN SOLUTION
        return F.Mul.apply(self, _operand(other, self, "*"))
        # END SOLUTION

    def __rmul__(self, other):
        return F.Mul.apply(_operand(other, self, "*"), self)

    def __truediv__(self, other):
        # BEGIN SOLUTION
        return F.Div.apply(self, _operand(other, self, "/"))
        # END SOLUTION

    def __rtruediv__(self, other):
        return F.Div.apply(_operand(other, self, "/"), self)

    def __matmul__(self, other):
        return F.MatMul.apply(self, _operand(other, self, "@", scalars=False))

    def __rmatmul__(self, other):
        return F.MatMul.apply(_operand(other, self, "@", scalars=False), self)

    def __neg__(self):
        return F.Neg.apply(self)

    def __pow__(self, exponent):
        if isinstance(exponent, Tensor) or not _is_number(exponent):
            raise TypeError(
                f"Tensor ** {type(exponent).__name__}: the exponent must be a Python or NumPy number")
        return F.Pow.apply(self, exponent)

    def __rpow__(self, base):
        # base ** t == exp(t * log(base)); only defined for a positive real base.
        if not _is_number(base) or base <= 0:
            raise ValueError(f"{base!r} ** Tensor: the base must be a positive number")
        return (self * float(np.log(base))).exp()


def _is_number(value):
    if type(value) is float or type(value) is int:  # the common case, without the slower ABC check
        return True
    return isinstance(value, (numbers.Number, np.number, np.bool_)) and not isinstance(value, complex)


def _operand(other, tensor, op, scalars=True):
    """The other operand of ``tensor <op> other`` as a Tensor.

    A number becomes a constant with the dtype NumPy would give the result
    (so ``float32_tensor * 2.0`` stays float32). Anything else is refused:
    an ndarray must be wrapped in a Tensor on purpose.
    """
    if isinstance(other, Tensor):
        return other
    if scalars and _is_number(other):
        if type(other) is float and tensor.data.dtype.kind == "f":
            dtype = tensor.data.dtype  # what np.result_type gives, known without asking it
        else:
            dtype = np.result_type(tensor.data, other)
        return _constant(other, dtype)
    expected = "a Tensor or a number" if scalars else "a Tensor"
    raise TypeError(
        f"unsupported operand for {op}: Tensor {tensor.shape} and {type(other).__name__}; "
        f"expected {expected}" + ("; wrap arrays with Tensor(array)" if isinstance(other, np.ndarray) else ""))


# Number operands already wrapped, by (type, value, dtype): read-only and shared.
_CONSTANTS = {}


def _constant(number, dtype):
    """A constant 0-d Tensor holding ``number`` as ``dtype``, made once and then shared.

    Sharing it means a chain such as ``x = x * 1.0001`` repeated 100,000 times
    keeps one constant alive, not one per op for the cyclic GC to traverse.
    Its array is read-only, so no op can change it for the others.
    """
    key = (type(number), number, dtype)
    constant = _CONSTANTS.get(key)
    if constant is None:
        if len(_CONSTANTS) >= 256:  # many different numbers: start over rather than grow
            _CONSTANTS.clear()
        array = np.asarray(number, dtype=dtype)
        array.flags.writeable = False
        constant = _CONSTANTS[key] = Tensor(array)
    return constant


# Imported last: both modules use Tensor, which must exist by then.
from mytorch import autograd_engine  # noqa: E402
from mytorch.nn import functional as F  # noqa: E402
