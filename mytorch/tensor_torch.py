"""PyTorch's Tensor API beyond the handout (given code, inherited by Tensor; never a task).

What a PyTorch user reaches for first, with PyTorch's names and behaviour:
``requires_grad`` and ``grad`` checked when assigned, ``item``/``float(t)``/
``f"{t:.3f}"``, ``size``/``dim``/``numel``/``view``/``t``/``clone``/
``detach``, indexing (``t[i]``, ``t[i] = v``, ``len``, iteration, ``in``),
``max``/``min``/``argmax``/``argmin``, ``mean``, comparisons, dtype
conversions, ``copy.deepcopy`` and pickling. A new Tensor method for users
belongs here (the Function that computes it, if any, in nn/functional.py).
"""
import collections
import numbers
import types

import numpy as np

from mytorch import grad_mode
from mytorch.tensor_data import NUMERIC_KINDS, check_dtype, grad_dtype, is_number, to_array, wrap
from mytorch.tensor_inplace import share_version


def check_flag(value, name):
    """``value`` of the flag ``name`` (requires_grad, ...) as a bool; refuse anything but a bool."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    hint = ""
    if name == "requires_grad" and isinstance(value, numbers.Integral):
        hint = ("; Tensor(2, 3) is not a shape here (the second argument is requires_grad): for a "
                "tensor of shape (2, 3) write Tensor.zeros(2, 3), Tensor.randn(2, 3) or Tensor.empty(2, 3)")
    raise TypeError(f"Tensor(): {name} must be True or False, got {value!r}{hint}")


def torch_axis(name, axis, keepdims, dim, keepdim):
    """``axis``, ``keepdims`` of a reduction given NumPy's keywords or PyTorch's ``dim=``/``keepdim=``."""
    if dim is not None:
        if axis is not None:
            raise TypeError(f"{name}(): give dim or axis (the same thing), not both")
        axis = dim
    if keepdim is not None:
        keepdims = keepdim
    if isinstance(axis, list):
        axis = tuple(axis)
    return axis, bool(keepdims)


class TorchMixin:
    """The part of a Tensor's API that PyTorch users expect and the handout does not ask for."""

    # ------------------------------------------------------------- flags
    @property
    def requires_grad(self):
        """Whether gradients w.r.t. this tensor are wanted (see the Tensor docstring)."""
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value):
        # As PyTorch: a graph result cannot be turned into a constant, and a
        # leaf turned off after the forward gets no gradient from that graph.
        if value is not True and value is not False:
            value = check_flag(value, "requires_grad")
        if not value and self._requires_grad:
            if not self.is_leaf and self.grad_fn is not None:
                raise RuntimeError(
                    "you can only change requires_grad flags of leaf variables (as PyTorch says): this "
                    f"tensor (shape {self.shape}) is the result of {self.grad_fn.function_name}; "
                    "for a constant copy of it use y.detach()")
            if self.is_leaf:
                from mytorch import engine_machinery
                engine_machinery.note_leaf_turned_off()
        self._requires_grad = value

    def requires_grad_(self, requires_grad=True):
        """Set ``requires_grad`` in place, as PyTorch; returns self."""
        self.requires_grad = requires_grad
        return self

    @property
    def grad(self):
        """The gradient stored by backward (a Tensor shaped like this one), or None."""
        return self._grad

    @grad.setter
    def grad(self, value):
        # Checked here, as PyTorch does, rather than broadcast into an update in step().
        if value is not None:
            if not isinstance(value, TorchMixin):
                raise TypeError(
                    f"t.grad = {type(value).__name__}: a gradient must be a Tensor or None (as in PyTorch)"
                    + ("; wrap the array: t.grad = Tensor(array)" if isinstance(value, np.ndarray) else ""))
            if value.data.shape != self.data.shape:
                raise ValueError(f"t.grad = Tensor of shape {value.shape}: the gradient of a tensor of shape "
                                 f"{self.shape} must have that shape (PyTorch refuses it too)")
            if value.data.dtype.kind != "f":
                raise TypeError(f"t.grad = Tensor of dtype {value.dtype}: a gradient must be floating point "
                                f"(here {np.dtype(grad_dtype(self.data))})")
        self._grad = value

    # ------------------------------------------------------------ shapes
    @property
    def dtype(self):
        """The dtype of ``data``."""
        return self.data.dtype

    @property
    def ndim(self):
        """The number of dimensions of ``data``."""
        return self.data.ndim

    def size(self, dim=None):
        """The shape (a tuple), or the length of axis ``dim``, as ``torch.Tensor.size``."""
        if dim is None:
            return self.data.shape
        if self.data.ndim == 0:
            raise IndexError(f"size({dim}): a 0-d tensor has no dimensions (as in PyTorch); size() is ()")
        return self.data.shape[_checked_dim("size", dim, self.data.ndim)]

    def dim(self):
        """The number of dimensions, as ``torch.Tensor.dim``."""
        return self.data.ndim

    def numel(self):
        """The number of elements."""
        return self.data.size

    def view(self, *shape):
        """``reshape`` (MyTorch's reshape already shares memory wherever it can)."""
        return self.reshape(*shape)

    def t(self):
        """The transpose of a matrix (or a vector as it is), as ``torch.Tensor.t``, in the graph."""
        if self.data.ndim > 2:
            raise ValueError(f"t(): expects a tensor of at most 2 dimensions, got shape {self.shape}; "
                             "use T() to reverse all axes")
        return self.T() if self.data.ndim == 2 else self.reshape(self.shape)

    def mean(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        """Mean over ``axis`` (or PyTorch's ``dim``), as ``np.mean``, in the graph."""
        axis, keepdims = torch_axis("mean", axis, keepdims, dim, keepdim)
        total = self.sum(axis, keepdims)
        count = self.data.size // max(total.data.size, 1) if self.data.size else 0
        return total / count

    # ------------------------------------------------------- conversions
    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(f"item(): only a one-element tensor has an item, this one has shape {self.shape}")
        return self.data.item()

    def __float__(self):
        return float(self._one_element("float"))

    def __int__(self):
        return int(self._one_element("int"))

    def __index__(self):
        # classes[t.argmax()]: only an integer tensor is an index, as in PyTorch.
        if self.data.dtype.kind not in "biu":
            raise TypeError(f"only integer tensors of a single element can be converted to an index, "
                            f"this one is {self.dtype} (as in PyTorch); use int(t)")
        return int(self._one_element("index"))

    def __format__(self, spec):
        if not spec:  # f"{t}": the repr, which shows grad_fn (PyTorch shows a 0-d tensor's number)
            return repr(self)
        if self.data.size == 1:  # f"{loss:.3f}" formats the number
            return format(self.data.item(), spec)
        raise TypeError(f"format(Tensor, {spec!r}): only a one-element tensor can be formatted as a "
                        f"number; this one has shape {self.shape}")

    def _one_element(self, what):
        if self.data.size != 1:
            raise TypeError(f"{what}(t): only a one-element tensor converts to a Python number; this one "
                            f"has shape {self.shape} (as in PyTorch)")
        return self.data.item()

    def numpy(self):
        """The underlying ndarray (shared, not copied), as ``torch.Tensor.numpy``.

        Refused for a tensor that requires grad, with gradients on, as in
        PyTorch: write ``t.detach().numpy()`` (or read ``t.data``).
        """
        if self.requires_grad and grad_mode._grad_enabled:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad (as PyTorch says). "
                               "Use t.detach().numpy() (or t.data) instead")
        return self.data

    def tolist(self):
        """The data as (nested) Python lists of numbers; a 0-d tensor gives a number."""
        return self.data.tolist()

    def clone(self):
        """A copy in the graph: gradients flow back to this tensor, as ``torch.Tensor.clone``."""
        return self * (True if self.data.dtype.kind == "b" else 1)  # the same dtype, bool too

    def detach(self):
        """A constant tensor sharing this one's data (and version counter), cut from the graph."""
        out = wrap(self.data)
        share_version(self, out)
        return out

    def to(self, dtype):
        """This tensor converted to ``dtype`` (a NumPy dtype or its name), in the graph.

        Returns self when the dtype is already ``dtype``, as PyTorch does.
        """
        dtype = check_dtype(dtype, "Tensor.to")
        if self.data.dtype == dtype:
            return self
        return _tensor.F.Cast.apply(self, dtype)

    def float(self):
        """``to(np.float32)``."""
        return self.to(np.float32)

    def double(self):
        """``to(np.float64)``."""
        return self.to(np.float64)

    # ------------------- indexing, iteration, max/min (issue 11, part B)
    # The Functions are at the end of nn/functional.py.
    def __getitem__(self, index):
        """``t[index]`` as in PyTorch and NumPy, in the graph.

        ``index``: ints, slices (also negative steps, which PyTorch refuses),
        None, ``...``, and integer or bool index arrays (lists, ndarrays,
        Tensors). Ints and slices give a view of this tensor's data, as in
        PyTorch; index arrays give a copy. The gradient flows back to the
        elements read, summed where an element was read more than once.
        """
        return _tensor.F.GetItem.apply(self, index_key(index))

    def __setitem__(self, index, value):
        """``t[index] = value``: write ``value`` (a number or Tensor, broadcast) into ``t``'s data in place.

        Allowed where PyTorch allows in-place changes that MyTorch can follow:
        on a tensor that does not require grad, or inside ``no_grad()``. It is
        not recorded in any graph.
        """
        key = index_key(index)
        where = f"tensor{_tensor.F.format_index(key)} = value"
        value_is_tensor = isinstance(value, TorchMixin)
        if grad_mode._grad_enabled:
            if self.requires_grad:
                raise RuntimeError(
                    f"{where}: this tensor of shape {self.shape} requires grad, and assigning into it "
                    "would change it behind the graph's back (PyTorch refuses this for a leaf, and "
                    "records it for a result). Assign inside `with no_grad():` to change the values "
                    "on purpose, or build a new tensor from operations")
            if value_is_tensor and value.requires_grad:
                raise RuntimeError(
                    f"{where}: the value requires grad, but assignment is not recorded in the graph, "
                    "so its gradient would be lost silently (PyTorch would record it). Assign "
                    "value.detach() to copy the numbers only")
        if value_is_tensor:
            value = value.data
        elif not is_number(value):
            raise TypeError(f"{where}: value must be a number or a Tensor, got {type(value).__name__}"
                            + ("; wrap it with Tensor(array)" if isinstance(value, np.ndarray) else ""))
        try:
            self.data[key] = value
        except (IndexError, ValueError) as err:
            shape = f" of shape {np.shape(value)}" if np.ndim(value) else ""
            raise type(err)(f"{where}: cannot assign a value{shape} into a tensor of shape "
                            f"{self.shape}: {err}") from None
        self._bump_version()

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

    def __contains__(self, element):
        """``x in t``: whether any element equals ``x`` (a number or Tensor), as in PyTorch."""
        if not (is_number(element) or isinstance(element, TorchMixin)):
            raise TypeError(f"'in' of a Tensor takes a number or a Tensor, got {type(element).__name__}")
        return bool(np.any(self.data == (element.data if isinstance(element, TorchMixin) else element)))

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

    # ------------------------------------------------ comparisons and bool
    # Elementwise, broadcasting, results are bool Tensors outside any graph
    # (as in PyTorch). Tensors stay hashable by identity: the engine and user
    # code keep them in dicts and sets, where == must not be consulted.
    __hash__ = object.__hash__

    def __eq__(self, other):
        return self._compare(other, np.equal, "==")

    def __ne__(self, other):
        return self._compare(other, np.not_equal, "!=")

    def __lt__(self, other):
        return self._compare(other, np.less, "<")

    def __le__(self, other):
        return self._compare(other, np.less_equal, "<=")

    def __gt__(self, other):
        return self._compare(other, np.greater, ">")

    def __ge__(self, other):
        return self._compare(other, np.greater_equal, ">=")

    def _compare(self, other, ufunc, symbol):
        if isinstance(other, TorchMixin):
            value = other.data
        elif is_number(other) or (isinstance(other, np.ndarray) and other.dtype.kind in NUMERIC_KINDS):
            value = other
        else:
            if isinstance(other, types.MethodType) and isinstance(other.__self__, TorchMixin):
                _tensor._operand(other, self, symbol)  # raises: "write w.T()"
            return NotImplemented  # == and != then fall back to identity, the others raise TypeError
        try:
            return wrap(np.asarray(ufunc(self.data, value)))
        except ValueError:
            raise ValueError(
                f"{symbol}: shapes {self.shape} and {np.shape(value)} cannot be broadcast together; "
                "each axis (aligned from the right) must match or be 1") from None

    def __bool__(self):
        if self.data.size == 1:
            return bool(self.data.reshape(()))
        what = "no values" if self.data.size == 0 else "more than one value"
        raise RuntimeError(
            f"Boolean value of Tensor with {what} is ambiguous (shape {self.shape}), as in PyTorch; "
            "for a one-element tensor use t.item(), to test every element np.all(a == b) or np.any(...)")

    # ---------------------------------------------------- copy and pickle
    def __deepcopy__(self, memo):
        # A copy of a graph result would have to copy the graph (recursively:
        # RecursionError on deep ones); PyTorch refuses it, and so do we.
        if not self.is_leaf:
            raise RuntimeError(
                "copy.deepcopy: only leaf tensors (created by the user, not by an operation) can be "
                f"deep-copied, as in PyTorch; this one (shape {self.shape}) has grad_fn "
                f"{getattr(self.grad_fn, 'function_name', self.grad_fn)}: deep-copy t.detach() instead")
        new = type(self)(self.data, requires_grad=self.requires_grad, is_parameter=self.is_parameter)
        memo[id(self)] = new
        if self.grad is not None:
            new.grad = type(self)(self.grad.data)
        return new

    def __reduce_ex__(self, protocol):
        # Pickled as its data and flags, without gradient or graph (as in
        # PyTorch): a result comes back as a leaf that requires grad.
        return (_rebuild_tensor, (self.data, self.requires_grad, self.is_parameter))


def _rebuild_tensor(data, requires_grad, is_parameter):
    """Unpickle a Tensor (see ``TorchMixin.__reduce_ex__``)."""
    return _tensor.Tensor(data, requires_grad=requires_grad, is_parameter=is_parameter)


# ------------------------------------------------------- backward(gradient)
def start_node(tensor):
    """The node a backward pass from ``tensor`` starts at: its grad_fn, or an AccumulateGrad for a leaf."""
    return _tensor.autograd_engine.AccumulateGrad(tensor) if tensor.is_leaf else tensor.grad_fn


def seed_gradient(tensor, gradient):
    """``gradient`` of ``tensor.backward(gradient)`` as a fresh gradient Tensor, checked."""
    data = gradient.data if isinstance(gradient, TorchMixin) else to_array(gradient)
    if data.dtype.kind not in NUMERIC_KINDS:
        raise TypeError(f"backward(gradient): gradient must be numbers, got dtype {data.dtype}")
    if data.shape != tensor.shape:
        raise ValueError(
            f"backward(gradient): gradient of shape {data.shape} does not match the tensor's shape "
            f"{tensor.shape}; give the gradient w.r.t. this tensor, shaped like it")
    return wrap(np.array(data, dtype=grad_dtype(tensor.data)))


# ----------------------------------------------- helpers of indexing and max/min
def index_key(index):
    """``index`` of ``t[index]`` as a tuple NumPy indexes ``t.data`` with.

    Tensors become their arrays, lists become arrays; index arrays must hold
    integers or bools. An Ellipsis is appended when there is none, so that
    NumPy returns a (0-d) array, never a NumPy scalar: ``t[0]`` of a vector
    stays a view, as in PyTorch.
    """
    if isinstance(index, list) and any(isinstance(i, (list, tuple, slice, np.ndarray, TorchMixin)) or i is None
                                       or i is Ellipsis for i in index):
        # PyTorch 2.13 still reads such a list as a tuple (deprecated), NumPy as one index array.
        raise IndexError(
            "tensor[[...]]: a list holding lists, slices, None or arrays is ambiguous (PyTorch 2.13 reads "
            "it as a tuple of indices, NumPy as one index array); write t[tuple(seq)] for the first, "
            "t[Tensor(seq)] for the second")
    parts = index if isinstance(index, tuple) else (index,)
    key = []
    for part in parts:
        if isinstance(part, TorchMixin):
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


def _checked_dim(name, dim, ndim):
    """``dim`` as an axis in range(ndim) (a 0-d tensor accepts 0 and -1, as in PyTorch)."""
    if isinstance(dim, bool) or not isinstance(dim, numbers.Integral):
        raise TypeError(f"{name}(): dim must be an int, got {type(dim).__name__}")
    top = max(ndim, 1)
    if not -top <= dim < top:
        raise IndexError(f"{name}(): dim {dim} is out of range for a tensor of {ndim} dimension(s) "
                         f"(expected to be in range of [{-top}, {top - 1}])")
    return int(dim) % top


def _reduction_axis(name, dim, axis, keepdim, keepdims, ndim):
    """Resolve ``dim``/``axis`` and ``keepdim``/``keepdims`` of ``name``; check the axis exists."""
    if axis is not None:
        if dim is not None:
            raise TypeError(f"{name}(): give dim or axis (the same thing), not both")
        dim = axis
    if keepdims is not None:
        keepdim = keepdims
    if isinstance(dim, TorchMixin):
        raise TypeError(f"{name}(other): the elementwise {name}imum of two tensors is not part of "
                        f"MyTorch; give {name}() a dim (an int) to reduce over")
    if dim is not None:
        dim = _checked_dim(name, dim, ndim)
    return dim, bool(keepdim)


_MaxResult = collections.namedtuple("max", ["values", "indices"])
_MinResult = collections.namedtuple("min", ["values", "indices"])


def _extremum(tensor, name, largest, dim, keepdim, axis, keepdims):
    F = _tensor.F
    dim, keepdim = _reduction_axis(name, dim, axis, keepdim, keepdims, tensor.data.ndim)
    if dim is None:
        if keepdim:
            raise TypeError(f"{name}(): keepdim=True needs a dim to reduce over")
        return F.Extremum.apply(tensor, largest)
    result = _MaxResult if largest else _MinResult
    if tensor.data.ndim == 0:  # the only element is the extreme, at index 0
        return result(F.GetItem.apply(tensor, (Ellipsis,)), wrap(np.zeros((), np.int64)))
    if tensor.shape[dim] == 0:
        raise IndexError(f"{name}(): cannot reduce dim {dim} of size 0 (tensor of shape {tensor.shape}): "
                         "an empty row has no extreme")
    find = np.argmax if largest else np.argmin
    indices = np.expand_dims(find(tensor.data, axis=dim), dim).astype(np.int64, copy=False)
    values = F.TakeAlongAxis.apply(tensor, indices, dim, keepdim)
    return result(values, wrap(indices if keepdim else np.squeeze(indices, dim)))


def _arg_extremum(tensor, name, find, dim, keepdim, axis, keepdims):
    dim, keepdim = _reduction_axis(name, dim, axis, keepdim, keepdims, tensor.data.ndim)
    data = tensor.data
    if dim is None or data.ndim == 0:
        if data.size == 0:
            raise IndexError(f"{name}(): the tensor of shape {tensor.shape} is empty; give a dim to "
                             "reduce over")
        index = np.asarray(find(data), dtype=np.int64)
        return wrap(index.reshape((1,) * data.ndim) if keepdim else index)
    if data.shape[dim] == 0:
        raise IndexError(f"{name}(): cannot reduce dim {dim} of size 0 (tensor of shape {tensor.shape})")
    return wrap(np.asarray(find(data, axis=dim, keepdims=keepdim), dtype=np.int64))


# Imported last: tensor.py imports this module before it defines Tensor (and
# imports functional and the engine after it), so their names are looked up
# when the methods run.
from mytorch import tensor as _tensor  # noqa: E402
