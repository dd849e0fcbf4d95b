"""Short one-line text for arrays, shared by the learning tools (trace, viz, gradcheck)."""
import numpy as np

# Arrays with more elements than this are shown as their shape plus a few numbers.
_FULL_SIZE = 6


def number(x, digits=4):
    """A number as people write it, to ``digits`` significant digits: ``1``, ``2.5``, ``-0.3333``."""
    if isinstance(x, (bool, np.bool_)):
        return str(int(x))
    return f"{float(x):.{digits}g}"


def short(value):
    """A one-line summary of ``value`` (a Tensor, an ndarray or a number).

    Small arrays in full (``1``, ``[1, 2]``, ``[[1, 2], [3, 4]]``); bigger ones
    as shape and a few elements (``(100, 20) [0.1, -2, 0.5, ..., 0.02]``),
    so that one line never grows with the data.
    """
    if value is None:
        return "None"
    array = np.asarray(getattr(value, "data", value))
    if array.ndim == 0:
        return number(array)
    if array.size <= _FULL_SIZE:
        return _nested(array)
    flat = array.reshape(-1)
    head = ", ".join(number(x) for x in flat[:3])
    return f"{array.shape} [{head}, ..., {number(flat[-1])}]"


def _nested(array):
    if array.ndim == 1:
        return "[" + ", ".join(number(x) for x in array) + "]"
    return "[" + ", ".join(_nested(row) for row in array) + "]"
