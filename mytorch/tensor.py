"""Tensor: an np.ndarray plus what autograd needs to know about it (handout Appendix A)."""
import collections
import numbers
import types

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

    # The version counter (see "In-place changes and versions" below): None
    # until the first in-place change, then a one-element list, shared by the
    # tensors that view the same memory (detach(), T(), reshape()).
    _vc = None

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
        self._requires_grad = requires_grad  # see the requires_grad property
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
        self._bump_version()
        return self

    def copy(self):
        """A new constant tensor with a copy of the data (no grad, no graph)."""
        return Tensor(self.data.copy())

    def detach(self):
        """A constant tensor sharing this one's data (and version counter), cut from the graph."""
        out = Tensor(self.data)
        _share_version(self, out)
        return out

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
        """A float64 tensor of standard normal samples: one ``np.random.randn(*shape)`` call.

        Exactly that one draw (the course's initialisation contract), so a
        seeded ``np.random`` gives the same values as ``np.random.randn``.
        """
        return Tensor(np.asarray(np.random.randn(*_shape_args(shape, "Tensor.randn"))))

    @staticmethod
    def empty(*shape):
        """A float64 tensor with uninitialised values."""
        return Tensor(np.empty(_shape_args(shape, "Tensor.empty")))

    # ------------------------- indexing, iteration, max/min (issue 11, part B)
    # Given code in the student kit, not a task. The Functions are at the end
    # of nn/functional.py.

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
            autograd_engine.backward(_start_node(self), _seed_gradient(self, gradient))
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
        if isinstance(exponent, Tensor) or not _is_number(exponent):
            raise TypeError(
                f"Tensor ** {type(exponent).__name__}: the exponent must be a Python or NumPy number")
        return F.Pow.apply(self, exponent)

    def __rpow__(self, base):
        # base ** t == exp(t * log(base)); only defined for a positive real base.
        if not _is_number(base) or base <= 0:
            raise ValueError(f"{base!r} ** Tensor: the base must be a positive number")
        return (self * float(np.log(base))).exp()

    # --------------------------------------------------------- requires_grad
    @property
    def requires_grad(self):
        """Whether gradients w.r.t. this tensor are wanted (see the class docstring)."""
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value):
        # As PyTorch: a graph result cannot be turned into a constant, and a
        # leaf turned off after the forward gets no gradient from that graph.
        if not value and self._requires_grad:
            if not self.is_leaf and self.grad_fn is not None:
                raise RuntimeError(
                    "you can only change requires_grad flags of leaf variables (as PyTorch says): this "
                    f"tensor (shape {self.shape}) is the result of {self.grad_fn.function_name}; "
                    "for a constant copy of it use y.detach()")
            if self.is_leaf:
                autograd_engine._note_leaf_turned_off()
        self._requires_grad = value

    # ------------------------------------------- in-place changes and versions
    # As in PyTorch, every in-place change MyTorch makes to a tensor's data
    # (the operators below, fill_, an optimizer's step, Module.to) bumps the
    # tensor's version; save_for_backward records the versions of what it
    # saves, and backward refuses a saved tensor changed since. A change made
    # by writing into ``t.data`` directly is not seen (as in PyTorch).

    @property
    def _version(self):
        """How many in-place changes MyTorch has made to this tensor's data."""
        vc = self._vc
        return 0 if vc is None else vc[0]

    def _bump_version(self):
        """Record one in-place change of ``data`` (call it after changing it)."""
        vc = self._vc
        if vc is None:
            self._vc = [1]
        else:
            vc[0] += 1
        _BUMPS[0] += 1

    def __iadd__(self, other):
        return self._inplace(other, np.add, "+=", "+")

    def __isub__(self, other):
        return self._inplace(other, np.subtract, "-=", "-")

    def __imul__(self, other):
        return self._inplace(other, np.multiply, "*=", "*")

    def __itruediv__(self, other):
        return self._inplace(other, np.true_divide, "/=", "/")

    def __imatmul__(self, other):
        return self._inplace(other, np.matmul, "@=", "@")

    def _inplace(self, other, ufunc, symbol, op):
        """``self <symbol> other``: write the result into ``self.data``; returns self.

        Allowed under ``no_grad()`` and on tensors outside every graph, like
        PyTorch. MyTorch does not record in-place operations in a graph, so
        with gradients on, a tensor that requires grad (or an operand that
        does) is refused rather than losing its gradient.
        """
        other_requires = isinstance(other, Tensor) and other.requires_grad
        if autograd_engine._grad_enabled and (self.requires_grad or other_requires):
            raise RuntimeError(_inplace_refusal(self, symbol, op))
        if isinstance(other, Tensor):
            value = other.data
        elif op != "@" and _is_number(other):
            value = other
        else:
            _operand(other, self, symbol, scalars=op != "@")  # raises the operand error
        data = self.data
        if not data.flags.writeable:
            raise ValueError(f"{symbol}: this tensor's data (shape {self.shape}) is a read-only array; "
                             f"write t = t {op} other for a new tensor")
        try:
            if op == "@":
                result = data @ value
                if result.shape != data.shape:
                    raise ValueError
                np.copyto(data, result, casting="same_kind")
            else:
                ufunc(data, value, out=data, casting="same_kind")
        except TypeError:  # NumPy's UFuncTypeError: the result's dtype does not fit
            result_dtype = np.result_type(data, value) if op != "/" else np.result_type(data, value, 1.0)
            raise TypeError(
                f"{symbol}: the result type {result_dtype} can't be cast to this tensor's dtype "
                f"{data.dtype} (PyTorch refuses too); write t = t {op} other for a new tensor, or "
                "convert first with t.double()") from None
        except ValueError:
            other_shape = np.shape(value)
            raise ValueError(
                f"{symbol}: the result of Tensor {self.shape} {op} {other_shape} would not have this "
                f"tensor's shape {self.shape}; an in-place operation cannot change the shape "
                f"(write t = t {op} other for a new tensor)") from None
        self._bump_version()
        return self

    # ------------------------------------------------- comparisons and bool
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
        if isinstance(other, Tensor):
            value = other.data
        elif _is_number(other) or (isinstance(other, np.ndarray) and other.dtype.kind in _NUMERIC_KINDS):
            value = other
        else:
            if isinstance(other, types.MethodType) and isinstance(other.__self__, Tensor):
                _operand(other, self, symbol)  # raises: "write w.T()"
            return NotImplemented  # == and != then fall back to identity, the others raise TypeError
        try:
            return Tensor(np.asarray(ufunc(self.data, value)))
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

    # ---------------------------------------------------------- NumPy interop
    # NumPy functions (np.sum, np.argmax, np.allclose, np.array_equal, ...)
    # see a Tensor's data and return what they return for ``t.data``: plain
    # NumPy results, outside any graph. NumPy's ufuncs called on a Tensor
    # (``np.exp(t)``) are refused by ``__array_ufunc__ = None`` above, which
    # also makes ``np.float64(2) * t`` call ``t.__rmul__`` and give a Tensor.

    def __array__(self, dtype=None, copy=None):
        data = self.data
        if dtype is not None and np.dtype(dtype) != data.dtype:
            if copy is False:
                raise ValueError(f"np.asarray(Tensor, dtype={dtype}, copy=False): the data is "
                                 f"{data.dtype}, converting needs a copy")
            return data.astype(dtype)
        return data.copy() if copy else data

    def __array_function__(self, func, types, args, kwargs):
        return func(*_unwrap(args), **{key: _unwrap(value) for key, value in kwargs.items()})

    # ----------------------------------------------------------------- dtypes
    def to(self, dtype):
        """This tensor converted to ``dtype`` (a NumPy dtype or its name), in the graph.

        Returns self when the dtype is already ``dtype``, as PyTorch does.
        """
        dtype = _check_dtype(dtype, "Tensor.to")
        if self.data.dtype == dtype:
            return self
        return F.Cast.apply(self, dtype)

    def float(self):
        """``to(np.float32)``."""
        return self.to(np.float32)

    def double(self):
        """``to(np.float64)``."""
        return self.to(np.float64)

    # ------------------------------------------------------- copy and pickle
    def __deepcopy__(self, memo):
        # A copy of a graph result would have to copy the graph (recursively:
        # RecursionError on deep ones); PyTorch refuses it, and so do we.
        if not self.is_leaf:
            raise RuntimeError(
                "copy.deepcopy: only leaf tensors (created by the user, not by an operation) can be "
                f"deep-copied, as in PyTorch; this one (shape {self.shape}) has grad_fn "
                f"{getattr(self.grad_fn, 'function_name', self.grad_fn)}: deep-copy t.detach() instead")
        new = Tensor(self.data.copy(), requires_grad=self.requires_grad, is_parameter=self.is_parameter)
        memo[id(self)] = new
        if self.grad is not None:
            new.grad = Tensor(self.grad.data.copy())
        return new

    def __reduce_ex__(self, protocol):
        # Pickled as its data and flags, without gradient or graph (as in
        # PyTorch): a result comes back as a leaf that requires grad.
        return (_rebuild_tensor, (self.data, self.requires_grad, self.is_parameter))


def _is_number(value):
    if type(value) is float or type(value) is int:  # the common case, without the slower ABC check
        return True
    return isinstance(value, (numbers.Number, np.number, np.bool_)) and not isinstance(value, complex)


def _operand(other, tensor, op, scalars=True):
    """The other operand of ``tensor <op> other`` as a Tensor.

    A number becomes a constant of the tensor's dtype when it is of the same
    category (bool < integer < float) or a lower one, as in PyTorch: a
    scalar does not promote (``float32_tensor * np.float64(2)`` stays
    float32). A float with an integer tensor gives float64, MyTorch's default
    float dtype. Anything else is refused: an ndarray must be wrapped in a
    Tensor on purpose.
    """
    if isinstance(other, Tensor):
        return other
    if scalars and _is_number(other):
        dtype = tensor.data.dtype
        if type(other) is not float or dtype.kind != "f":
            dtype = _scalar_dtype(dtype, other)
        try:
            return _constant(other, dtype)
        except OverflowError:  # e.g. 300 with a uint8 tensor: let NumPy choose
            return _constant(other, np.result_type(tensor.data, other))
    if isinstance(other, types.MethodType) and isinstance(other.__self__, Tensor):
        name = other.__name__
        raise TypeError(
            f"unsupported operand for {op}: a bound method Tensor.{name}, not its result; "
            f"write w.{name}() with parentheses (in MyTorch, as in the handout's starter code, "
            "T() is a method, not PyTorch's w.T property)")
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


# How many in-place changes (of any tensor) there have been: while it stays
# unchanged between a forward and its backward, no saved tensor can be stale,
# and backward skips the per-tensor version check.
_BUMPS = [0]

# Category of each NumPy dtype kind for type promotion: bool < integer < float.
_CATEGORY = {"b": 0, "i": 1, "u": 1, "f": 2}


def _scalar_dtype(dtype, value):
    """The dtype of ``tensor <op> value`` for a number ``value`` and a tensor of ``dtype`` (PyTorch's rule)."""
    if isinstance(value, (bool, np.bool_)):
        category = 0
    elif isinstance(value, (float, np.floating)):
        category = 2
    else:
        category = 1
    if category <= _CATEGORY[dtype.kind]:
        return dtype
    return np.dtype(np.float64 if category == 2 else np.int64)


def _elementwise(function, a, b):
    """``function.apply(a, b)`` for an elementwise operation, with PyTorch's promotion of 0-d tensors."""
    if a.data.dtype is not b.data.dtype:  # the usual case costs one comparison
        a, b = _pair(a, b)
    return function.apply(a, b)


def _pair(a, b):
    """The operands ``a, b`` of an elementwise operation, with PyTorch's promotion of 0-d tensors.

    A 0-d tensor does not promote a tensor with dimensions of the same
    category (``float32 (n,)`` with ``float64 ()`` stays float32): it is cast
    to the other's dtype, in the graph. Other pairs keep NumPy's promotion.
    """
    da, db = a.data.dtype, b.data.dtype
    if da is db or da == db:
        return a, b
    if _CATEGORY[da.kind] == _CATEGORY[db.kind]:
        if a.data.ndim == 0 and b.data.ndim != 0:
            return F.Cast.apply(a, db), b
        if b.data.ndim == 0 and a.data.ndim != 0:
            return a, F.Cast.apply(b, da)
    return a, b


def _check_dtype(dtype, where):
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{where}: {dtype!r} is not a NumPy dtype (e.g. np.float32, 'float64')") from None
    if dtype.kind not in _NUMERIC_KINDS:
        raise TypeError(f"{where}: dtype must be bool, int or float, got {dtype}")
    return dtype


def _share_version(source, view):
    """Give ``view`` (a tensor on ``source``'s memory) the version counter of ``source``."""
    vc = source._vc
    if vc is None:
        vc = source._vc = [0]
    view._vc = vc


def _inplace_refusal(tensor, symbol, op):
    if tensor.requires_grad and tensor.is_leaf:
        return (f"{symbol} on a leaf Tensor that requires grad (shape {tensor.shape}): PyTorch refuses "
                "this too (\"a leaf Variable that requires grad is being used in an in-place "
                "operation\"). To update a parameter, do it under no_grad() "
                f"(with no_grad(): p {symbol} ...); for a new tensor, write x = x {op} y")
    return (f"{symbol} with a tensor that is part of a graph (shape {tensor.shape}): MyTorch does not "
            "record in-place operations, so the gradient would be lost; write x = x "
            f"{op} y for a new tensor (or, to accumulate a plain number, total {symbol} loss.item())")


def _start_node(tensor):
    """The node a backward pass from ``tensor`` starts at: its grad_fn, or an AccumulateGrad for a leaf."""
    return autograd_engine.AccumulateGrad(tensor) if tensor.is_leaf else tensor.grad_fn


def _seed_gradient(tensor, gradient):
    """``gradient`` of ``tensor.backward(gradient)`` as a fresh gradient Tensor, checked."""
    data = gradient.data if isinstance(gradient, Tensor) else _to_array(gradient)
    if data.dtype.kind not in _NUMERIC_KINDS:
        raise TypeError(f"backward(gradient): gradient must be numbers, got dtype {data.dtype}")
    if data.shape != tensor.shape:
        raise ValueError(
            f"backward(gradient): gradient of shape {data.shape} does not match the tensor's shape "
            f"{tensor.shape}; give the gradient w.r.t. this tensor, shaped like it")
    return Tensor(np.array(data, dtype=grad_dtype(tensor.data)))


def _unwrap(value):
    """``value`` with every Tensor in it (also inside lists and tuples) replaced by its data."""
    if isinstance(value, Tensor):
        return value.data
    if isinstance(value, (list, tuple)):
        return type(value)(_unwrap(item) for item in value)
    return value


def _rebuild_tensor(data, requires_grad, is_parameter):
    """Unpickle a Tensor (see ``Tensor.__reduce_ex__``)."""
    return Tensor(data, requires_grad=requires_grad, is_parameter=is_parameter)


# Imported last: both modules use Tensor, which must exist by then.
from mytorch import autograd_engine  # noqa: E402
from mytorch.nn import functional as F  # noqa: E402
# BEGIN HOMEWORK 3


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
