"""What every check needs, and the loop that runs a problem's checks: in the GRADER's process.

A check is a function of a ``Context`` that calls student code through
``student("mytorch.tensor")`` and compares what it gets with expected values
it computes itself with NumPy. In the grader, ``student`` returns a
``remote.Remote``: the student's module stays in the problem's own process
(``child.py``), and every use of a student object is a request there, answered
with raw results only (numbers, arrays, text, handles). Expected values and
comparisons never leave the grader, which never imports student code; the
child only gets the inputs it is given. A check may also be split in three
(``Check``): ``inputs(rng)`` here, ``probe(inp, student)`` in the child in one
request, ``judge(inp, obs)`` here.

This module also holds ``CheckFailure``, value and shape comparisons with
concise messages, graph-node checks (handout Appendix A), finite
differences, and traceback trimming to the student's own files (used in the
child, where tracebacks happen, and for the report). Nothing here imports
torch, or mytorch.
"""
import os
import sys
import traceback

import numpy as np

import remote

HERE = os.path.dirname(os.path.realpath(__file__))
# The project this autograder sits in: autograder/hw1_autograder/ -> root.
PROJECT_ROOT = os.path.dirname(os.path.dirname(HERE))
# Where student code lives; tracebacks are trimmed to frames in these.
STUDENT_DIRS = tuple(os.path.join(PROJECT_ROOT, d) + os.sep for d in ("mytorch", "hw1"))

# Bound at import (NumPy is never the student's in this process anyway).
_isclose = np.isclose
_asarray = np.asarray


# Problems that grade the optimizer: the audit speaks there only if it finds a broken operation.
OPTIMIZER_PROBLEMS = ("2.3", "2.6")


class CheckFailure(Exception):
    """A check found a wrong answer; the message says what and where."""


# ---------------------------------------------------------------- formatting
def fmt_array(value, limit=160):
    """A short one-line picture of an array: a few values, never the whole thing."""
    try:
        if remote.is_remote(value):
            raise TypeError("a student object, not numbers")
        array = _asarray(value)
        if array.dtype == object:
            raise TypeError("not numbers")
        text = np.array2string(array, precision=5, threshold=12, edgeitems=2,
                               max_line_width=10_000, separator=", ")
    except Exception:  # an object NumPy cannot print: fall back to repr
        text = safe_repr(value)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def safe_repr(value, limit=160):
    """``repr(value)``, or a description of the object when its repr fails (odd student objects)."""
    try:
        text = repr(value)
    except Exception as exc:  # e.g. a Tensor whose .data is not an array
        text = f"<a {remote.type_name(value)} object whose repr() failed: {remote.type_name(exc)}: {exc}>"
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def describe(value):
    """``Tensor shape (2, 3) [[...]]`` or ``ndarray ...`` or the repr of anything else; never raises."""
    try:
        data = getattr(value, "data", None)
    except Exception:
        data = None
    if isinstance(value, np.ndarray):
        return f"ndarray of shape {value.shape}: {fmt_array(value)}"
    if isinstance(data, np.ndarray):
        return f"{remote.type_name(value)} of shape {data.shape}: {fmt_array(data)}"
    if data is not None and hasattr(data, "data") and not isinstance(value, (int, float, complex)):
        return (f"a {remote.type_name(value)} whose .data holds a {remote.type_name(data)} "
                f"(not an np.ndarray): {describe(data)}")
    return f"{remote.type_name(value)} {fmt_array(value)}"


# --------------------------------------------------------------- comparisons
def require(condition, message):
    """Fail the check with ``message`` unless ``condition`` holds."""
    if not condition:
        raise CheckFailure(message)


def data_of(what, value):
    """The ndarray inside a student Tensor ``value``; fail if it is not a Tensor."""
    try:
        data = getattr(value, "data", None)
    except Exception:
        data = None
    if not isinstance(data, np.ndarray):
        hint = ""
        if data is not None and hasattr(data, "data"):
            hint = ("\nA Tensor inside .data: .data must hold an np.ndarray, so compute new values from arrays "
                    "(e.g. param.data - lr * param.grad.data), not from Tensors.")
        raise CheckFailure(f"{what}: expected a Tensor (whose .data is an np.ndarray), got {describe(value)}{hint}")
    return data


def assert_values(what, got, expected, rtol=1e-6, atol=1e-8):
    """Compare arrays: same shape, and every value close to the expected one."""
    expected = _asarray(expected, dtype=np.float64)
    try:
        got = _asarray(got)
    except Exception:
        raise CheckFailure(f"{what}: expected an array of shape {expected.shape}, got {describe(got)}") from None
    if got.shape != expected.shape:
        raise CheckFailure(
            f"{what}: wrong shape: expected {expected.shape}, got {got.shape}\n"
            f"expected: {fmt_array(expected)}\ngot:      {fmt_array(got)}")
    if got.dtype.kind not in "biuf":
        raise CheckFailure(f"{what}: expected numbers, got an array of dtype {got.dtype}")
    got = got.astype(np.float64)
    close = _isclose(got, expected, rtol=rtol, atol=atol)
    if not close.all():
        bad = np.argwhere(~close)
        first = tuple(int(i) for i in bad[0])
        diff = np.abs(got - expected)
        where = f" at index {first}" if first else ""
        raise CheckFailure(
            f"{what}: wrong values ({len(bad)} of {close.size} differ; first{where}: "
            f"expected {expected[first]:.6g}, got {got[first]:.6g}; "
            f"max abs diff {np.nanmax(np.where(np.isnan(diff), np.inf, diff)):.3g})\n"
            f"expected: {fmt_array(expected)}\ngot:      {fmt_array(got)}")


def assert_tensor(what, value, expected, rtol=1e-6, atol=1e-8):
    """``value`` is a Tensor whose data matches ``expected`` in shape and values."""
    assert_values(what, data_of(what, value), expected, rtol, atol)


def assert_flags(what, tensor, requires_grad, is_leaf):
    """Check ``requires_grad`` and ``is_leaf`` (handout Appendix A.1).

    Not ``grad_fn``: the handout's "store the node on the output tensor" (§0.1.4) has no condition, so a
    constant's result may carry a node; check_constant_results_keep_no_node tells that as a 0-point note.
    """
    got = (getattr(tensor, "requires_grad", "missing"), getattr(tensor, "is_leaf", "missing"))
    require(got == (requires_grad, is_leaf),
            f"{what}: expected requires_grad={requires_grad}, is_leaf={is_leaf}; "
            f"got requires_grad={got[0]}, is_leaf={got[1]}")


def assert_grad(what, tensor, expected, rtol=1e-6, atol=1e-8):
    """``tensor.grad`` is a plain Tensor (no grad, no graph, not a parameter) equal to ``expected``."""
    grad = getattr(tensor, "grad", None)
    require(grad is not None, f"{what}.grad: expected a gradient of shape {np.shape(expected)}, got None "
                              "(did backward reach this tensor?)")
    assert_tensor(f"{what}.grad", grad, expected, rtol, atol)
    require(getattr(grad, "grad", None) is None,
            f"{what}.grad.grad: a gradient has no gradient of its own; expected None")
    require(getattr(grad, "grad_fn", None) is None,
            f"{what}.grad.grad_fn: a gradient is a plain Tensor outside the graph; expected None")
    require(getattr(grad, "is_parameter", False) is False, f"{what}.grad.is_parameter: expected False")


def assert_no_grad(what, tensor):
    """A tensor that needs no gradient must not get one."""
    require(getattr(tensor, "grad", None) is None,
            f"{what}.grad: this tensor has requires_grad=False, so expected None; got {describe(tensor.grad)}")


def node_kind(node):
    """'AccumulateGrad', 'BackwardFunction' or None, the way Appendix A names graph nodes."""
    if node is None:
        return None
    return remote.type_name(node)


def assert_parents(what, tensor, expected):
    """``tensor.grad_fn`` is a BackwardFunction whose ``next_functions`` match ``expected``.

    ``expected`` lists one entry per tensor input of the operation, in order:
    None for a constant, ``("AccumulateGrad", leaf)`` for a leaf that requires
    grad (its node must wrap that very tensor), ``"BackwardFunction"`` for an
    intermediate result.
    """
    node = getattr(tensor, "grad_fn", None)
    require(node_kind(node) == "BackwardFunction",
            f"{what}.grad_fn: expected a BackwardFunction node, got {safe_repr(node)}")
    parents = list(getattr(node, "next_functions", None) or [])
    kinds = [node_kind(p) for p in parents]
    want = [e[0] if isinstance(e, tuple) else e for e in expected]
    require(kinds == want, f"{what}.grad_fn.next_functions: expected node types {want}, got {kinds}")
    for i, (parent, entry) in enumerate(zip(parents, expected)):
        if isinstance(entry, tuple):
            require(getattr(parent, "variable", None) is entry[1],
                    f"{what}.grad_fn.next_functions[{i}]: this AccumulateGrad must hold the input tensor "
                    "itself in .variable (not a copy)")


def assert_parameter(what, tensor, shape):
    """A network parameter: a leaf Tensor that requires grad, ``is_parameter`` True, of ``shape``."""
    data = data_of(what, tensor)
    require(data.shape == tuple(shape), f"{what}: expected shape {tuple(shape)}, got {data.shape}")
    require(getattr(tensor, "is_parameter", None) is True, f"{what}.is_parameter: expected True, got "
                                                           f"{getattr(tensor, 'is_parameter', 'missing')}")
    assert_flags(what, tensor, True, True)


def central_difference(f, x, h=1e-6):
    """d(sum f(x))/dx by central differences; ``f`` maps an array to an array."""
    x = np.array(x, dtype=np.float64)
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        keep = x[i]
        x[i] = keep + h
        up = np.sum(f(x))
        x[i] = keep - h
        down = np.sum(f(x))
        x[i] = keep
        grad[i] = (up - down) / (2 * h)
    return grad


# ---------------------------------------------------------------- tracebacks
def _is_student_file(filename):
    return os.path.realpath(filename).startswith(STUDENT_DIRS)


def student_frame_lines(exc, max_frames=8):
    """The lines of ``exc``'s traceback frames that are in the student's files (a deep recursion cut)."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if _is_student_file(f.filename)]
    lines, skipped = [], 0
    if len(frames) > max_frames:
        half = max_frames // 2
        skipped = len(frames) - 2 * half
        frames = frames[:half] + [None] + frames[-half:]
    for frame in frames:
        if frame is None:
            lines.append(f"  ... {skipped} more frames ...")
            continue
        path = os.path.relpath(os.path.realpath(frame.filename), PROJECT_ROOT)
        lines.append(f'  File "{path}", line {frame.lineno}, in {frame.name}')
        if frame.line:
            lines.append(f"    {frame.line.strip()}")
    return lines


def exception_line(exc):
    """``TypeError: message``, as Python prints an exception's last line."""
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()


# The grader's modules that only carry requests: never "the autograder line that called your code".
_CARRIERS = ("remote.py", "wire.py")


def _caller(every):
    """The last autograder frame of ``every`` before the student's code was entered, or None."""
    caller = None
    for frame in every:
        if _is_student_file(frame.filename):
            break
        path = os.path.realpath(frame.filename)
        if path.startswith(HERE + os.sep) and os.path.basename(path) not in _CARRIERS:
            caller = frame
    return caller


def student_traceback(exc, max_frames=8, with_caller=True):
    """The frames of ``exc``'s traceback that are in the student's files, then the error line.

    Library frames are dropped, and of the autograder's only the line that
    called into the student's code: the student needs to know where in
    *their* code things went wrong. A deep recursion is cut to its first and
    last frames. For an exception of the student's process (a
    ``remote.RemoteError``) the frames and the error line are the ones that
    process sent, as text; the calling line is the check's, here.
    """
    every = traceback.extract_tb(exc.__traceback__)
    if isinstance(exc, remote.RemoteError):
        frames, message = exc.remote_frames, exc.remote_message
    else:
        frames, message = student_frame_lines(exc, max_frames), exception_line(exc)
    lines = []
    caller = _caller(every) if with_caller else None
    if getattr(exc, "remote_caller", None) and frames:
        lines.append(exc.remote_caller)  # a probe's own line, in the student's process
    elif caller is not None and frames:
        lines.append(f"  called by the autograder ({os.path.basename(caller.filename)}, line {caller.lineno}): "
                     f"{(caller.line or '').strip()}")
    lines += frames
    if not frames and with_caller:
        where = caller if isinstance(exc, remote.RemoteError) else (every[-1] if every else None)
        place = f" ({os.path.basename(where.filename)}, line {where.lineno})" if where else ""
        lines.append(f"  (raised outside your files{place})")
    lines.append(message)
    return "\n".join(lines)


# ---------------------------------------------------------------- running
def note(check):
    """Mark ``check`` as a 0-point note: it runs and its message is shown, but it never costs points.

    For behaviour the handout does not ask for (what PyTorch would do where
    the handout leaves it open): worth telling a student, never worth a score.
    The problem table's check lists hold notes beside the scored checks.
    """
    check.zero_points = True
    return check


def student_frames(exc):
    """The frames of ``exc``'s traceback in the student's files: ``(path from the project root, line, function)``."""
    return [(os.path.relpath(os.path.realpath(f.filename), PROJECT_ROOT), f.lineno, f.name)
            for f in traceback.extract_tb(exc.__traceback__) if _is_student_file(f.filename)]


def _beside(name):
    """The autograder module ``name`` (a file beside this one), imported once under that name."""
    if name not in sys.modules:
        import importlib.util
        spec = importlib.util.spec_from_file_location(name, os.path.join(HERE, name + ".py"))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[name] = module
    return sys.modules[name]


def crash_report(exc):
    """(message, where) for ``exc`` raised by student code: the trimmed traceback and a named cause,
    and the innermost student frame as text (None if it was raised outside the student's files)."""
    diagnose = _beside("diagnose")  # plain data in, text out
    if isinstance(exc, remote.RemoteError):  # raised in the student's process: its frames came as data
        kind, frames = exc.remote_type, exc.remote_sites
    else:
        kind, frames = type(exc).__name__, student_frames(exc)
    hint = diagnose.crash(kind, str(exc), frames)
    return student_traceback(exc) + ("\n" + hint if hint else ""), diagnose.crash_site(frames)


def _report(name, exc):
    """The failed report of check ``name`` that raised ``exc`` (anything but a ChannelError)."""
    if isinstance(exc, CheckFailure) or getattr(exc, "remote_type", None) == "CheckFailure":
        return {"name": name, "passed": False, "message": str(exc)}
    if isinstance(exc, SystemExit) or getattr(exc, "remote_type", None) == "SystemExit":
        code = exc.remote_code if isinstance(exc, remote.RemoteError) else repr(exc.code)
        return {"name": name, "passed": False,
                "message": f"your code called sys.exit({code})\n" + student_traceback(exc)}
    message, where = crash_report(exc)
    report = {"name": name, "passed": False, "message": message}
    if where:
        report["where"] = where
    return report


def check_name(check):
    """What the report calls a check: the first line of its docstring."""
    return (check.__doc__ or check.__name__).strip().splitlines()[0]


def run_checks(checks, context, progress=None):
    """Run every check (even after a failure) and return their reports.

    A report is ``{"name", "passed", "message", "note"}`` (``note``: a
    0-point check, see ``note``), plus ``"where"`` (file, line and function
    in the student's files) when student code raised. Any exception,
    including SystemExit from student code, fails only the check it happened in.
    ``progress(name)`` is called as each check starts. With a connection to
    a student's process (``context.connection``), its handles are dropped
    between checks; when that process can no longer answer (it died, hung,
    or broke the protocol), the checks stop there: ``context.stopped`` holds
    the ``remote.ChannelError`` and ``context.running`` the check's name.
    """
    reports = []
    connection = context.connection
    previous = remote.current()
    remote.set_current(connection)
    try:
        for check in checks:
            name = check_name(check)
            context.running = name
            if progress is not None:
                progress(name)
            try:
                if connection is not None:
                    connection.reset()
                check(context)
            except remote.ChannelError as error:
                context.stopped = error
                break
            except BaseException as exc:  # noqa: B902  (anything student code raises fails this check only)
                if isinstance(exc, KeyboardInterrupt) and not isinstance(exc, remote.RemoteError):
                    raise  # the person running the grader pressed Ctrl-C
                report = _report(name, exc)
            else:
                report = {"name": name, "passed": True, "message": ""}
            report["note"] = bool(getattr(check, "zero_points", False))
            reports.append(report)
    finally:
        remote.set_current(previous)
    return reports


class Context:
    """What a problem's checks share: a seeded random generator, and the connection to the student's process."""

    def __init__(self, seed, connection=None):
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.connection = connection
        self.running = None
        self.stopped = None


class Check:
    """A check split in three: ``inputs(rng)`` and ``judge(inp, obs)`` here, ``probe(inp, student)`` in the child.

    ``inputs`` draws what the probe is given (a dict of arrays, numbers,
    strings); ``probe`` (a function of the check's module, named by
    ``probe_name``, which the child imports from its own copy) calls student
    code and returns raw observations only, never an expected value;
    ``judge`` computes the expected values from ``inp`` and raises
    CheckFailure on a mismatch, treating ``obs`` as untrusted. Without a
    connection (tests) the probe runs here.
    """

    def __init__(self, name, doc, inputs, probe, judge):
        self.__name__ = name  # what problems.CHECK_BASIS knows it by
        self.__doc__ = doc
        self.inputs, self.probe, self.judge = inputs, probe, judge

    def __call__(self, context):
        inp = self.inputs(context.rng)
        connection = context.connection
        if connection is None:
            obs = self.probe(inp, student)
        else:
            obs = connection.request("probe", self.probe.__module__, self.probe.__name__, inp)
        self.judge(inp, obs)


# ---------------------------------------------------------------- probe and judge
def exception_info(exc):
    """An exception of student code as plain data (type, message, student frames, the calling line).

    Made where the exception happened, in the student's process; the grader
    turns it back into an exception of the same kind (``raise_observed``).
    """
    info = {"type": type(exc).__name__[:100],
            "bases": [c.__name__ for c in type(exc).__mro__ if c.__module__ == "builtins"][:8],
            "frames": [line[:2000] for line in student_frame_lines(exc)][:20],
            "sites": [[path[:2000], line, name[:200]] for path, line, name in student_frames(exc)][-50:],
            "message": exception_line(exc)[:4000], "str": str(exc)[:4000]}
    if isinstance(exc, SystemExit):
        info["code"] = repr(exc.code)[:200]
    caller = _caller(traceback.extract_tb(exc.__traceback__))
    if caller is not None and info["frames"]:
        info["caller"] = (f"  called by the autograder ({os.path.basename(caller.filename)}, line {caller.lineno}): "
                          f"{(caller.line or '').strip()}")[:2000]
    return info


def observe_tensor(value):
    """(in a probe) What a judge may learn of a student Tensor: data and flags, or what it is instead."""
    try:
        data = getattr(value, "data", None)
    except Exception:  # noqa: BLE001  (a broken property: not a Tensor as far as the judge is concerned)
        data = None
    if not isinstance(data, np.ndarray) or data.dtype.kind not in "biufc":
        return {"tensor": False, "described": describe(value),
                "nested": data is not None and hasattr(data, "data")}
    return {"tensor": True, "data": np.array(data), "type": type(value).__name__,
            "requires_grad": _plain(getattr(value, "requires_grad", "missing")),
            "is_leaf": _plain(getattr(value, "is_leaf", "missing"))}


def _plain(value):
    return value if value is None or type(value) in (bool, int, float, str) else safe_repr(value)


def observe_error(exc):
    """(in a probe) An exception of student code, for the judge to raise where the probe stopped."""
    return exception_info(exc)


def raise_observed(info):
    """(in a judge) Raise the exception a probe observed (``observe_error``), as student code raised it."""
    try:
        valid = remote.error_info(info)
    except remote.ChannelBroken as broken:
        raise CheckFailure(f"the observation of an error of your code is malformed ({broken})") from None
    raise remote.remote_error_class(valid["bases"])(valid)


def observed(obs, key):
    """(in a judge) ``obs[key]``; if the probe stopped before it, the error that stopped it."""
    if type(obs) is not dict:
        raise CheckFailure(f"the observations of your code's results are not a dict but {remote.type_name(obs)}")
    if key in obs:
        return obs[key]
    if "error" in obs:
        raise_observed(obs["error"])
    raise CheckFailure(f"the observations of your code's results hold no {key!r}")


def judge_tensor(what, obs, expected, rtol=1e-6, atol=1e-8):
    """(in a judge) An observed Tensor (``observe_tensor``) holds ``expected``: ``assert_tensor``'s messages."""
    if type(obs) is not dict or obs.get("tensor") is not True or not isinstance(obs.get("data"), np.ndarray):
        described = obs.get("described") if type(obs) is dict else None
        hint = ""
        if type(obs) is dict and obs.get("nested") is True:
            hint = ("\nA Tensor inside .data: .data must hold an np.ndarray, so compute new values from arrays "
                    "(e.g. param.data - lr * param.grad.data), not from Tensors.")
        raise CheckFailure(f"{what}: expected a Tensor (whose .data is an np.ndarray), got "
                           f"{described if type(described) is str else 'something unreadable'}{hint}")
    assert_values(what, obs["data"], expected, rtol, atol)


# ---------------------------------------------------------------- the student's code
def import_student():
    """Import and return the student's ``mytorch`` from this project (not from anywhere else)."""
    import importlib
    mytorch = importlib.import_module("mytorch")
    where = os.path.realpath(getattr(mytorch, "__file__", "") or "")
    if not where.startswith(STUDENT_DIRS[0]):
        raise CheckFailure(f"imported mytorch from {where}, expected the one in {PROJECT_ROOT}")
    return mytorch


def student(module="mytorch"):
    """A module of the student's project, e.g. ``student("mytorch.nn.linear")``.

    In the grader, a ``remote.Remote`` of the module imported in the
    problem's own process; where no such process is connected (in the child
    itself, and in tests), the module imported here.
    """
    connection = remote.current()
    if connection is not None:
        return connection.request("import", module)
    import importlib
    import_student()
    return importlib.import_module(module)
