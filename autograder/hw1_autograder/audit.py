"""The audit of the student's operations, run when a Part 2 problem fails.

Part 2's layers are built from the student's own operations, so a failed
check there ("wrong gradient for layer 0 weight") can come from any of them.
The audit calls the forward and backward of every ``Function`` subclass that
``mytorch/nn/functional.py`` defines, directly with a ``ContextManager``, on
small random inputs (broadcasting ones included), and compares

* the forward's value with NumPy, for the operations whose meaning is known
  by name (Add, MatMul, ...);
* the backward's gradients with central finite differences of the student's
  own forward (no mytorch code is trusted to compute them);
* the shapes of the gradients with the shapes of the inputs (a gradient that
  was not summed back over broadcast axes);
* the inputs before and after, which an operation must not change.

It names every operation found wrong (the first problem of each), with the input and element and
both values. Operations whose arguments it cannot infer are skipped and
named. It only adds text to a report: it never changes a score, and nothing
the student's code does (raising, exiting, printing, hanging until the time
budget runs out) escapes from it.
"""
import inspect
import signal
import time

import numpy as np

import diagnose

_isclose = np.isclose
# Finite differences: step and tolerances. With h = 1e-6 on inputs of size
# ~1 and outputs summed over ~20 elements, truncation is ~1e-12 and rounding
# ~1e-9; anything beyond rtol 1e-4 + atol 1e-5 is a wrong gradient, not noise.
STEP = 1e-6
RTOL, ATOL = 1e-4, 1e-5


FOUND = "FOUND: "  # the prefix of a verdict that names a broken operation


class AuditTimeout(BaseException):
    """The audit ran out of its time budget (a BaseException, so student ``except Exception`` passes it on)."""


class _Finding(Exception):
    """The first thing found wrong; its message is the audit's verdict."""


class _NotWritten(Exception):
    """An optional operation whose forward or backward is still the kit's stub (NotImplementedError)."""


# The operations the handout leaves to the student's choice (problems.OPTIONAL_OPERATIONS): one
# not written is no finding, only listed once as such.
try:
    from problems import FUNCTIONAL as _FUNCTIONAL, OPTIONAL_OPERATIONS as _OPTIONAL
    OPTIONAL = frozenset(_OPTIONAL.get(_FUNCTIONAL, {}))
except ImportError:  # loaded on its own (tests): the table's names as of this writing
    OPTIONAL = frozenset(("Sum", "Pow", "Exp", "Neg"))


# -------------------------------------------------------------- input specs
def _t(shape, domain="any"):
    """A tensor argument of ``shape``; domain "any" (-2..2), "away" (|x| in 0.5..2), "positive" (0.5..2)."""
    return ("tensor", tuple(shape), domain)


def _is_tensor(spec):
    return isinstance(spec, tuple) and len(spec) == 3 and spec[0] == "tensor"


_BROADCAST = [((3, 4), (3, 4)), ((3, 4), (4,)), ((3, 4), (1, 4)), ((4,), (3, 4)), ((3, 1), (1, 4)), ((3, 4), ())]


def _binary(domain_b="any"):
    return [(_t(a), _t(b, domain_b)) for a, b in _BROADCAST]


def _relu(a):
    return np.where(a > 0, a, 0.0)


def _sum(a, axis=None, keepdims=False):
    return np.sum(a, axis=axis, keepdims=keepdims)


# name -> (cases, NumPy twin of the forward or None). A case lists forward's
# arguments after ctx: tensor specs and plain values.
SPECS = {
    "Add": (_binary(), np.add),
    "Sub": (_binary(), np.subtract),
    "Mul": (_binary(), np.multiply),
    "Div": (_binary("away"), np.divide),
    "MatMul": ([(_t((3, 4)), _t((4, 2))), (_t((2, 3, 4)), _t((4, 2))), (_t((4,)), _t((4, 2))),
                (_t((3, 4)), _t((4,)))], np.matmul),
    "Neg": ([(_t((3, 4)),)], np.negative),
    "Exp": ([(_t((3, 4)),)], np.exp),
    "Log": ([(_t((3, 4), "positive"),)], np.log),
    "ReLU": ([(_t((3, 4), "away"),)], _relu),
    "Sigmoid": ([(_t((3, 4)),)], lambda a: 1 / (1 + np.exp(-a))),
    "Tanh": ([(_t((3, 4)),)], np.tanh),
    "Transpose": ([(_t((3, 4)),)], np.transpose),
    "Reshape": ([(_t((3, 4)), (2, 6))], lambda a, shape: np.reshape(a, shape)),
    "Sum": ([(_t((3, 4)),), (_t((3, 4)), 0), (_t((3, 4)), 1, True), (_t((3, 4)), None, True)], _sum),
    "Pow": ([(_t((3, 4), "positive"), 2), (_t((3, 4), "positive"), 0.5)], np.power),
    # Given in the kit beyond the handout (indexing, max/min): checked too, with their own arguments.
    "GetItem": ([(_t((3, 4)), (1, Ellipsis)), (_t((3, 4)), (slice(None), slice(1, None), Ellipsis)),
                 (_t((3, 4)), (np.array([0, 2, 0]), Ellipsis))], lambda a, key: a[key]),
    "TakeAlongAxis": ([(_t((3, 4)), np.array([[1], [0], [3]]), 1, False)],
                      lambda a, indices, axis, keepdim: np.take_along_axis(a, indices, axis)[:, 0]),
    "Extremum": ([(_t((3, 4)), True), (_t((3, 4)), False)],
                 lambda a, largest: np.max(a) if largest else np.min(a)),
    # float64 to float64: the audit's inputs are float64, and finite differences need its precision.
    "Cast": ([(_t((3, 4)), np.float64)], lambda a, dtype: a.astype(dtype)),
}


def _arity(forward):
    """(required, maximum) number of arguments after ctx, or None if not inferable."""
    try:
        params = list(inspect.signature(forward).parameters.values())
    except (TypeError, ValueError):
        return None
    if not params:
        return None
    params = params[1:]  # ctx
    if any(p.kind == p.VAR_POSITIONAL for p in params):
        return (sum(1 for p in params if p.kind == p.POSITIONAL_OR_KEYWORD and p.default is p.empty), 99)
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return sum(1 for p in positional if p.default is p.empty), len(positional)


def _cases_for(name, cls):
    """(cases, NumPy twin or None), or None when the arguments cannot be inferred."""
    arity = _arity(cls.forward)  # attribute access unwraps the staticmethod (Python 3.9 cannot sign one)
    if arity is None:
        return None
    low, high = arity
    if name in SPECS:
        cases, twin = SPECS[name]
        cases = [c for c in cases if low <= len(c) <= high]
        return (cases, twin) if cases else None
    if low == high and low in (1, 2):  # an unknown elementwise-looking operation: same-shape inputs
        return [tuple(_t((3, 4), "positive") for _ in range(low))], None
    return None


# ---------------------------------------------------------------- running
class _Run:
    def __init__(self, Tensor, ContextManager, rng):
        self.Tensor, self.ContextManager, self.rng = Tensor, ContextManager, rng

    def values(self, case):
        """Concrete arrays for a case's specs (plain values stay as they are)."""
        out = []
        for spec in case:
            if _is_tensor(spec):
                _, shape, domain = spec
                if domain == "any":
                    out.append(self.rng.uniform(-2, 2, shape))
                else:
                    value = self.rng.uniform(0.5, 2, shape)
                    if domain == "away":
                        value = value * self.rng.choice([-1.0, 1.0], shape)
                    out.append(np.asarray(value, dtype=np.float64))
            else:
                out.append(spec)
        return out

    def tensors(self, case, values):
        args = []
        for spec, value in zip(case, values):
            if _is_tensor(spec):
                args.append(self.Tensor(np.array(value, dtype=np.float64), requires_grad=True))
            else:
                args.append(value)
        return args

    def forward(self, cls, case, values):
        ctx = self.ContextManager()
        args = self.tensors(case, values)
        out = cls.forward(ctx, *args)
        return ctx, args, out


def _out_array(name, out):
    data = getattr(out, "data", None)
    if not isinstance(data, np.ndarray):
        raise _Finding(f"{name}.forward returned {type(out).__name__} whose .data is a {type(data).__name__}, "
                       "not an np.ndarray")
    return np.asarray(data, dtype=np.float64)


def _shapes(case, values):
    return ", ".join(str(np.shape(v)) for s, v in zip(case, values) if _is_tensor(s))


def _where(index):
    return f" at {tuple(int(i) for i in index)}" if len(index) else ""


def _audit_case(name, cls, run, case, twin, first):
    """Raise _Finding if the operation is wrong on this case; return quietly otherwise.

    ``first``: the operation's plainest case, where a backward that raises is a verdict.
    """
    values = run.values(case)
    about = f"(inputs of shapes {_shapes(case, values)})"
    try:
        ctx, args, out = run.forward(cls, case, values)
    except Exception as exc:
        if isinstance(exc, NotImplementedError) and name in OPTIONAL:
            raise _NotWritten() from None
        return exc  # an input this operation may legitimately refuse (e.g. broadcasting MatMul); not a verdict
    got = _out_array(name, out)
    _check_forward(name, case, args, values, got, twin, about)
    upstream = run.rng.normal(size=got.shape)
    try:
        grads = cls.backward(ctx, run.Tensor(upstream.copy()))
    except Exception as exc:
        if isinstance(exc, NotImplementedError) and name in OPTIONAL:
            raise _NotWritten() from None
        if not first and not isinstance(exc, NotImplementedError):
            return None  # a backward for plain inputs only (e.g. matrices, not stacks) is enough for Part 2
        raise _Finding(f"{name}.backward raised {type(exc).__name__}: {str(exc)[:200]} {about}") from None
    tensor_positions = [i for i, s in enumerate(case) if _is_tensor(s)]
    if not isinstance(grads, (tuple, list)):
        grads = (grads,)
    pairs = []
    for k, pos in enumerate(tensor_positions):
        pairs.append((_gradient_array(name, grads, k, np.shape(values[pos]), got.shape, about),
                      _finite_difference(cls, run, case, values, pos, upstream)))
    swapped = diagnose.swapped_gradients(name, [g for g, _ in pairs], [e for _, e in pairs])
    if swapped:
        raise _Finding(f"{name}.backward: gradients in swapped order {about}. {swapped}")
    for k, (grad, expected) in enumerate(pairs):
        close = _isclose(grad, expected, rtol=RTOL, atol=ATOL)
        if not close.all():
            index = np.argwhere(~close)[0]
            raise _Finding(f"{name}.backward: gradient for input {k} differs from finite differences"
                           f"{_where(index)}: expected {expected[tuple(index)]:.4g}, got {grad[tuple(index)]:.4g} "
                           f"{about}")
    return None


def _check_forward(name, case, args, values, got, twin, about):
    """Raise _Finding if forward wrote into an input, or (with a NumPy ``twin``) got a wrong value."""
    for i, (spec, arg, value) in enumerate(zip(case, args, values)):
        if _is_tensor(spec):
            if not np.array_equal(getattr(arg, "data", None), value):
                raise _Finding(f"{name}.forward changed its input {i} {about}: an operation must compute "
                               "a new array, never write into an input's .data")
    if twin is not None:
        expected = np.asarray(twin(*values), dtype=np.float64)
        if got.shape != expected.shape:
            raise _Finding(f"{name}.forward: output shape {got.shape}, expected {expected.shape} {about}")
        close = _isclose(got, expected, rtol=1e-7, atol=1e-9)
        if not close.all():
            index = np.argwhere(~close)[0]
            raise _Finding(f"{name}.forward: wrong value{_where(index)} {about}: expected "
                           f"{expected[tuple(index)]:.6g}, got {got[tuple(index)]:.6g}")


def _gradient_array(name, grads, k, shape, out_shape, about):
    """Backward's gradient for tensor input ``k`` as a float64 array of the input's ``shape``, or _Finding."""
    if k >= len(grads) or grads[k] is None:
        raise _Finding(f"{name}.backward returned no gradient for input {k} {about}; expected one per "
                       "tensor input of forward, in order")
    grad = getattr(grads[k], "data", grads[k])
    try:
        grad = np.asarray(grad, dtype=np.float64)
    except Exception:
        raise _Finding(f"{name}.backward: gradient for input {k} is a {type(grads[k]).__name__}, "
                       "not a Tensor of numbers") from None
    if grad.shape != shape:
        hint = (" (it was broadcast in forward: sum the gradient back to the input's shape, "
                "i.e. unbroadcast it)" if grad.shape == out_shape else "")
        raise _Finding(f"{name}.backward: gradient for input {k} has shape {grad.shape}, but that input "
                       f"has shape {shape} {about}{hint}")
    return grad


def _finite_difference(cls, run, case, values, pos, upstream):
    """d sum(forward * upstream) / d values[pos], by central differences of the student's forward."""
    x = np.array(values[pos], dtype=np.float64)
    result = np.zeros_like(x)

    def f(v):
        vals = list(values)
        vals[pos] = v
        _, _, out = run.forward(cls, case, vals)
        return float(np.sum(_out_array(cls.__name__, out) * upstream))

    for i in np.ndindex(x.shape):
        keep = x[i]
        x[i] = keep + STEP
        up = f(x.copy())
        x[i] = keep - STEP
        down = f(x.copy())
        x[i] = keep
        result[i] = (up - down) / (2 * STEP)
    return result


def audit_operations(F, Function, Tensor, ContextManager, seed=0, crash_site=None):
    """The audit's report (text) for the Function subclasses of module ``F``; see ``audit_note``."""
    rng = np.random.default_rng(seed)
    run = _Run(Tensor, ContextManager, rng)
    checked, skipped, refused, found, unwritten = [], [], [], [], []
    for name, cls in list(vars(F).items()):
        if not (isinstance(cls, type) and issubclass(cls, Function) and cls is not Function
                and getattr(cls, "__module__", None) == F.__name__):
            continue
        spec = _cases_for(name, cls)
        if spec is None:
            skipped.append(f"{name} (arguments not inferred)")
            continue
        cases, twin = spec
        try:
            errors = [_audit_case(name, cls, run, case, twin, first=number == 0)
                      for number, case in enumerate(cases)]
        except _Finding as finding:  # noted, and the others still audited: several may be broken
            found.append(f"{finding}\n(mytorch/nn/functional.py, class {name})")
            continue
        except _NotWritten:  # a stub is not broken: listed apart, once
            unwritten.append(name)
            continue
        except AuditTimeout:
            raise
        except BaseException as exc:  # noqa: B902 (odd code, even sys.exit: name it and go on)
            skipped.append(f"{name} ({type(exc).__name__})")
            continue
        if all(errors):  # not one input accepted: nothing was checked
            refused.append(f"{name} ({type(errors[0]).__name__})")
        else:
            checked.append(name)
    not_written = _not_written(unwritten)
    if found:
        found += _shared_cause(found)
        return FOUND + "\n".join(found) + (f"\n{not_written}" if not_written else "")
    text = "no operation found wrong"
    if checked:
        text += f" (checked: {', '.join(checked)})"
    if refused:
        text += f"; forward raised on every input tried: {', '.join(refused)}"
    if skipped:
        text += f"; skipped: {', '.join(skipped)}"
    if not_written:
        text += f"; {not_written}"
    if crash_site:
        return text + f". The error above was raised in your code at {crash_site}: start there"
    return text + (". It tries each operation on its own, away from special points (ReLU at exactly 0), so first "
                   "reread what the failed check's title asks; then look at how they are put together: the engine "
                   "(Function.apply, backward(), AccumulateGrad in mytorch/autograd_engine.py) or the layer itself")


def _shared_cause(found):
    """One more line when several operations show the same unbroadcast mistake: the helper they share."""
    same = [f.rsplit("class ", 1)[-1].rstrip(")") for f in found if "unbroadcast it" in f]
    if len(same) < 2:
        return []
    return [f"{', '.join(same)} all return gradients of the broadcast shape: they share unbroadcast(grad, shape) "
            "(mytorch/nn/functional.py), so look there first: it must sum over the leading axes the input "
            "lacks AND over the axes where the input has size 1 (keepdims)"]


def _not_written(names):
    """The optional operations still stubs (never a finding), as text, or ''."""
    return f"not written (optional): {', '.join(names)}" if names else ""


def audit_note(student, seed=0, budget=5.0, crash_site=None):
    """(whether a broken operation was found, the note to add to a failed Part 2 problem's report).

    ``student(module)`` imports a student module. The audit stops after
    ``budget`` seconds (a hanging operation must not cost the report).
    ``crash_site`` ("path, line N, in function"): where in the student's
    files the failed check's error was raised, if it was; named when no
    operation is found wrong.
    """
    use_alarm = hasattr(signal, "setitimer") and budget > 0

    def on_alarm(signum, frame):
        raise AuditTimeout()

    previous = None
    start = time.monotonic()
    try:
        if use_alarm:
            previous = signal.signal(signal.SIGALRM, on_alarm)
            signal.setitimer(signal.ITIMER_REAL, budget)
        F = student("mytorch.nn.functional")
        engine = student("mytorch.autograd_engine")
        Tensor = student("mytorch.tensor").Tensor
        verdict = audit_operations(F, engine.Function, Tensor, engine.ContextManager, seed, crash_site)
    except AuditTimeout:
        verdict = f"stopped after {time.monotonic() - start:.1f} s (an operation took too long)"
    except BaseException as exc:  # noqa: B902 (student code may raise or exit anything)
        verdict = f"could not run ({type(exc).__name__}: {str(exc)[:200]})"
    finally:
        if use_alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous or signal.SIG_DFL)
    found = verdict.startswith(FOUND)
    if found:
        verdict = verdict[len(FOUND):]
    return found, ("Audit of your operations in mytorch/nn/functional.py (each forward and backward on small "
                   "random inputs, gradients against finite differences):\n  " + verdict)
