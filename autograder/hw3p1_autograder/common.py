"""What every HW3P1 check uses: the Check record, observing student objects (child side), judging (parent side).

Child side (``observe_*``, ``build_key``, ``set_parameters``): duck-typed,
no import of mytorch; every observation is plain data (None, bool, int,
float, str, ndarrays, lists and dicts of them). A failure to read an
attribute is observed as text, never raised, so the judge can name it.

Parent side (``expect_*``): treat observations as untrusted, validate their
types and shapes before comparing, and raise ``CheckFailure`` with what was
expected, what was got, and where to look.
"""
import types
from dataclasses import dataclass
from typing import Callable

import numpy as np


class CheckFailure(Exception):
    """A check found a wrong answer; the message says what, where, and how to fix it."""


@dataclass(frozen=True)
class Check:
    """One check: ``name`` (the report's line), ``inputs(rng)``, ``probe(inp, student)``, ``judge(inp, obs)``."""
    name: str
    inputs: Callable
    probe: Callable
    judge: Callable


# ---------------------------------------------------------------- child side
def _plain_array(value):
    """A copy of ``value`` if it is a numeric np.ndarray, else None."""
    if type(value) is np.ndarray and value.dtype.kind in "biuf":
        return value.copy()
    return None


def observe_tensor(value):
    """A Tensor as plain data: its type, its ``.data`` (exact type and array), flags and ``.grad``'s array."""
    obs = {"type": type(value).__name__}
    for name in ("requires_grad", "is_leaf"):
        try:
            obs[name] = bool(getattr(value, name))
        except Exception as exc:  # a missing flag is observed, not raised
            obs[name] = f"{type(exc).__name__}: {exc}"
    try:
        data = value.data
        obs["data_type"] = type(data).__name__
        obs["data"] = _plain_array(data)
    except Exception as exc:
        obs["data_type"], obs["data"] = f"{type(exc).__name__}: {exc}", None
    try:
        grad = value.grad
        obs["grad"] = None if grad is None else _plain_array(getattr(grad, "data", grad))
        obs["has_grad"] = grad is not None
    except Exception as exc:
        obs["grad"], obs["has_grad"] = None, f"{type(exc).__name__}: {exc}"
    return obs


def observe_index_array(value):
    """An index field (sorted_indices, batch_sizes) as plain data: its exact type and, if an int ndarray, the values."""
    obs = {"type": type(value).__name__, "values": None}
    if type(value) is np.ndarray and value.dtype.kind in "iu":
        obs["values"] = value.copy()
    return obs


def observe_packed(packed):
    """A packed-sequence object as plain data: its type and its three fields."""
    obs = {"type": type(packed).__name__}
    for field, observe in (("data", observe_tensor), ("sorted_indices", observe_index_array),
                           ("batch_sizes", observe_index_array)):
        try:
            obs[field] = observe(getattr(packed, field))
        except AttributeError as exc:
            obs[field] = f"AttributeError: {exc}"
    return obs


def shape_of(value):
    """The shape of a Tensor's data as a tuple, or None if it has none (duck-typed, never raises)."""
    try:
        return tuple(int(n) for n in value.data.shape)
    except Exception:
        return None


def build_key(parts):
    """The index a key description stands for: ints stay ints, [start, stop, step] lists become slices."""
    key = tuple(slice(*p) if isinstance(p, list) else int(p) for p in parts)
    return key[0] if len(key) == 1 else key


def packed_input(student, batch):
    """A packed sequence of the student's own type holding the right fields, its data a fresh leaf.

    Built by the student's ``pack_sequence`` (so a layer that checks the type
    accepts it), then its fields are set to the values the inputs hold
    (``batch["packed"]``, ``batch["sorted_indices"]``, ``batch["batch_sizes"]``):
    a check of unpack_sequence or of a layer does not depend on pack_sequence
    being right. Should pack_sequence itself fail, a plain object with the
    three fields stands in. Returns (packed, the data leaf).
    """
    T = student("mytorch.tensor")
    leaf = T.Tensor(np.array(batch["packed"]), requires_grad=True)
    fields = {"data": leaf, "sorted_indices": np.array(batch["sorted_indices"]),
              "batch_sizes": np.array(batch["batch_sizes"])}
    try:
        packed = student("mytorch.nn.util").pack_sequence([T.Tensor(np.array(a)) for a in batch["arrays"]])
        if hasattr(packed, "_replace"):  # a named tuple, as PyTorch's
            return packed._replace(**fields), leaf
        for name, value in fields.items():
            setattr(packed, name, value)
        return packed, leaf
    except Exception:  # the grader of pack_sequence reports this; here only the layer is graded
        return types.SimpleNamespace(**fields), leaf


def set_parameters(module, arrays):
    """Overwrite each named parameter's ``.data`` with a copy of ``arrays[name]``, as the graders do."""
    for name, array in arrays.items():
        getattr(module, name).data = np.array(array, dtype=np.float64)


# ---------------------------------------------------------------- parent side
def fmt(value, limit=160):
    """A short one-line picture of an array."""
    text = np.array2string(np.asarray(value), precision=5, threshold=12, edgeitems=2, max_line_width=10_000,
                           separator=", ")
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def first_difference(got, expected, rtol, atol):
    """The index and the two values of the first element that differs, as text."""
    bad = ~np.isclose(got, expected, rtol=rtol, atol=atol)
    where = tuple(int(i) for i in np.argwhere(bad)[0]) if got.ndim else ()
    return f"first difference at index {list(where)}: got {got[where].item()!r}, expected {expected[where].item()!r}"


def expect_tensor(what, obs, expected, hint="", requires_grad=True, rtol=1e-6, atol=1e-8):
    """``obs`` (observe_tensor) must be a Tensor holding a plain ndarray equal to ``expected``.

    ``requires_grad``: True for a result built from inputs that require grad
    (then it must be a non-leaf), None to skip the flags.
    """
    if not isinstance(obs, dict):
        raise CheckFailure(f"{what}: expected a Tensor, got {obs}. {hint}".strip())
    if obs.get("type") != "Tensor":
        raise CheckFailure(f"{what}: expected a Tensor, got a {obs.get('type')}. {hint}".strip())
    if obs.get("data_type") != "ndarray" or obs.get("data") is None:
        raise CheckFailure(f"{what}: .data must be a plain numeric np.ndarray, got {obs.get('data_type')}. "
                           "Wrap NumPy results with Tensor(array), never a NumPy scalar or a list")
    expect_array(what, obs["data"], expected, hint, rtol, atol)
    if requires_grad:
        if obs.get("requires_grad") is not True or obs.get("is_leaf") is not False:
            raise CheckFailure(
                f"{what}: the values are right, but the result has requires_grad={obs.get('requires_grad')}, "
                f"is_leaf={obs.get('is_leaf')}; built from tensors that require grad, it must be a non-leaf "
                "that requires grad (call your operation through Function.apply, so it joins the graph)")


def expect_array(what, got, expected, hint="", rtol=1e-6, atol=1e-8):
    """An ndarray ``got`` equal in shape and value to ``expected``."""
    expected = np.asarray(expected)
    if type(got) is not np.ndarray or got.dtype.kind not in "biuf":
        raise CheckFailure(f"{what}: expected a numeric np.ndarray, got {type(got).__name__}. {hint}".strip())
    if got.shape != expected.shape:
        raise CheckFailure(f"{what}: expected shape {expected.shape}, got shape {got.shape}. {hint}".strip())
    if not np.allclose(got, expected, rtol=rtol, atol=atol, equal_nan=False):
        raise CheckFailure(f"{what}: wrong values; expected {fmt(expected)}, got {fmt(got)} "
                           f"({first_difference(got, expected, rtol, atol)}). {hint}".strip())


def expect_grad(what, obs, expected, hint="", rtol=1e-6, atol=1e-8):
    """The gradient ``obs["grad"]`` of a leaf (observe_tensor) equals ``expected``."""
    if not isinstance(obs, dict) or obs.get("has_grad") is not True:
        has = obs.get("has_grad") if isinstance(obs, dict) else obs
        raise CheckFailure(f"{what}: no gradient reached it (.grad is {has if has is not False else None}). "
                           f"{hint}".strip())
    if obs.get("grad") is None:
        raise CheckFailure(f"{what}: .grad must be a Tensor holding a numeric np.ndarray. {hint}".strip())
    expect_array(what, obs["grad"], expected, hint, rtol, atol)


def matches(obs_array, expected, rtol=1e-6, atol=1e-8):
    """True if ``obs_array`` is an ndarray equal to ``expected`` (to recognise a known mistake)."""
    expected = np.asarray(expected)
    return (type(obs_array) is np.ndarray and obs_array.shape == expected.shape
            and bool(np.allclose(obs_array, expected, rtol=rtol, atol=atol)))


def data_of(obs):
    """The array of an observed Tensor, or None."""
    return obs.get("data") if isinstance(obs, dict) else None


def expect_list(what, obs, length, hint=""):
    """``obs`` must be a list of ``length`` observations."""
    if not isinstance(obs, list):
        raise CheckFailure(f"{what}: expected a list of {length} Tensors, got {obs}. {hint}".strip())
    if len(obs) != length:
        raise CheckFailure(f"{what}: expected a list of {length} Tensors, got {len(obs)}. {hint}".strip())
