"""Tensor: an np.ndarray plus what autograd needs to know about it (handout Appendix A).

This file holds what the handout shows of a Tensor. The given machinery it
never shows lives in modules of its own, which Tensor inherits from or calls:

* ``tensor_data.py``: what ``Tensor(data)`` accepts (and copies), dtypes,
  how a number operand becomes a Tensor (``_operand``);
* ``tensor_inplace.py``: ``+=`` and the other in-place changes, version counters;
* ``tensor_numpy.py``: NumPy's protocols (``np.asarray(t)``, ``np.sum(t)``);
* ``tensor_torch.py``: PyTorch's Tensor API beyond the handout (indexing,
  ``max``, ``item``, ``size``, comparisons, ``requires_grad`` and ``grad`` checks, ...).
"""
import numpy as np

from mytorch.tensor_data import (NUMERIC_KINDS, SHARING, grad_dtype, is_number, shape_args,  # noqa: F401
                                 to_array, wrap)
from mytorch.tensor_data import elementwise as _elementwise, operand as _operand
from mytorch.tensor_inplace import InPlaceMixin, check_method_allowed
from mytorch.tensor_numpy import NumpyMixin
from mytorch.tensor_torch import TorchMixin, check_flag, seed_gradient, start_node, torch_axis


class Tensor(TorchMixin, InPlaceMixin, NumpyMixin):
    """A node of data in MyTorch: wraps ``data`` (an np.ndarray).

    Args:
        data: array-like of numbers (bool, int or float), copied as by
            ``np.array(data)`` (like ``torch.tensor``): changing the tensor
            never changes the caller's array. (Results of operations wrap
            their new arrays without a copy.)
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

    def __init__(self, data, requires_grad=False, is_leaf=True, is_parameter=False):
        if type(data) is not np.ndarray:
            data = to_array(data)
        elif not SHARING[0]:  # the caller's array: copied (an operation's result is not)
            data = data.copy()
        if data.dtype.kind not in NUMERIC_KINDS:
            raise TypeError(
                f"Tensor(): data must be numbers (bool, int or float), got dtype {data.dtype}")
        if requires_grad is not False and requires_grad is not True:
            requires_grad = check_flag(requires_grad, "requires_grad")  # Tensor(2, 3) lands here
        if not is_leaf and not requires_grad:
            raise ValueError("Tensor(): a tensor with requires_grad=False is always a leaf (is_leaf=True)")
        if is_parameter and not (requires_grad and is_leaf):
            raise ValueError("Tensor(): a parameter (is_parameter=True) must have requires_grad=True and is_leaf=True")
        self.data = data
        self._requires_grad = requires_grad  # the requires_grad property (tensor_torch.py) checks assignments
        self.is_leaf = is_leaf
        self.grad_fn = None
        self._grad = None  # the grad property (tensor_torch.py) checks assignments
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

    def fill_(self, fill_value):
        """Set every element to ``fill_value``, in place; returns self.

        Refused on a tensor in a graph with gradients on, as ``+=`` is.
        """
        check_method_allowed(self, "fill_")
        self.data.fill(fill_value)
        self._bump_version()
        return self

    def copy(self):
        """A new constant tensor with a copy of the data (no grad, no graph)."""
        return wrap(self.data.copy())  # a copy even inside an operation's forward

    # ------------------------------------------------------------ constructors
    @staticmethod
    def zeros(*shape):
        """A float64 tensor of zeros: ``Tensor.zeros(2, 3)`` or ``Tensor.zeros((2, 3))``."""
        return Tensor(np.zeros(shape_args(shape, "Tensor.zeros")))

    @staticmethod
    def ones(*shape):
        """A float64 tensor of ones: ``Tensor.ones(2, 3)``."""
        return Tensor(np.ones(shape_args(shape, "Tensor.ones")))

    @staticmethod
    def arange(*interval):
        """``Tensor.arange(stop)``, ``(start, stop)`` or ``(start, stop, step)``, as ``np.arange``."""
        return Tensor(np.arange(*interval))

    @staticmethod
    def randn(*shape):
        """A float64 tensor of standard normal samples: one ``np.random.randn(*shape)`` call.

        Exactly that one draw (the course's initialisation contract), so a
        seeded ``np.random`` gives the same values as ``np.random.randn``.
        """
        return Tensor(np.asarray(np.random.randn(*shape_args(shape, "Tensor.randn"))))

    @staticmethod
    def empty(*shape):
        """A float64 tensor with uninitialised values."""
        return Tensor(np.empty(shape_args(shape, "Tensor.empty")))

    # ---------------------------------------------------------------- autograd
    def backward(self, gradient=None):
        """Compute the gradient of this tensor w.r.t. every leaf that requires grad.

        ``gradient`` (a Tensor or array shaped like this tensor) is the
        gradient of the final result w.r.t. this tensor, as in PyTorch's
        ``y.backward(g)``. Without it, the gradient of the tensor w.r.t.
        itself is a tensor of ones shaped like it (handout §0.1.5 Step 1), so
        for a non-scalar ``y``, ``y.backward()`` gives the gradients of
        ``y.sum()`` (PyTorch refuses a non-scalar ``y`` there). Gradients add
        up (``+=``) in each leaf's ``.grad`` across calls.
        """
        if not self.requires_grad:
            raise RuntimeError(
                f"backward(): this tensor of shape {self.shape} does not require grad and has no "
                "graph; create the inputs you want gradients for with requires_grad=True")
        if gradient is not None:
            # Given code, so that the seeding below never ignores a given gradient.
            autograd_engine.backward(start_node(self), seed_gradient(self, gradient))
            return
        # BEGIN SOLUTION
        ones = np.empty(self.data.shape, dtype=grad_dtype(self.data))
        ones.fill(1)  # faster than np.ones for small shapes
        seed = Tensor(ones)
        del ones  # the seed's array is held by the seed alone: a leaf may keep it uncopied
        # A leaf's node is an AccumulateGrad (a solution may keep one in its grad_fn:
        # ask is_leaf, not whether grad_fn is None).
        node = autograd_engine.AccumulateGrad(self) if self.is_leaf else self.grad_fn
        autograd_engine.backward(node, seed)
        # END SOLUTION

    # -------------------------------------------------------------- operations
    def T(self):
        """The transpose (all axes reversed), in the graph."""
        return F.Transpose.apply(self)

    def reshape(self, *shape):
        """The same data in a new shape: ``t.reshape(2, 3)`` or ``t.reshape((2, 3))``; -1 allowed."""
        return F.Reshape.apply(self, shape_args(shape, "Tensor.reshape"))

    def log(self):
        """Element-wise natural logarithm, in the graph."""
        return F.Log.apply(self)

    def exp(self):
        """Element-wise exponential, in the graph."""
        return F.Exp.apply(self)

    def sum(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        """Sum over ``axis`` (None: all, an int, or a tuple of ints), as ``np.sum``, in the graph.

        PyTorch's keywords ``dim=`` and ``keepdim=`` work too.
        """
        if dim is not None or keepdim is not None:
            axis, keepdims = torch_axis("sum", axis, keepdims, dim, keepdim)
        return F.Sum.apply(self, axis, keepdims)

    def __add__(self, other):
        return _elementwise(F.Add, self, _operand(other, self, "+"))

    def __radd__(self, other):
        return _elementwise(F.Add, _operand(other, self, "+"), self)

    def __sub__(self, other):
        # BEGIN SOLUTION
        return _elementwise(F.Sub, self, _operand(other, self, "-"))
        # END SOLUTION

    def __rsub__(self, other):
        return _elementwise(F.Sub, _operand(other, self, "-"), self)

    def __mul__(self, other):
        # BEGIN SOLUTION
        return _elementwise(F.Mul, self, _operand(other, self, "*"))
        # END SOLUTION

    def __rmul__(self, other):
        return _elementwise(F.Mul, _operand(other, self, "*"), self)

    def __truediv__(self, other):
        # BEGIN SOLUTION
        return _elementwise(F.Div, self, _operand(other, self, "/"))
        # END SOLUTION

    def __rtruediv__(self, other):
        return _elementwise(F.Div, _operand(other, self, "/"), self)

    def __matmul__(self, other):
        return F.MatMul.apply(self, _operand(other, self, "@", scalars=False))

    def __rmatmul__(self, other):
        return F.MatMul.apply(_operand(other, self, "@", scalars=False), self)

    def __neg__(self):
        return F.Neg.apply(self)

    def __pow__(self, exponent):
        if isinstance(exponent, Tensor) or not is_number(exponent):
            raise TypeError(
                f"Tensor ** {type(exponent).__name__}: the exponent must be a Python or NumPy number")
        if isinstance(exponent, np.generic):  # a NumPy scalar does not promote (float32 ** np.float64(2))
            exponent = exponent.item()
        return F.Pow.apply(self, exponent)

    def __rpow__(self, base):
        return F.PowOfNumber.apply(_operand(base, self, "**"), self)


# Imported last: both modules use Tensor, which must exist by then.
from mytorch import autograd_engine  # noqa: E402
from mytorch.nn import functional as F  # noqa: E402
# BEGIN HOMEWORK 3
import numbers  # noqa: E402


# HW3P1 (course contract): module-level cat and Tensor.unsqueeze. The
# Functions are Cat and Unsqueeze in nn/functional.py. HW3P1's kit ships this
# block with its regions stubbed, the other kits leave it out.
def cat(seq, dim=0):
    """The tensors of ``seq`` (a list or tuple) joined along axis ``dim``, in the graph, as ``torch.cat``.

    Shapes: all equal except along ``dim``; the gradient is split back along ``dim``.
    """
    if not isinstance(seq, (list, tuple)) or not seq:
        raise TypeError(f"cat(seq, dim): seq must be a non-empty list or tuple of Tensors, got {seq!r:.80}")
    for i, t in enumerate(seq):
        if not isinstance(t, Tensor):
            raise TypeError(f"cat(seq, dim): seq[{i}] is a {type(t).__name__}, expected a Tensor")
    if isinstance(dim, bool) or not isinstance(dim, numbers.Integral):
        raise TypeError(f"cat(seq, dim): dim must be an int, got {type(dim).__name__}")
    # BEGIN SOLUTION
    return F.Cat.apply(int(dim), *seq)
    # END SOLUTION


def _unsqueeze(self, dim=0):
    """This tensor with a new axis of length 1 at ``dim`` (default 0, which PyTorch lacks), in the graph."""
    if isinstance(dim, bool) or not isinstance(dim, numbers.Integral):
        raise TypeError(f"unsqueeze(dim): dim must be an int, got {type(dim).__name__}")
    # BEGIN SOLUTION
    return F.Unsqueeze.apply(self, int(dim))
    # END SOLUTION


_unsqueeze.__name__, _unsqueeze.__qualname__ = "unsqueeze", "Tensor.unsqueeze"
Tensor.unsqueeze = _unsqueeze
# END HOMEWORK 3
