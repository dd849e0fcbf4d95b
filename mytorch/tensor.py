"""Tensor: an np.ndarray plus what autograd needs to know about it (handout Appendix A)."""
import collections
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

    # BEGIN REFERENCE ONLY
    # True only on a gradient made by ``autograd_engine.fresh_grad``: an array
    # nothing else references, which a leaf may keep as its .grad uncopied.
    _fresh = False
    # END REFERENCE ONLY

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

    # ------------------------- indexing, iteration, max/min (issue 11, part B)
    # Given code in the student kit, not a task. The Functions are at the end
    # of nn/functional.py.

    # Counts in-place changes of ``data`` (as PyTorch's ``_version``), so that
    # a graph that saved this tensor can tell it was modified since.
    _version = 0

    def __getitem__(self, index):
        """``t[index]`` as in PyTorch and NumPy, in the graph.

        ``index``: ints, slices (also negative steps, which PyTorch refuses),
        None, ``...``, and integer or bool index arrays (lists, ndarrays,
        Tensors). Ints and slices give a view of this tensor's data, as in
        PyTorch; index arrays give a copy. The gradient flows back to the
        elements read, summed where an element was read more than once.
        """
        return F.GetItem.apply(self, _index_key(index))

    def __setitem__(self, index, value):
        """``t[index] = value``: write ``value`` (a number or Tensor, broadcast) into ``t``'s data in place.

        Allowed where PyTorch allows in-place changes that MyTorch can follow:
        on a tensor that does not require grad, or inside ``no_grad()``. It is
        not recorded in any graph.
        """
        key = _index_key(index)
        where = f"tensor{F.format_index(key)} = value"
        if autograd_engine.is_grad_enabled():
            if self.requires_grad:
                raise RuntimeError(
                    f"{where}: this tensor of shape {self.shape} requires grad, and assigning into it "
                    "would change it behind the graph's back (PyTorch refuses this for a leaf, and "
                    "records it for a result). Assign inside `with no_grad():` to change the values "
                    "on purpose, or build a new tensor from operations")
            if isinstance(value, Tensor) and value.requires_grad:
                raise RuntimeError(
                    f"{where}: the value requires grad, but assignment is not recorded in the graph, "
                    "so its gradient would be lost silently (PyTorch would record it). Assign "
                    "value.detach() to copy the numbers only")
        if isinstance(value, Tensor):
            value = value.data
        elif not _is_number(value):
            raise TypeError(f"{where}: value must be a number or a Tensor, got {type(value).__name__}"
                            + ("; wrap it with Tensor(array)" if isinstance(value, np.ndarray) else ""))
        try:
            self.data[key] = value
        except (IndexError, ValueError) as err:
            shape = f" of shape {np.shape(value)}" if np.ndim(value) else ""
            raise type(err)(f"{where}: cannot assign a value{shape} into a tensor of shape "
                            f"{self.shape}: {err}") from None
        self._version += 1

    def __len__(self):
        """The length of the first axis, as in PyTorch (a 0-d tensor has none)."""
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __iter__(self):
        """Iterate over the first axis: ``for row in t`` gives ``t[0], t[1], ...``, in the graph."""
        if self.data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.data.shape[0]))

    def max(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """The largest element, as ``torch.Tensor.max``, in the graph.

        ``t.max()``: a 0-d tensor; its gradient is shared evenly among tied
        maxima. ``t.max(dim, keepdim=False)`` (also ``axis=``, ``keepdims=``):
        a named tuple ``(values, indices)`` over axis ``dim``; ``indices`` is
        an int64 tensor of the first maximum's position, and the gradient of
        ``values`` goes to that element alone.
        """
        return _extremum(self, "max", True, dim, keepdim, axis, keepdims)

    def min(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """The smallest element; as ``max`` otherwise (``t.min()`` or ``t.min(dim)``)."""
        return _extremum(self, "min", False, dim, keepdim, axis, keepdims)

    def argmax(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """Index of the first maximum (int64 tensor, no gradient), as ``torch.argmax``.

        Without ``dim`` the index is into the flattened tensor.
        """
        return _arg_extremum(self, "argmax", np.argmax, dim, keepdim, axis, keepdims)

    def argmin(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """Index of the first minimum (int64 tensor, no gradient), as ``torch.argmin``."""
        return _arg_extremum(self, "argmin", np.argmin, dim, keepdim, axis, keepdims)

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


# ----------------------------------------------- helpers of indexing and max/min

def _index_key(index):
    """``index`` of ``t[index]`` as a tuple NumPy indexes ``t.data`` with.

    Tensors become their arrays, lists become arrays; index arrays must hold
    integers or bools. An Ellipsis is appended when there is none, so that
    NumPy returns a (0-d) array, never a NumPy scalar: ``t[0]`` of a vector
    stays a view, as in PyTorch.
    """
    if isinstance(index, list) and any(isinstance(i, (list, tuple, slice, np.ndarray, Tensor)) or i is None
                                       or i is Ellipsis for i in index):
        # PyTorch 2.13 still reads such a list as a tuple (deprecated), NumPy as one index array.
        raise IndexError(
            "tensor[[...]]: a list holding lists, slices, None or arrays is ambiguous (PyTorch 2.13 reads "
            "it as a tuple of indices, NumPy as one index array); write t[tuple(seq)] for the first, "
            "t[Tensor(seq)] for the second")
    parts = index if isinstance(index, tuple) else (index,)
    key = []
    for part in parts:
        if isinstance(part, Tensor):
            part = part.data
        elif isinstance(part, list):
            part = np.asarray(part)
            if part.size == 0:
                part = part.astype(np.int64)  # t[[]] selects nothing, as in PyTorch
        if isinstance(part, np.ndarray) and part.dtype.kind not in "biu":
            raise IndexError(f"tensor[...]: index arrays and tensors must hold integers or bools, "
                             f"got dtype {part.dtype}")
        key.append(part)
    if not any(part is Ellipsis for part in key):
        key.append(Ellipsis)
    return tuple(key)


def _reduction_axis(name, dim, axis, keepdim, keepdims, ndim):
    """Resolve ``dim``/``axis`` and ``keepdim``/``keepdims`` of ``name``; check the axis exists."""
    if axis is not None:
        if dim is not None:
            raise TypeError(f"{name}(): give dim or axis (the same thing), not both")
        dim = axis
    if keepdims is not None:
        keepdim = keepdims
    if isinstance(dim, Tensor):
        raise TypeError(f"{name}(other): the elementwise {name}imum of two tensors is not part of "
                        f"MyTorch; give {name}() a dim (an int) to reduce over")
    if dim is not None:
        if isinstance(dim, bool) or not isinstance(dim, numbers.Integral):
            raise TypeError(f"{name}(): dim must be an int, got {type(dim).__name__}")
        top = max(ndim, 1)  # a 0-d tensor accepts dim 0 or -1, as in PyTorch
        if not -top <= dim < top:
            raise IndexError(f"{name}(): dim {dim} is out of range for a tensor of {ndim} dimension(s) "
                             f"(expected to be in range of [{-top}, {top - 1}])")
        dim = int(dim) % top
    return dim, bool(keepdim)


_MaxResult = collections.namedtuple("max", ["values", "indices"])
_MinResult = collections.namedtuple("min", ["values", "indices"])


def _extremum(tensor, name, largest, dim, keepdim, axis, keepdims):
    dim, keepdim = _reduction_axis(name, dim, axis, keepdim, keepdims, tensor.data.ndim)
    if dim is None:
        if keepdim:
            raise TypeError(f"{name}(): keepdim=True needs a dim to reduce over")
        return F.Extremum.apply(tensor, largest)
    result = _MaxResult if largest else _MinResult
    if tensor.data.ndim == 0:  # the only element is the extreme, at index 0
        return result(F.GetItem.apply(tensor, (Ellipsis,)), Tensor(np.zeros((), np.int64)))
    if tensor.shape[dim] == 0:
        raise IndexError(f"{name}(): cannot reduce dim {dim} of size 0 (tensor of shape {tensor.shape}): "
                         "an empty row has no extreme")
    find = np.argmax if largest else np.argmin
    indices = np.expand_dims(find(tensor.data, axis=dim), dim).astype(np.int64, copy=False)
    values = F.TakeAlongAxis.apply(tensor, indices, dim, keepdim)
    return result(values, Tensor(indices if keepdim else np.squeeze(indices, dim)))


def _arg_extremum(tensor, name, find, dim, keepdim, axis, keepdims):
    dim, keepdim = _reduction_axis(name, dim, axis, keepdim, keepdims, tensor.data.ndim)
    data = tensor.data
    if dim is None or data.ndim == 0:
        if data.size == 0:
            raise IndexError(f"{name}(): the tensor of shape {tensor.shape} is empty; give a dim to "
                             "reduce over")
        index = np.asarray(find(data), dtype=np.int64)
        return Tensor(index.reshape((1,) * data.ndim) if keepdim else index)
    if data.shape[dim] == 0:
        raise IndexError(f"{name}(): cannot reduce dim {dim} of size 0 (tensor of shape {tensor.shape})")
    return Tensor(np.asarray(find(data, axis=dim, keepdims=keepdim), dtype=np.int64))


# Number operands already wrapped, by (type, value, dtype): read-only and shared.
_CONSTANTS = {}


def _constant(number, dtype):
    """A constant 0-d Tensor holding ``number`` as ``dtype``, made once and then shared.

    Sharing it means a chain such as ``x = x * 1.0001`` repeated 100,000 times
    keeps one constant alive, not one per op for the cyclic GC to traverse.
    Its array is read-only, so no op can change it for the others.
    """
    if not number:  # 0.0 and -0.0 are one key but two numbers (1 / -0.0 is -inf): not shared
        return Tensor(np.asarray(number, dtype=dtype))
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
