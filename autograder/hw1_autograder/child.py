"""The process that runs student code for one problem: it answers, it never judges.

``runner.py`` starts ``python3 child.py REQUEST_FD REPLY_FD`` once per
problem, from the copy of the autograder inside the project graded. This
process imports the student's code and does, one request at a time, what the
grader asks on the student's objects (import a module, get or set an
attribute, call, apply an operator, list, repr, run the advisory audit),
replying with raw results only: numbers, strings, numeric arrays, lists of
these, and numbered handles for every other object, which stays here. An
exception in student code is replied as text (its type, message, and the
frames in the student's files).

Nothing here knows an expected value, a seed of the checks, or whether an
answer is right: the grader (``runner.py`` and the checks it imported before
starting this process) computes and compares in its own process. So student
code that patches anything in this process (json, builtins, NumPy, these
functions), reads its frames, or writes to the channel itself can change
only what this process says about the student's objects: a lie about a value
is a wrong value. Messages are bounded and decoded by ``wire.py`` without pickle.
"""
import faulthandler
import itertools
import operator
import os
import signal
import sys

HERE = os.path.dirname(os.path.realpath(__file__))
PROJECT_ROOT = os.path.dirname(os.path.dirname(HERE))

import numpy as np  # noqa: E402

import wire  # noqa: E402

# Bounds of what one reply describes: the grader's decoder refuses more anyway.
MAX_LISTED = 10_000  # items of a list, tuple or iterator replied as values
MAX_VALUE_DEPTH = 8  # lists and dicts of lists ... replied as values; deeper ones as handles
MAX_REPR = 2_000
MAX_AUDIT_TEXT = 8_000
# Facts: attribute values sent along with a handle, so that reading them needs no request.
FACT_LEVELS = 2  # an object's facts, and its attributes' facts (t.grad, then t.grad.data)
MAX_FACTS = 32  # attributes of one object
MAX_FACT_ELEMENTS = 4_096  # elements of an array sent as a fact
MAX_FACT_ITEMS = 8  # items of a list or tuple sent as a fact

BINARY = {"add": operator.add, "sub": operator.sub, "mul": operator.mul, "truediv": operator.truediv,
          "matmul": operator.matmul, "pow": operator.pow}
UNARY = {"neg": operator.neg}


class Objects:
    """The student objects the grader holds handles to, kept alive so that handles (and ids) stay unique."""

    def __init__(self):
        self.by_number = {}
        self.by_id = {}

    def handle(self, obj, level=FACT_LEVELS):
        """The handle of ``obj``, with its facts (``level`` of them: 0 for none)."""
        number = self.by_id.get(id(obj))
        if number is None:
            number = len(self.by_number) + 1
            self.by_number[number] = obj
            self.by_id[id(obj)] = number
        try:
            name = type(obj).__name__
        except Exception:  # noqa: BLE001  (a metaclass may lie)
            name = "object"
        return wire.Handle(number, str(name)[:100], facts_of(obj, self, level) if level > 0 else None)

    def get(self, handle):
        if handle.number not in self.by_number:
            raise LookupError(f"grader protocol: no object with handle {handle.number}")
        return self.by_number[handle.number]

    def clear(self):
        self.by_number.clear()
        self.by_id.clear()


def _data_descriptor(kind, name):
    """Whether reading ``name`` on an instance of ``kind`` may run code (a property or similar on the class)."""
    for klass in kind.__mro__:
        attr = klass.__dict__.get(name)
        if attr is not None:
            return hasattr(type(attr), "__set__") or hasattr(type(attr), "__delete__")
    return False


_NOT_A_FACT = object()


def facts_of(obj, objects, level):
    """{name: value} of the attributes of ``obj`` that ``getattr`` reads from its ``__dict__`` without
    running any of its code, as the grader may see them; None if there are none to trust.

    Exact at the time of the reply: the grader uses them only until its next
    request, which may run student code that changes them.
    """
    kind = type(obj)
    try:
        if kind.__getattribute__ is not object.__getattribute__:
            return None  # a class, a module, or an object that decides itself what an attribute is
        namespace = object.__getattribute__(obj, "__dict__")
    except Exception:  # noqa: BLE001  (no __dict__: slots, builtins)
        return None
    if type(namespace) is not dict:
        return None
    facts = {}
    for name, value in list(namespace.items())[:MAX_FACTS]:
        # Public attributes only: the checks read nothing else.
        if type(name) is str and not name.startswith("_") and not _data_descriptor(kind, name):
            fact = _fact(value, objects, level)
            if fact is not _NOT_A_FACT:
                facts[name] = fact
    return facts


def _fact(value, objects, level):
    kind = type(value)
    if value is None or kind in (bool, int, float, str):
        return value if kind is not str or len(value) <= MAX_REPR else _NOT_A_FACT
    if isinstance(value, np.generic) and value.dtype.kind in wire.NUMERIC_KINDS:
        return value
    if kind is np.ndarray:
        if value.dtype.kind not in wire.NUMERIC_KINDS or value.size > MAX_FACT_ELEMENTS:
            return _NOT_A_FACT
        return value.copy()
    if kind in (list, tuple):
        if len(value) > MAX_FACT_ITEMS:
            return _NOT_A_FACT
        items = [_fact(item, objects, level) for item in value]
        if any(item is _NOT_A_FACT for item in items):
            return _NOT_A_FACT
        return items if kind is list else tuple(items)
    return objects.handle(value, level - 1)


def export(value, objects, depth=0):
    """``value`` as the grader may see it: plain data stays data, anything else becomes a handle."""
    kind = type(value)
    if value is None or kind in (bool, int, float, str):
        return value
    if isinstance(value, np.generic) and value.dtype.kind in wire.NUMERIC_KINDS:
        return value
    if kind is np.ndarray and value.dtype.kind in wire.NUMERIC_KINDS:
        return value.copy()
    if kind in (list, tuple) and depth < MAX_VALUE_DEPTH and len(value) <= MAX_LISTED:
        items = [export(item, objects, depth + 1) for item in value]
        return items if kind is list else tuple(items)
    if kind is dict and depth < MAX_VALUE_DEPTH and len(value) <= MAX_LISTED and \
            all(type(key) in (str, int) for key in value):
        return {key: export(item, objects, depth + 1) for key, item in value.items()}
    return objects.handle(value)


def adopt(value, objects):
    """A request's argument as an object here: handles become the objects they name."""
    if isinstance(value, wire.Handle):
        return objects.get(value)
    if type(value) in (list, tuple):
        items = [adopt(item, objects) for item in value]
        return items if type(value) is list else tuple(items)
    if type(value) is dict:
        return {key: adopt(item, objects) for key, item in value.items()}
    return value


def describe_exception(exc, harness):
    """What the grader reports about an exception raised by student code: text only, bounded."""
    try:
        info = harness.exception_info(exc)
        info.pop("caller", None)  # this process's line is the dispatcher's; the grader names the check's
        return info
    except BaseException:  # noqa: B902  (an exception whose str() raises, and worse)
        return {"type": "?", "bases": [], "frames": [], "message": "(an exception that could not be described)",
                "str": ""}


# A request's arguments that are plain data, not student objects (whose facts a reply refreshes).
_PLAIN = (type(None), bool, int, float, str, bytes, list, tuple, dict, np.ndarray, np.generic)


class Server:
    """Answers the grader's requests, one at a time, until told to stop."""

    def __init__(self, requests, replies, harness):
        self.requests = requests
        self.replies = replies
        self.harness = harness
        self.objects = Objects()

    # Each operation takes the adopted arguments and returns a value to export.
    def op_import(self, name):
        return self.harness.student(str(name))

    def op_getattr(self, obj, name):
        return getattr(obj, str(name))

    def op_setattr(self, obj, name, value):
        setattr(obj, str(name), value)

    def op_call(self, obj, args, kwargs):
        return obj(*args, **{str(k): v for k, v in kwargs.items()})

    def op_binary(self, name, a, b):
        return BINARY[name](a, b)

    def op_unary(self, name, a):
        return UNARY[name](a)

    def op_list(self, obj):
        items = list(itertools.islice(iter(obj), MAX_LISTED + 1))
        if len(items) > MAX_LISTED:
            raise ValueError(f"more than {MAX_LISTED} items")
        return items

    def op_repr(self, obj):
        return str(repr(obj))[:MAX_REPR]

    def op_legacy_seed(self, seed):
        np.random.seed(int(seed) % (2 ** 32))

    def op_reset(self):
        self.objects.clear()

    def op_audit(self, seed, budget, crash_site):
        import audit
        found, note = audit.audit_note(self.harness.student, int(seed), float(budget), crash_site=crash_site)
        return [bool(found), str(note or "")[:MAX_AUDIT_TEXT]]

    def op_probe(self, module, function, inputs):
        # The check module from this folder (not from the project, which is first on sys.path now).
        name = str(module)
        if name not in sys.modules:
            import importlib.util
            spec = importlib.util.spec_from_file_location(name, os.path.join(HERE, os.path.basename(name) + ".py"))
            loaded = importlib.util.module_from_spec(spec)
            sys.modules[name] = loaded
            spec.loader.exec_module(loaded)
        return getattr(sys.modules[name], str(function))(inputs, self.harness.student)

    def serve(self):
        wire.send(self.replies, ["ready"])
        reader = wire.Reader(self.requests)
        while True:
            request = reader.receive()
            number, op, args = request
            if op == "bye":
                return
            try:
                method = getattr(self, "op_" + op)
                adopted = adopt(args, self.objects)
                result = export(method(*adopted), self.objects)
                # The objects the request touched, with their facts as they are now.
                touched = [self.objects.handle(a) for a in adopted[:3] if not isinstance(a, _PLAIN)] \
                    if op in ("getattr", "setattr", "call", "binary", "unary") else []
                reply = [number, "ok", result, touched]
            except BaseException as exc:  # noqa: B902  (student code may raise anything, even SystemExit)
                reply = [number, "raise", describe_exception(exc, self.harness)]
            try:
                wire.send(self.replies, reply)
            except BaseException as exc:  # noqa: B902  (too big, or not encodable)
                text = f"the grader could not be told the result ({type(exc).__name__}: {str(exc)[:200]})"
                wire.send(self.replies, [number, "raise", {"type": "ValueError", "bases": ["ValueError"],
                                                           "frames": [], "message": "ValueError: " + text,
                                                           "str": text}])


def main(argv):
    requests, replies = int(argv[1]), int(argv[2])
    faulthandler.enable()  # a crash prints the stack of every thread to the captured stderr
    if hasattr(signal, "SIGUSR1"):
        # The grader sends SIGUSR1 when a problem runs out of time, just before
        # it kills this process, so that the report can show where the code was stuck.
        faulthandler.register(signal.SIGUSR1, all_threads=True)
    import harness  # the autograder's modules before the project root goes on sys.path
    import audit  # noqa: F401
    sys.path.insert(0, PROJECT_ROOT)
    os.chdir(PROJECT_ROOT)
    Server(requests, replies, harness).serve()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001  (student code may have replaced or closed it)
            pass
    # Leave now: student atexit hooks and lingering threads get no chance to run.
    os._exit(0)


CHILD_USAGE = ("usage: child.py REQUESTS_FD REPLIES_FD\n"
               "Answers the grader's requests about the student's code in a process of its own; started "
               "by runner.py, not for direct use. To grade, run ./grade.sh 1 (or runner.py).")


def command_line_problem(argv):
    """Why ``argv`` cannot be the runner's call of this process (one line), or None if it can."""
    if len(argv) != 3:
        return f"expected 2 arguments, got {len(argv) - 1}"
    if not all(arg.isdigit() for arg in argv[1:]):
        return "REQUESTS_FD and REPLIES_FD must be file descriptor numbers"
    return None


if __name__ == "__main__":
    if any(arg in ("-h", "--help") for arg in sys.argv[1:]):
        print(CHILD_USAGE)
        sys.exit(0)
    if command_line_problem(sys.argv):
        print(f"child.py: error: {command_line_problem(sys.argv)} ({CHILD_USAGE.splitlines()[0]}; "
              "run ./grade.sh 1 to grade)", file=sys.stderr)
        sys.exit(2)
    main(sys.argv)
