"""What every check of the HW1 bonus uses: the check triple, observations, comparisons.

A check is three functions (the grader's shape, issue 19):

- ``inputs(rng) -> dict``: pure NumPy, from a ``np.random.Generator``; runs in
  the parent. Seeds for NumPy's legacy generator go in the dict as integers.
- ``probe(inp, student) -> dict``: runs in the child, on the student's code
  (``student("mytorch.nn.linear")`` imports a student module); returns raw
  observations only (numbers, strings, ndarrays, in dicts and lists).
- ``judge(inp, obs)``: runs in the parent; computes the expected values with
  NumPy from ``inp``, treats ``obs`` as untrusted, and raises ``CheckFailure``
  with the student-facing message on a mismatch.

Nothing here imports mytorch or torch. ``CheckFailure`` and the observe
helpers stand in for the shared harness's until the HW1 bonus is wired into
it (its phase 2); the checks use only the names below.
"""
from dataclasses import dataclass
from typing import Callable

import numpy as np


class CheckFailure(Exception):
    """A check found a wrong answer; the message says what, where, and how to fix it."""


@dataclass(frozen=True)
class Check:
    """One check: its report name and its three functions (see the module docstring)."""
    name: str
    inputs: Callable
    probe: Callable
    judge: Callable


# ------------------------------------------------------ observing (child side)
def observe_tensor(value):
    """A Tensor as plain data: its type name, ``.data`` (a copy) and what ``.data`` is."""
    data = getattr(value, "data", None)
    return {
        "type": type(value).__name__,
        "data_type": type(data).__name__,
        "data": np.array(data, copy=True) if isinstance(data, np.ndarray) else None,
    }


def observe_grad(tensor):
    """``tensor.grad`` observed, or None when there is none."""
    grad = getattr(tensor, "grad", None)
    return None if grad is None else observe_tensor(grad)


# ------------------------------------------------------- judging (parent side)
def fmt(array):
    """A short one-line picture of an array."""
    text = np.array2string(np.asarray(array), precision=5, threshold=8, edgeitems=2,
                           max_line_width=10_000, separator=", ")
    text = " ".join(text.split())
    return text if len(text) <= 160 else text[:157] + "..."


def array_of(what, observed, shape):
    """The ndarray inside an observed Tensor, validated: a Tensor, a plain np.ndarray, of ``shape``."""
    if not isinstance(observed, dict) or observed.get("type") in (None, "NoneType"):
        raise CheckFailure(f"{what}: expected a Tensor, got None")
    if observed.get("data_type") != "ndarray" or not isinstance(observed.get("data"), np.ndarray):
        raise CheckFailure(
            f"{what}: expected a Tensor whose .data is a plain np.ndarray, got a {observed.get('type')} whose "
            f".data is a {observed.get('data_type')} (the course's graders check the type exactly: keep "
            "every .data an np.ndarray, e.g. a loss as a 0-d array, never an np.float64 or a Tensor)")
    data = observed["data"]
    if data.dtype.kind not in "biuf":
        raise CheckFailure(f"{what}: expected numbers, got an array of dtype {data.dtype}")
    if data.shape != tuple(shape):
        raise CheckFailure(f"{what}: wrong shape: expected {tuple(shape)}, got {data.shape}")
    return data.astype(np.float64)


def matches(got, expected, rtol=1e-6, atol=1e-8):
    """True when ``got`` (validated) equals ``expected`` within the tolerances, NaN never equal."""
    return got.shape == np.shape(expected) and bool(np.all(np.isclose(got, expected, rtol=rtol, atol=atol)))


def mismatch(what, got, expected, rtol=1e-6, atol=1e-8):
    """The message for ``got`` differing from ``expected``, or None when they match."""
    if matches(got, expected, rtol, atol):
        return None
    close = np.isclose(got, expected, rtol=rtol, atol=atol)
    bad = np.argwhere(~close)
    first = tuple(int(i) for i in bad[0]) if bad.size else ()
    where = f" at index {first}" if first else ""
    return (f"{what}: wrong values ({len(bad)} of {close.size} differ; first{where}: expected "
            f"{np.asarray(expected)[first]:.6g}, got {got[first]:.6g})\n"
            f"expected: {fmt(expected)}\ngot:      {fmt(got)}")


def compare(what, observed, expected, hint="", rtol=1e-6, atol=1e-8, diagnose=None):
    """Fail unless the observed Tensor ``observed`` holds ``expected``.

    ``hint`` is appended to the message (the component and what it must do);
    ``diagnose(got)``, if given, may return a sentence naming the mistake the
    values match, which goes before the hint.
    """
    got = array_of(what, observed, np.shape(expected))
    message = mismatch(what, got, expected, rtol, atol)
    if message:
        named = diagnose(got) if diagnose else None
        raise CheckFailure("\n".join(m for m in (message, named, hint) if m))
    return got


def require(condition, message):
    """Fail with ``message`` unless ``condition`` holds."""
    if not condition:
        raise CheckFailure(message)


def listing(what, observed, length):
    """``observed`` validated as a list of ``length`` items."""
    require(isinstance(observed, list) and len(observed) == length,
            f"{what}: expected {length} observations, got "
            f"{len(observed) if isinstance(observed, list) else type(observed).__name__}")
    return observed
