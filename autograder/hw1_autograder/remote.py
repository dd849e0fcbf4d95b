"""The grader's side of the channel to a problem's process (``child.py``): student objects at arm's length.

Checks run in the grader's process. What they get from ``harness.student``
is a ``Remote``: a stand-in for an object that lives in the child. Getting an
attribute, calling, an operator (``a * b``, ``3 + t``), ``list()`` or
``repr()`` on it is one request to the child, which does it on the real
object and replies with plain data (numbers, strings, numeric arrays, lists)
or another handle. So the checks read as if the student's code were here,
yet it never is: expected values are computed, and compared, in this
process, which never imports student code, and the child only ever sees the
inputs it is given.

Every reply is untrusted: decoded by ``wire.py`` within its bounds, checked
for its sequence number and shape, and turned into a ``RemoteError`` (an
exception of the student's code, as text), or into ``ChannelBroken``,
``ChildGone`` or ``ChildTimeout``, which end the problem's checks.
"""
import builtins
import os
import threading
import time

import numpy as np

import wire

HERE = os.path.dirname(os.path.realpath(__file__))
MAX_TEXT = 4_000  # characters of an exception message
MAX_LINE = 2_000  # characters of one traceback line


class ChannelError(BaseException):
    """The child can no longer answer: the problem's remaining checks cannot run.

    A BaseException, so that a check's ``except Exception`` never takes it
    for a wrong answer and goes on.
    """


class ChildGone(ChannelError):
    """The child ended (exited, crashed or was killed) before it answered."""


class ChildTimeout(ChannelError):
    """The child used up the problem's time limit waiting for answers."""


class ChannelBroken(ChannelError):
    """The child answered something that breaks the protocol (malformed, oversized, out of turn)."""


class RemoteError(BaseException):
    """An exception raised by student code in the child, as text: its type, message and student frames.

    Each built-in exception class gets a subclass of both this and itself
    (``remote_error_class``), so that a check's ``except TypeError`` or
    ``hasattr`` behave as if the exception had been raised here.
    """

    def __init__(self, info):
        self.remote_type = info["type"]
        self.remote_frames = info["frames"]
        self.remote_sites = info["sites"]
        self.remote_message = info["message"]
        self.remote_code = info.get("code", "?")
        self.remote_caller = info.get("caller")
        BaseException.__init__(self, info["str"])

    def __str__(self):
        return str(self.args[0]) if self.args else ""


# Built-in exceptions a RemoteError may stand for, nearest first (others count as Exception).
_MIRRORED = (AttributeError, TypeError, ValueError, IndexError, KeyError, LookupError, ZeroDivisionError,
             FloatingPointError, OverflowError, ArithmeticError, RecursionError, NotImplementedError,
             RuntimeError, AssertionError, ImportError, NameError, MemoryError, StopIteration, Exception)
_CLASSES = {}


def remote_error_class(bases):
    """The RemoteError subclass for an exception whose built-in ancestors are named ``bases``."""
    mirror = None
    for name in bases:
        candidate = getattr(builtins, str(name), None)
        if candidate in _MIRRORED:
            mirror = candidate
            break
    if mirror is None:
        return RemoteError  # SystemExit, KeyboardInterrupt, ...: a BaseException, like the original
    if mirror not in _CLASSES:
        _CLASSES[mirror] = type(f"Remote{mirror.__name__}", (RemoteError, mirror), {})
    return _CLASSES[mirror]


def error_info(value):
    """The exception description of a reply, validated: every field text of bounded length."""
    if type(value) is not dict:
        raise ChannelBroken("an exception reply that is not a dict")
    info = {}
    for key in ("type", "message", "str"):
        if type(value.get(key)) is not str:
            raise ChannelBroken(f"an exception reply without text {key!r}")
        info[key] = value[key][:MAX_TEXT]
    bases, frames = value.get("bases"), value.get("frames")
    info["bases"] = [b for b in bases if type(b) is str][:8] if type(bases) is list else []
    info["frames"] = [f[:MAX_LINE] for f in frames if type(f) is str][:20] if type(frames) is list else []
    sites = value.get("sites")
    info["sites"] = [(site[0][:MAX_LINE], site[1], site[2][:MAX_LINE]) for site in sites
                     if type(site) is list and len(site) == 3 and type(site[0]) is str and type(site[1]) is int
                     and type(site[2]) is str][-50:] if type(sites) is list else []
    if type(value.get("caller")) is str:
        info["caller"] = value["caller"][:MAX_LINE]
    if type(value.get("code")) is str:
        info["code"] = value["code"][:200]
    return info


class Connection:
    """One child's channel: requests go to ``requests_fd``, replies come from ``replies_fd``."""

    def __init__(self, requests_fd, replies_fd, time_limit, wall_deadline=None):
        self.requests_fd = requests_fd
        self.replies_fd = replies_fd
        # Seconds the child may take to answer, all requests together: the time the checks
        # compute here is the grader's, and does not count against the student's code.
        self.time_limit = time_limit
        self.waited = 0.0
        self.number = 0
        # Bumped by every request: facts (attribute values sent with a handle) are trusted only in
        # the epoch they came in, since any request may run student code that changes them.
        self.epoch = 0
        self.proxies = {}
        self.reader = wire.Reader(replies_fd, wire.MAX_TOTAL)
        # A safety net on the wall clock, the grader's own time included (a child that makes the
        # checks slow, e.g. with the biggest replies allowed, still ends).
        self.wall_deadline = time.monotonic() + 2 * time_limit + 30 if wall_deadline is None else wall_deadline
        self.dead = None  # the ChannelError that ended it, once it has

    # ------------------------------------------------------------- the protocol
    def handshake(self):
        """Wait for the child's first message; raises ChildGone/ChildTimeout/ChannelBroken."""
        reply = self._receive()
        if reply != ["ready"]:
            raise self._die(ChannelBroken("a first message other than the child's greeting"))

    def request(self, op, *args, deadline=None):
        """Ask the child to do ``op`` with ``args``; its result (Remote for objects) or the exception it raised."""
        if self.dead is not None:
            raise self.dead
        self.number += 1
        self.epoch += 1
        message = [self.number, op, [self._export(a) for a in args]]
        try:
            wire.send(self.requests_fd, message)
        except OSError:
            raise self._die(ChildGone("the child's end of the channel is closed")) from None
        reply = self._receive(deadline)
        if type(reply) is not list or len(reply) not in (3, 4) or reply[0] != self.number or \
                reply[1] not in ("ok", "raise"):
            raise self._die(ChannelBroken("a reply out of turn or of the wrong form"))
        if reply[1] == "raise":
            info = error_info(reply[2])
            raise remote_error_class(info["bases"])(info)
        if len(reply) == 4 and type(reply[3]) is list:
            self._adopt(reply[3])  # the objects the request touched: their facts as they are now
        return self._adopt(reply[2])

    def close(self):
        """Tell the child to leave (it may not listen: the runner kills it anyway)."""
        if self.dead is None:
            try:
                wire.send(self.requests_fd, [self.number + 1, "bye", []])
            except (OSError, wire.Malformed):
                pass
            self.dead = ChildGone("closed")

    def reset(self):
        """Forget every handle (between checks): the child may free the objects."""
        self.proxies.clear()
        self.request("reset")

    def _receive(self, deadline=None):
        start = time.monotonic()
        limit = min(start + self.time_limit - self.waited, self.wall_deadline)
        try:
            return self.reader.receive(limit if deadline is None else min(deadline, limit))
        except wire.ChannelTimeout:
            raise self._die(ChildTimeout("no answer in time")) from None
        except wire.ChannelClosed:
            raise self._die(ChildGone("the channel closed")) from None
        except wire.Malformed as exc:
            raise self._die(ChannelBroken(str(exc))) from None
        except OSError as exc:
            raise self._die(ChildGone(f"reading the channel failed ({exc})")) from None
        finally:
            self.waited += time.monotonic() - start

    def _die(self, error):
        self.dead = error
        return error

    # ------------------------------------------------------------- values
    def _export(self, value):
        if isinstance(value, Remote):
            if object.__getattribute__(value, "_conn") is not self:
                raise TypeError("grader error: a Remote of another problem's process")
            return wire.Handle(object.__getattribute__(value, "_number"), "")
        if type(value) in (list, tuple):
            items = [self._export(v) for v in value]
            return items if type(value) is list else tuple(items)
        if type(value) is dict:
            return {k: self._export(v) for k, v in value.items()}
        if value is None or type(value) in (bool, int, float, str, np.ndarray) or isinstance(value, np.generic):
            return value
        raise TypeError(f"grader error: cannot send a {type(value).__name__} to the student's process")

    def _adopt(self, value):
        if type(value) is wire.Handle:
            proxy = self.proxies.get(value.number)
            if proxy is None:
                proxy = self.proxies[value.number] = Remote(self, value.number, value.type_name)
            if value.facts is not None:
                facts = {k: self._adopt(v) for k, v in value.facts.items() if type(k) is str}
                object.__setattr__(proxy, "_facts", (self.epoch, facts))
            return proxy
        if type(value) in (list, tuple):
            items = [self._adopt(v) for v in value]
            return items if type(value) is list else tuple(items)
        if type(value) is dict:
            return {k: self._adopt(v) for k, v in value.items()}
        return value


def _binary(name, reflected=False):
    def method(self, other):
        conn = object.__getattribute__(self, "_conn")
        return conn.request("binary", name, other, self) if reflected else conn.request("binary", name, self, other)
    method.__name__ = f"__{'r' if reflected else ''}{name}__"
    return method


class Remote:
    """A student object that lives in the child; every use is a request there (see the module docstring).

    Identity holds: the same object in the child is the same Remote here (so
    ``is`` and ``id()`` work); ``==`` and hashing are identity, as for plain objects.
    """

    __slots__ = ("_conn", "_number", "_type_name", "_facts", "__weakref__")
    __array_ufunc__ = None  # ndarray <op> Remote: NumPy leaves it to Remote's reflected operator

    def __init__(self, conn, number, type_name):
        object.__setattr__(self, "_conn", conn)
        object.__setattr__(self, "_number", number)
        object.__setattr__(self, "_type_name", type_name)
        object.__setattr__(self, "_facts", (-1, {}))

    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__") or name in Remote.__slots__:
            raise AttributeError(name)  # protocols (__array__, __len__...) are not forwarded
        conn = object.__getattribute__(self, "_conn")
        epoch, facts = object.__getattribute__(self, "_facts")
        if epoch == conn.epoch and name in facts:
            return facts[name]  # what getattr in the child would give now, sent with the last reply
        return conn.request("getattr", self, name)

    def __setattr__(self, name, value):
        object.__getattribute__(self, "_conn").request("setattr", self, name, value)

    def __call__(self, *args, **kwargs):
        return object.__getattribute__(self, "_conn").request("call", self, list(args), kwargs)

    def __iter__(self):
        items = object.__getattribute__(self, "_conn").request("list", self)
        if type(items) is not list:
            raise ChannelBroken("list() replied with something other than a list")
        return iter(items)

    def __repr__(self):
        text = object.__getattribute__(self, "_conn").request("repr", self)
        return text if type(text) is str else "<?>"

    __add__, __radd__ = _binary("add"), _binary("add", True)
    __sub__, __rsub__ = _binary("sub"), _binary("sub", True)
    __mul__, __rmul__ = _binary("mul"), _binary("mul", True)
    __truediv__, __rtruediv__ = _binary("truediv"), _binary("truediv", True)
    __matmul__, __rmatmul__ = _binary("matmul"), _binary("matmul", True)
    __pow__, __rpow__ = _binary("pow"), _binary("pow", True)

    def __neg__(self):
        return object.__getattribute__(self, "_conn").request("unary", "neg", self)


def type_name(value):
    """The name of ``value``'s type; for a Remote, the type of the object it stands for."""
    if isinstance(value, Remote):
        return object.__getattribute__(value, "_type_name")
    return type(value).__name__


def is_remote(value):
    return isinstance(value, Remote)


# The connection of the problem being graded in this thread (the runner may grade several at once).
_current = threading.local()


def current():
    """The Connection of the problem this thread grades, or None (checks run in-process, e.g. in tests)."""
    return getattr(_current, "connection", None)


def set_current(connection):
    _current.connection = connection

