"""What a check's two sides share: observing student objects (child) and reading the observations (parent).

A check of HW2P1 is three functions (see problems.py): ``inputs(rng)`` and
``judge(inp, obs)`` run in the parent, which never imports student code;
``probe(inp, student)`` runs in the child, calls the student's code and
returns observations: plain data only (None, bool, int, float, str, numeric
ndarrays, in dicts, lists and tuples).

The child side here turns a student's Tensor into such data (``tensor``) and
records, in ``Steps``, which student call is running, so that an exception
becomes an observation naming that call instead of ending the probe. The
parent side treats every observation as untrusted: ``array`` validates a
Tensor's observation before its values are used, and ``assert_close`` names
the component, what was expected and what was got, and recognises the
mistakes a check lists with their fix.

Neither side imports mytorch; the parent never calls student code.
"""
import collections
import functools

import numpy as np

# One check: ``name`` (the report's line), ``inputs(rng) -> dict``, ``probe(inp, student) -> obs``,
# ``judge(inp, obs)`` (raises CheckFailure).
Check = collections.namedtuple("Check", "name inputs probe judge")


class CheckFailure(Exception):
    """A check found a wrong answer; the message (for the student) says what, where and how to fix it."""


# ---------------------------------------------------------------- child side
def tensor(value):
    """A student's Tensor as plain data: its type, its ``.data`` (a copy, if an ndarray) and its flags."""
    def read(name):
        try:
            return getattr(value, name)
        except Exception:  # a broken property of the student's Tensor
            return None

    data = read("data")
    flags = {name: read(name) for name in ("requires_grad", "is_leaf", "is_parameter")}
    return {
        "type": type(value).__name__,
        "data_type": type(data).__name__,
        "data": np.array(data, copy=True) if isinstance(data, np.ndarray) and data.dtype.kind in "biuf" else None,
        **{name: flag if isinstance(flag, bool) else None for name, flag in flags.items()},
    }


def grad(value):
    """The observation of ``value.grad`` (None when it is None or missing)."""
    g = getattr(value, "grad", None)
    return None if g is None else tensor(g)


class Steps:
    """``with Steps(obs) as step:``, then ``step("what runs next")`` before each student call.

    An exception inside the block is recorded as ``obs["error"] = {"step": ..., "text": ...}``
    and stops the probe there; what was observed before it stays.
    """

    def __init__(self, obs):
        self.obs = obs
        self.current = "the probe"

    def __call__(self, what):
        self.current = what

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if exc is None or not isinstance(exc, Exception):
            return False
        try:
            text = f"{type(exc).__name__}: {exc}"
        except Exception:
            text = type(exc).__name__
        self.obs["error"] = {"step": self.current, "text": text[:2000]}
        return True


# ---------------------------------------------------------------- parent side
class Missing(CheckFailure):
    """An observation the judge needs is not there (the probe stopped early, or it is malformed)."""


def judge(fix):
    """Decorate a judge: a student call that raised is reported when the judge reaches what it left unobserved.

    What was observed before the exception is judged first (a wrong value
    there is the earlier, truer message); ``fix`` (text, or a function of the
    inputs giving it) ends the message about the exception.
    """
    def decorate(body):
        @functools.wraps(body)
        def run(inp, obs):
            if not isinstance(obs, dict):
                raise CheckFailure(f"the check's observations were not readable (got {type(obs).__name__})")
            try:
                body(inp, obs)
            except Missing:
                _raise_error(obs, fix(inp) if callable(fix) else fix)
                raise
            _raise_error(obs, fix(inp) if callable(fix) else fix)
        return run
    return decorate


def _raise_error(obs, fix):
    error = obs.get("error")
    if error is not None:
        step = error.get("step") if isinstance(error, dict) else None
        text = error.get("text") if isinstance(error, dict) else None
        step = step if isinstance(step, str) else "a student call"
        text = text if isinstance(text, str) else shown(error)
        raise CheckFailure(f"{step} raised {text}" + (f"; {fix}" if fix else ""))


def shown(value, limit=200):
    """A short repr of an untrusted observation, for a message."""
    text = " ".join(repr(value).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def strings(value):
    """``value`` if it is a list of str (such as observed type names), else None."""
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return None


def array(what, observed, shape=None, tensor_needed=True):
    """The float64 values of an observed Tensor, after checking it is one, with an ndarray (of ``shape``, if given)."""
    if observed is None:
        raise CheckFailure(f"{what}: expected a Tensor" + (f" of shape {tuple(shape)}" if shape else "") + ", got None")
    if not isinstance(observed, dict) or "data" not in observed:
        raise CheckFailure(f"{what}: the observation is not readable")
    if tensor_needed and strings([observed.get("type")]) != ["Tensor"]:
        raise CheckFailure(f"{what}: expected a Tensor, got a {shown(observed.get('type'))}")
    data = observed["data"]
    if not isinstance(data, np.ndarray) or data.dtype.kind not in "biuf":
        raise CheckFailure(f"{what}: expected .data to be a numeric np.ndarray, got a "
                           f"{shown(observed.get('data_type'))}")
    if strings([observed.get("data_type")]) != ["ndarray"]:  # graders check the exact type
        raise CheckFailure(f"{what}: expected .data to be exactly an np.ndarray (graders check the type), got a "
                           f"{shown(observed.get('data_type'))}")
    if shape is not None and data.shape != tuple(shape):
        raise CheckFailure(f"{what}: expected shape {tuple(shape)}, got {data.shape}")
    return data.astype(np.float64)


def item(container, key, what):
    """``container[key]`` of an untrusted observation, or a CheckFailure saying it is missing."""
    try:
        return container[key]
    except (KeyError, IndexError, TypeError):
        raise Missing(f"{what}: not observed (the probe's observations are incomplete)") from None


def _show(values, limit=6):
    flat = np.asarray(values).ravel()
    text = np.array2string(flat[:limit], precision=5, separator=", ")
    return text[:-1] + ", ...]" if flat.size > limit else text


def assert_close(what, got, expected, fix, mistakes=(), shapes=(), rtol=1e-6, atol=1e-8):
    """Compare ``got`` with ``expected``; on a mismatch, name a recognised mistake or show the first difference.

    ``mistakes``: (array, explanation) pairs, what a known wrong solution
    gives and how to fix it; one equal to ``got`` becomes the message.
    ``shapes``: (shape, explanation) pairs, the same for a wrong shape alone.
    ``fix`` says where to look when no listed mistake matches.
    """
    if got.shape == expected.shape and np.allclose(got, expected, rtol=rtol, atol=atol):
        return
    for wrong, explanation in mistakes:
        wrong = np.asarray(wrong)
        if wrong.shape == got.shape and np.allclose(got, wrong, rtol=rtol, atol=atol, equal_nan=True):
            raise CheckFailure(f"{what}: {explanation}")
    for shape, explanation in shapes:
        if got.shape == tuple(shape) != expected.shape:
            raise CheckFailure(f"{what}: shape {got.shape} instead of {expected.shape}: {explanation}")
    if got.shape != expected.shape:
        raise CheckFailure(f"{what}: expected shape {expected.shape}, got {got.shape}; {fix}")
    if np.isnan(got).any() and not np.isnan(expected).any():
        where = tuple(int(i) for i in np.argwhere(np.isnan(got))[0])
        raise CheckFailure(f"{what}: NaN at {where} (expected {expected[where]:.6g}); {fix}")
    bad = ~np.isclose(got, expected, rtol=rtol, atol=atol)
    where = tuple(int(i) for i in np.argwhere(bad)[0])
    raise CheckFailure(f"{what}: {int(bad.sum())} of {bad.size} values differ, first at {where}: expected "
                       f"{expected[where]:.6g}, got {got[where]:.6g} (expected {_show(expected)}, got "
                       f"{_show(got)}); {fix}")
