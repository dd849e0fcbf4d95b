"""What a Tensor's data may be: construction, dtypes, and how operands become Tensors.

Given code (the handout never shows it), used by ``mytorch/tensor.py``:

* ``SHARING``, ``wrap``, ``to_array``: ``Tensor(data)`` copies the user's
  data, as ``torch.tensor`` and the course's given ``np.array(data)`` do, so
  that changing the tensor never changes the user's array (nor the reverse).
  The results of operations are wrapped without a copy: ``Function.apply``
  runs forward and backward with ``SHARING`` raised, and the library wraps
  arrays of its own (a constant, ``detach()``'s view) with ``wrap``.
* ``operand``, ``elementwise``: the other operand of ``t + x`` as a Tensor,
  with PyTorch's promotion rule (a number or a 0-d tensor does not promote a
  tensor of its own category: ``float32_tensor * np.float64(2)`` is float32).
* ``grad_dtype``, ``check_dtype``: which dtypes a Tensor and its gradient have.
"""
import numbers
import types

import numpy as np

# Kinds of NumPy data a Tensor may hold: bool, signed and unsigned int, float.
NUMERIC_KINDS = "biuf"

# Category of each NumPy dtype kind for type promotion: bool < integer < float.
CATEGORY = {"b": 0, "i": 1, "u": 1, "f": 2}


def grad_dtype(array):
    """The dtype of a gradient for ``array``: its own if floating, float64 otherwise.

    Integer tensors may require grad (the handout's examples do this), and
    their gradients are real numbers.
    """
    return array.dtype if array.dtype.kind == "f" else np.float64


# ------------------------------------------------------------- construction
# How many operations are running their forward or backward now (see
# results_of_operations): while it is above 0, Tensor() wraps arrays uncopied.
SHARING = [0]


class results_of_operations:
    """``with results_of_operations():`` Tensor(array) wraps ``array`` without copying it.

    For arrays the library made itself (an operation's result, a view it
    means to share): nothing outside can hold them, so a copy would only cost.
    """

    __slots__ = ()

    def __enter__(self):
        SHARING[0] += 1

    def __exit__(self, *exc_info):
        SHARING[0] -= 1
        return False


RESULTS = results_of_operations()


def wrap(array, **flags):
    """``Tensor(array, **flags)`` on ``array`` itself, uncopied (for the library's own arrays)."""
    with RESULTS:
        return _tensor.Tensor(array, **flags)


def to_array(data):
    """The ``data`` argument of ``Tensor(...)`` as a new numeric ndarray, never the caller's memory."""
    if isinstance(data, _tensor.Tensor):
        return data.data.copy()
    try:
        array = np.array(data)
    except (ValueError, TypeError) as err:
        raise TypeError(f"Tensor(): cannot make an array of {type(data).__name__} data ({err})") from None
    return array


def shape_args(shape, where):
    """Accept both ``f(2, 3)`` and ``f((2, 3))``."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    for n in shape:
        if isinstance(n, bool) or not isinstance(n, numbers.Integral):
            raise TypeError(f"{where}: shape entries must be integers, got {shape}")
    return tuple(int(n) for n in shape)


def check_dtype(dtype, where):
    """``dtype`` as a NumPy dtype of a kind a Tensor may hold (bool, int, float)."""
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{where}: {dtype!r} is not a NumPy dtype (e.g. np.float32, 'float64')") from None
    if dtype.kind not in NUMERIC_KINDS:
        raise TypeError(f"{where}: dtype must be bool, int or float, got {dtype}")
    return dtype


# ------------------------------------------------------------------ operands
def is_number(value):
    """A real Python or NumPy number (bool included), not a complex one."""
    if type(value) is float or type(value) is int:  # the common case, without the slower ABC check
        return True
    return isinstance(value, (numbers.Number, np.number, np.bool_)) and not isinstance(value, complex)


def scalar_dtype(dtype, value):
    """The dtype of ``tensor <op> value`` for a number ``value`` and a tensor of ``dtype`` (PyTorch's rule)."""
    if isinstance(value, (bool, np.bool_)):
        category = 0
    elif isinstance(value, (float, np.floating)):
        category = 2
    else:
        category = 1
    if category <= CATEGORY[dtype.kind]:
        return dtype
    return np.dtype(np.float64 if category == 2 else np.int64)


def operand(other, tensor, op, scalars=True):
    """The other operand of ``tensor <op> other`` as a Tensor.

    A number becomes a constant of the tensor's dtype when it is of the same
    category (bool < integer < float) or a lower one, as in PyTorch: a
    scalar does not promote (``float32_tensor * np.float64(2)`` stays
    float32). A float with an integer tensor gives float64, MyTorch's default
    float dtype. Anything else is refused: an ndarray must be wrapped in a
    Tensor on purpose.
    """
    Tensor = _tensor.Tensor
    if isinstance(other, Tensor):
        return other
    if scalars and is_number(other):
        dtype = tensor.data.dtype
        if type(other) is not float or dtype.kind != "f":
            dtype = scalar_dtype(dtype, other)
        try:
            return constant(other, dtype)
        except OverflowError:  # e.g. 300 with a uint8 tensor
            raise OverflowError(
                f"{op}: the number {other!r} does not fit the tensor's dtype {dtype} (PyTorch refuses "
                f"it too); convert the tensor first, e.g. t.to(np.int64) {op} {other!r}") from None
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


# Number operands already wrapped, by (type, value, dtype): read-only and shared.
CONSTANTS = {}


def constant(number, dtype):
    """A constant 0-d Tensor holding ``number`` as ``dtype``, made once and then shared.

    Sharing it means a chain such as ``x = x * 1.0001`` repeated 100,000 times
    keeps one constant alive, not one per op for the cyclic GC to traverse.
    Its array is read-only, so no op can change it for the others. Raises
    OverflowError for a number outside ``dtype``'s range.
    """
    if not number:  # 0.0 and -0.0 are one key but two numbers (1 / -0.0 is -inf): not shared
        return wrap(_exact_array(number, dtype))
    key = (type(number), number, dtype)
    value = CONSTANTS.get(key)
    if value is None:
        if len(CONSTANTS) >= 256:  # many different numbers: start over rather than grow
            CONSTANTS.clear()
        array = _exact_array(number, dtype)
        array.flags.writeable = False
        value = CONSTANTS[key] = wrap(array)
    return value


def _exact_array(number, dtype):
    """``number`` as a 0-d array of ``dtype``; OverflowError if an integer dtype cannot hold it."""
    array = np.asarray(number, dtype=dtype)
    if dtype.kind in "iu" and not isinstance(number, (bool, np.bool_)) and array != number:
        raise OverflowError(f"{number!r} does not fit {dtype}")
    return array


def elementwise(function, a, b):
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
    if CATEGORY[da.kind] == CATEGORY[db.kind]:
        F = _tensor.F
        if a.data.ndim == 0 and b.data.ndim != 0:
            return F.Cast.apply(a, db), b
        if b.data.ndim == 0 and a.data.ndim != 0:
            return a, F.Cast.apply(b, da)
    return a, b


# Imported last: tensor.py imports this module before it defines Tensor (and
# imports functional after), so both are looked up when the functions run.
from mytorch import tensor as _tensor  # noqa: E402
