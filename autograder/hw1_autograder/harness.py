"""The child side of the autograder: runs ONE problem in its own process.

``runner.py`` starts ``python3 harness.py PROBLEM_ID RESULT_FD SEED TIMEOUT``
once per problem. This process imports the student's code, runs the
problem's checks, and writes a JSON report to the file descriptor RESULT_FD,
which the parent opened for it. Student code can print what it likes: stdout
and stderr go to files the parent reads as plain text, and the report only
counts if it carries the one-time token the parent wrote into RESULT_FD.

When a Part 2 problem fails, the report is sent, then ``audit.py`` checks
each of the student's operations on its own and the report is sent again with
its verdict added to the first failed check's message (never changing a
score; the audit stops well within the problem's time limit, TIMEOUT or 60 s).

The module also holds what every check needs: ``CheckFailure``, value and
shape comparisons with concise messages, graph-node checks (handout Appendix
A), finite differences, and traceback trimming to the student's own files.
Nothing here imports torch, or mytorch at module level.
"""
import faulthandler
import json
import os
import signal
import sys
import time
import traceback

import numpy as np

HERE = os.path.dirname(os.path.realpath(__file__))
# The project this autograder sits in: autograder/hw1_autograder/ -> root.
PROJECT_ROOT = os.path.dirname(os.path.dirname(HERE))
# Where student code lives; tracebacks are trimmed to frames in these.
STUDENT_DIRS = tuple(os.path.join(PROJECT_ROOT, d) + os.sep for d in ("mytorch", "hw1"))

# Bound now, before any student code runs, so that student code that
# monkeypatches NumPy cannot change how its answers are compared.
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
        text = f"<a {type(value).__name__} object whose repr() failed: {type(exc).__name__}: {exc}>"
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
        return f"{type(value).__name__} of shape {data.shape}: {fmt_array(data)}"
    if data is not None and hasattr(data, "data") and not isinstance(value, (int, float, complex)):
        return (f"a {type(value).__name__} whose .data holds a {type(data).__name__} "
                f"(not an np.ndarray): {describe(data)}")
    return f"{type(value).__name__} {fmt_array(value)}"


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
    """Check ``requires_grad`` and ``is_leaf`` (handout Appendix A.1)."""
    got = (getattr(tensor, "requires_grad", "missing"), getattr(tensor, "is_leaf", "missing"))
    require(got == (requires_grad, is_leaf),
            f"{what}: expected requires_grad={requires_grad}, is_leaf={is_leaf}; "
            f"got requires_grad={got[0]}, is_leaf={got[1]}")
    if not requires_grad:
        require(getattr(tensor, "grad_fn", None) is None,
                f"{what}: a tensor that does not require grad has no graph node, "
                f"but its grad_fn is {safe_repr(getattr(tensor, 'grad_fn', None))}")


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
    return type(node).__name__


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


def student_traceback(exc, max_frames=8):
    """The frames of ``exc``'s traceback that are in the student's files, then the error line.

    Library frames are dropped, and of the autograder's only the line that
    called into the student's code: the student needs to know where in
    *their* code things went wrong. A deep recursion is cut to its first and
    last frames.
    """
    every = traceback.extract_tb(exc.__traceback__)
    frames = [f for f in every if _is_student_file(f.filename)]
    lines = []
    caller = None
    for frame in every:
        if _is_student_file(frame.filename):
            break
        if os.path.realpath(frame.filename).startswith(HERE + os.sep):
            caller = frame
    if caller is not None and frames:
        lines.append(f"  called by the autograder ({os.path.basename(caller.filename)}, line {caller.lineno}): "
                     f"{(caller.line or '').strip()}")
    skipped = 0
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
    message = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    if not frames:
        where = every[-1] if every else None
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
    frames = student_frames(exc)
    hint = diagnose.crash(type(exc).__name__, str(exc), frames)
    return student_traceback(exc) + ("\n" + hint if hint else ""), diagnose.crash_site(frames)


def run_checks(checks, context, progress=None):
    """Run every check (even after a failure) and return their reports.

    A report is ``{"name", "passed", "message", "note"}`` (``note``: a
    0-point check, see ``note``), plus ``"where"`` (file, line and function
    in the student's files) when student code raised. Any exception,
    including SystemExit from student code, fails only the check it happened in.
    ``progress(name)`` is called as each check starts.
    """
    reports = []
    for check in checks:
        name = (check.__doc__ or check.__name__).strip().splitlines()[0]
        report = {"name": name, "passed": False, "message": "", "note": bool(getattr(check, "zero_points", False))}
        if progress is not None:
            progress(name)
        try:
            check(context)
        except CheckFailure as failure:
            report["message"] = str(failure)
        except SystemExit as exc:
            report["message"] = f"your code called sys.exit({exc.code!r})\n" + student_traceback(exc)
        except BaseException as exc:  # noqa: B902  (anything student code raises fails this check only)
            report["message"], where = crash_report(exc)
            if where:
                report["where"] = where
        else:
            report["passed"] = True
        reports.append(report)
    return reports


class Context:
    """What a problem's checks share: a seeded random generator."""

    def __init__(self, seed):
        self.seed = seed
        self.rng = np.random.default_rng(seed)


def import_student():
    """Import and return the student's ``mytorch`` from this project (not from anywhere else)."""
    import importlib
    mytorch = importlib.import_module("mytorch")
    where = os.path.realpath(getattr(mytorch, "__file__", "") or "")
    if not where.startswith(STUDENT_DIRS[0]):
        raise CheckFailure(f"imported mytorch from {where}, expected the one in {PROJECT_ROOT}")
    return mytorch


def student(module="mytorch"):
    """Import a module of the student's project, e.g. ``student("mytorch.nn.linear")``."""
    import importlib
    import_student()
    return importlib.import_module(module)


def main(argv):
    started = time.monotonic()
    problem_id, fd, seed = argv[1], int(argv[2]), int(argv[3])
    timeout = float(argv[4]) if len(argv) > 4 else 60.0
    faulthandler.enable()  # a crash prints the stack of every thread to our captured stderr
    if hasattr(signal, "SIGUSR1"):
        # The parent sends SIGUSR1 when we run out of time, just before it
        # kills us, so that the report can show where the code was stuck.
        faulthandler.register(signal.SIGUSR1, all_threads=True)
    channel = os.fdopen(fd, "r+b", buffering=0)
    token = channel.read().decode()
    channel.seek(0)
    channel.truncate()

    def send(message):
        # One JSON object per line, each with the token: the parent believes
        # only lines that carry it, and only the last one counts.
        channel.write((json.dumps(dict(message, token=token)) + "\n").encode())

    import problems  # autograder modules before the project root goes on sys.path
    problem = problems.BY_ID[problem_id]
    sys.path.insert(0, PROJECT_ROOT)
    os.chdir(PROJECT_ROOT)
    np.random.seed(seed)
    reports = run_checks(problem.checks(), Context(seed), progress=lambda name: send({"running": name}))
    send({"problem": problem_id, "checks": reports})
    failed = [r for r in reports if not r["passed"] and not r["note"]]
    if failed and problem_id.startswith("2"):
        # Part 2 is built from the student's own operations: name the broken one.
        # The report above already counts; the audit only adds to its text.
        budget = min(5.0, timeout - (time.monotonic() - started) - 3.0)
        if budget > 0.5:
            try:
                import audit
                found, verdict = audit.audit_note(student, seed, budget, crash_site=failed[0].get("where"))
            except BaseException:  # noqa: B902 (the audit must never cost the report)
                found, verdict = False, None
            if not found and problem_id in OPTIMIZER_PROBLEMS:
                verdict = None  # the optimizer's own message says it all
            if verdict:
                failed[0]["message"] = (failed[0]["message"] + "\n" + verdict).strip()
                send({"problem": problem_id, "checks": reports})
    channel.close()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # student code may have replaced or closed it
            pass
    # Leave now: student atexit hooks and lingering threads get no chance to run.
    os._exit(0)


if __name__ == "__main__":
    # Run as the module ``harness``, the one the checks import, so that there is
    # one CheckFailure class (not a __main__ copy of it).
    import harness
    harness.main(sys.argv)
