"""NumPy's protocols on a Tensor (given code, inherited by Tensor).

* ``np.asarray(t)``, ``np.sum(t)``, ``np.allclose(a, b)``: NumPy sees the
  tensor's data and returns plain NumPy results, outside any graph.
* A tensor that requires grad is refused there with gradients on, as
  PyTorch refuses ``numpy()`` on it: the result would be cut out of the
  graph without a word. Functions that only read positions, shapes or
  truth values (``np.argmax``, ``np.shape``, ``np.allclose``, ...; see
  ``READING``) stay allowed: nothing they return could carry a gradient.
* NumPy's element-wise functions (ufuncs, ``np.exp(t)``) are refused with
  the Tensor method to use instead; the operators among them still work
  with a NumPy scalar on the left: ``np.float64(2) * t`` is ``t.__rmul__``.
"""
import numpy as np

from mytorch import grad_mode

# NumPy functions whose results say where, how big or whether, never a value
# a gradient could flow through: allowed on tensors that require grad.
READING = frozenset(getattr(np, name) for name in (
    "argmax", "argmin", "argsort", "argwhere", "nonzero", "flatnonzero", "count_nonzero",
    "shape", "ndim", "size", "allclose", "isclose", "array_equal", "array_equiv",
    "all", "any", "may_share_memory", "shares_memory", "searchsorted") if hasattr(np, name))

# The ufuncs behind Python's operators, and the Tensor methods that do them
# (forward, reflected): ``np.float64(2) * t`` makes NumPy call np.multiply.
OPERATORS = {
    np.add: ("__add__", "__radd__"), np.subtract: ("__sub__", "__rsub__"),
    np.multiply: ("__mul__", "__rmul__"), np.true_divide: ("__truediv__", "__rtruediv__"),
    np.matmul: ("__matmul__", "__rmatmul__"), np.power: ("__pow__", "__rpow__"),
    np.equal: ("__eq__", "__eq__"), np.not_equal: ("__ne__", "__ne__"),
    np.less: ("__lt__", "__gt__"), np.less_equal: ("__le__", "__ge__"),
    np.greater: ("__gt__", "__lt__"), np.greater_equal: ("__ge__", "__le__"),
}

# What to write instead of np.<ufunc>(t), where a Tensor method does it.
METHODS = {np.exp: "t.exp()", np.log: "t.log()", np.negative: "-t", np.positive: "t",
           np.maximum: "t.max(dim)", np.minimum: "t.min(dim)"}


def _refuse_grad(what):
    raise RuntimeError(
        f"{what} on a Tensor that requires grad: the result would be plain NumPy, cut out of the "
        "graph, so no gradient would flow back (PyTorch refuses numpy() here too: \"Can't call "
        "numpy() on Tensor that requires grad\"). Use Tensor operations to stay in the graph; for "
        "the numbers only, pass t.detach() or t.data to NumPy, or work under no_grad()")


def _requires_grad_in(value):
    """Whether ``value`` (or a list/tuple in it) holds a Tensor that requires grad."""
    if isinstance(value, NumpyMixin):
        return value.requires_grad
    if isinstance(value, (list, tuple)):
        return any(_requires_grad_in(item) for item in value)
    return False


def unwrap(value):
    """``value`` with every Tensor in it (also inside lists and tuples) replaced by its data."""
    if isinstance(value, NumpyMixin):
        return value.data
    if isinstance(value, (list, tuple)):
        return type(value)(unwrap(item) for item in value)
    return value


class NumpyMixin:
    """``__array__``, ``__array_function__`` and ``__array_ufunc__`` of a Tensor."""

    def __array__(self, dtype=None, copy=None):
        if self.requires_grad and grad_mode._grad_enabled:
            _refuse_grad("np.asarray(t) (or np.array, or another NumPy conversion)")
        data = self.data
        if dtype is not None and np.dtype(dtype) != data.dtype:
            if copy is False:
                raise ValueError(f"np.asarray(Tensor, dtype={dtype}, copy=False): the data is "
                                 f"{data.dtype}, converting needs a copy")
            return data.astype(dtype)
        return data.copy() if copy else data

    def __array_function__(self, func, types, args, kwargs):
        if (func not in READING and grad_mode._grad_enabled
                and (_requires_grad_in(args) or _requires_grad_in(list(kwargs.values())))):
            _refuse_grad(f"np.{func.__name__}")
        return func(*unwrap(args), **{key: unwrap(value) for key, value in kwargs.items()})

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        names = OPERATORS.get(ufunc)
        if names is not None and method == "__call__" and not kwargs and len(inputs) == 2:
            # An operator with a NumPy scalar or array on the left: the Tensor's own operator.
            left, right = inputs
            if isinstance(left, NumpyMixin):
                result = getattr(left, names[0])(right)
            else:
                result = getattr(right, names[1])(left)
            if result is not NotImplemented:
                return result
        name = getattr(ufunc, "__name__", ufunc)
        if method != "__call__" or "out" in kwargs:
            raise TypeError(f"np.{name}.{method}(..., Tensor): NumPy cannot write into or reduce over a "
                            "Tensor; use t.data for the array (outside the graph), or the Tensor's methods")
        instead = METHODS.get(ufunc)
        raise TypeError(
            f"np.{name}(Tensor): NumPy's element-wise functions do not take Tensors (the result would "
            "leave the graph). " + (f"Write {instead} to stay in the graph, or " if instead else "Write ")
            + f"np.{name}(t.data) for a plain array outside the graph")
