"""The one format on the channel between the grader and a problem's process: bounded, no pickle.

A message is a 4-byte big-endian length and that many bytes: one value in a
small tag-length-value code. Values are None, bool, int, float, str, bytes,
list, tuple, dict (str or int keys), a numeric ``np.ndarray`` or NumPy scalar,
and ``Handle`` (the number of an object that stays in the other process).
Decoding never runs code, never recurses deeper than ``MAX_DEPTH``, and stops
at the first thing over a bound (``MAX_MESSAGE`` bytes, ``MAX_ITEMS`` values,
strings of ``MAX_TEXT`` characters, arrays of numeric dtypes only): it raises
``Malformed``, with a message a student can read, and nothing else.

Both sides use this module: the grader decodes what student code's process
says, so it must hold against anything that process writes.
"""
import os
import select
import struct
import time

import numpy as np

MAX_MESSAGE = 32 * 1024 * 1024  # bytes of one message
MAX_TOTAL = 256 * 1024 * 1024  # bytes a problem's process may send in all (honest grading: under 1 MB)
MAX_DEPTH = 24  # nesting of lists, tuples and dicts
MAX_ITEMS = 200_000  # values in one message
MAX_TEXT = 64 * 1024  # characters of one string
MAX_INT_DIGITS = 80
# Array element kinds allowed: bool, signed and unsigned ints, floats, complex.
NUMERIC_KINDS = "biufc"

_LENGTH = struct.Struct(">I")
_COUNT = struct.Struct(">I")
_FLOAT = struct.Struct(">d")
_HANDLE = struct.Struct(">Q")


class Malformed(Exception):
    """A message broke the format or a bound; the text says which."""


class ChannelClosed(Exception):
    """The other side closed the channel (its process ended) before a whole message arrived."""


class ChannelTimeout(Exception):
    """No whole message arrived before the deadline."""


class Handle:
    """The number of an object that lives in the other process, its type's name (text, for reports),
    and ``facts``: None, or a dict of some of its attributes' values at the time of the message."""

    __slots__ = ("number", "type_name", "facts")

    def __init__(self, number, type_name, facts=None):
        self.number = number
        self.type_name = type_name
        self.facts = facts

    def __repr__(self):
        return f"Handle({self.number}, {self.type_name!r})"


# ------------------------------------------------------------------ encoding
def encode(value):
    """The bytes of ``value`` (without the length prefix); raises Malformed for what the format has no code for."""
    out = []
    _encode(value, out, 0)
    return b"".join(out)


def _encode(value, out, depth):
    if depth > MAX_DEPTH:
        raise Malformed(f"nested deeper than {MAX_DEPTH} levels")
    kind = type(value)
    if kind is Handle:
        name = str(value.type_name)[:200].encode("utf-8", errors="replace")[:255]
        out += [b"h", _HANDLE.pack(value.number), bytes([len(name)]), name]
        if value.facts is not None and type(value.facts) is not dict:
            raise Malformed("a handle's facts that are not a dict")
        _encode(value.facts, out, depth + 1)
    elif kind in (list, tuple):
        out += [b"l" if kind is list else b"t", _COUNT.pack(len(value))]
        for item in value:
            _encode(item, out, depth + 1)
    elif kind is dict:
        out += [b"d", _COUNT.pack(len(value))]
        for key, item in value.items():
            if type(key) not in (str, int):
                raise Malformed(f"a dict key of type {type(key).__name__} (only str and int)")
            _encode(key, out, depth + 1)
            _encode(item, out, depth + 1)
    elif kind is np.ndarray or isinstance(value, np.generic):
        _encode_array(value, out)
    else:
        _encode_atom(value, out)


def _encode_atom(value, out):
    kind = type(value)
    if value is None:
        out.append(b"N")
    elif kind is bool:
        out.append(b"T" if value else b"F")
    elif kind is int:
        digits = str(value).encode()
        if len(digits) > MAX_INT_DIGITS:
            raise Malformed(f"an integer of {len(digits)} digits (at most {MAX_INT_DIGITS})")
        out += [b"i", bytes([len(digits)]), digits]
    elif kind is float:
        out += [b"f", _FLOAT.pack(value)]
    elif kind is str:
        data = value[:MAX_TEXT].encode("utf-8", errors="replace")
        out += [b"s", _COUNT.pack(len(data)), data]
    elif kind is bytes:
        out += [b"b", _COUNT.pack(len(value)), value]
    else:
        raise Malformed(f"no code for a {kind.__name__}")


def _encode_array(value, out):
    array = np.asarray(value)
    if array.dtype.kind not in NUMERIC_KINDS:
        raise Malformed(f"an array of dtype {array.dtype} (only numbers)")
    # astype, not ascontiguousarray, which makes a 0-d array 1-d.
    array = array.astype(array.dtype.newbyteorder("<"), order="C", copy=False)
    code = array.dtype.str.encode()
    out += [b"a" if type(value) is np.ndarray else b"g", bytes([len(code)]), code, bytes([array.ndim])]
    out += [_HANDLE.pack(n) for n in array.shape]
    out.append(array.tobytes())


# ------------------------------------------------------------------ decoding
def decode(data):
    """The value in ``data`` (bytes of one message); raises Malformed, and only that, on anything wrong."""
    if len(data) > MAX_MESSAGE:
        raise Malformed(f"a message of {len(data)} bytes (at most {MAX_MESSAGE})")
    decoder = _Decoder(bytes(data))
    try:
        value = decoder.value(0)
    except Malformed:
        raise
    except (ValueError, TypeError, OverflowError, MemoryError, UnicodeError, struct.error) as exc:
        raise Malformed(f"an undecodable value ({type(exc).__name__})") from None
    if decoder.at != len(decoder.data):
        raise Malformed(f"{len(decoder.data) - decoder.at} bytes after the end of the value")
    return value


_CONSTANTS = {ord("N"): None, ord("T"): True, ord("F"): False}


class _Decoder:
    """Reads one value from ``data``, position ``at``, counting values against MAX_ITEMS."""

    def __init__(self, data):
        self.data = data
        self.at = 0
        self.items = 0
        self.by_tag = {ord("i"): self.integer, ord("f"): self.float, ord("s"): self.text, ord("b"): self.raw,
                       ord("l"): self.list, ord("t"): self.tuple, ord("d"): self.dict, ord("a"): self.array,
                       ord("g"): self.scalar, ord("h"): self.handle}

    def take(self, size):
        at = self.at
        if at + size > len(self.data):
            raise Malformed("a message cut short (a length points past its end)")
        self.at = at + size
        return self.data[at:at + size]

    def byte(self):
        at = self.at
        if at >= len(self.data):
            raise Malformed("a message cut short (a length points past its end)")
        self.at = at + 1
        return self.data[at]

    def count(self):
        at = self.at
        if at + 4 > len(self.data):
            raise Malformed("a message cut short (a length points past its end)")
        self.at = at + 4
        return _COUNT.unpack_from(self.data, at)[0]

    def value(self, depth):
        if depth > MAX_DEPTH:
            raise Malformed(f"nested deeper than {MAX_DEPTH} levels")
        self.items += 1
        if self.items > MAX_ITEMS:
            raise Malformed(f"more than {MAX_ITEMS} values in one message")
        tag = self.byte()
        if tag in _CONSTANTS:
            return _CONSTANTS[tag]
        read = self.by_tag.get(tag)
        if read is None:
            raise Malformed(f"an unknown tag {bytes([tag])!r}")
        return read(depth)

    def integer(self, depth):
        size = self.byte()
        if size > MAX_INT_DIGITS:
            raise Malformed("an integer with too many digits")
        text = self.take(size).decode("ascii")
        if not text.lstrip("-").isdigit():
            raise Malformed("an integer that is not digits")
        return int(text)

    def float(self, depth):
        return _FLOAT.unpack(self.take(8))[0]

    def text(self, depth):
        size = self.count()
        if size > 4 * MAX_TEXT:
            raise Malformed(f"a string of {size} bytes (at most {4 * MAX_TEXT})")
        return self.take(size).decode("utf-8", errors="replace")

    def raw(self, depth):
        return self.take(self.count())

    def list(self, depth):
        size = self.count()
        if size > MAX_ITEMS:
            raise Malformed(f"a list of {size} items (at most {MAX_ITEMS})")
        return [self.value(depth + 1) for _ in range(size)]

    def tuple(self, depth):
        return tuple(self.list(depth))

    def dict(self, depth):
        size = self.count()
        if size > MAX_ITEMS:
            raise Malformed(f"a dict of {size} items (at most {MAX_ITEMS})")
        result = {}
        for _ in range(size):
            key = self.value(depth + 1)
            if type(key) not in (str, int):
                raise Malformed(f"a dict key of type {type(key).__name__}")
            result[key] = self.value(depth + 1)
        return result

    def handle(self, depth):
        number = _HANDLE.unpack(self.take(8))[0]
        name = self.take(self.byte()).decode("utf-8", errors="replace")
        facts = self.value(depth + 1)
        if facts is not None and type(facts) is not dict:
            raise Malformed("a handle's facts that are not a dict")
        return Handle(number, name, facts)

    def scalar(self, depth):
        return self.array(depth, scalar=True)

    def array(self, depth, scalar=False):
        code = self.take(self.byte()).decode("ascii")
        dtype = np.dtype(code)
        if dtype.kind not in NUMERIC_KINDS or dtype.itemsize > 32 or dtype.fields is not None or dtype.subdtype:
            raise Malformed(f"an array of dtype {code!r} (only numbers)")
        ndim = self.byte()
        if ndim > 32:
            raise Malformed(f"an array of {ndim} dimensions")
        shape = tuple(_HANDLE.unpack(self.take(8))[0] for _ in range(ndim))
        size = 1
        for n in shape:
            size *= n
            if size * dtype.itemsize > MAX_MESSAGE:
                raise Malformed(f"an array of shape {shape} (more than {MAX_MESSAGE} bytes)")
        if scalar and ndim:
            raise Malformed("a NumPy scalar with a shape")
        raw = self.take(size * dtype.itemsize)
        array = np.frombuffer(raw, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="), copy=True)
        return array[()] if scalar else array


# ------------------------------------------------------------------ framing
def send(fd, value):
    """Write one message to the file descriptor ``fd``."""
    data = encode(value)
    if len(data) > MAX_MESSAGE:
        raise Malformed(f"a message of {len(data)} bytes (at most {MAX_MESSAGE})")
    view = memoryview(_LENGTH.pack(len(data)) + data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


class Reader:
    """Reads whole messages from a file descriptor, keeping what arrived beyond the current one."""

    def __init__(self, fd, limit=None):
        self.fd = fd
        self.buffer = bytearray()
        self.total = 0  # bytes read so far
        self.limit = limit  # bytes it may read in all, or None

    def _fill(self, size, deadline):
        while len(self.buffer) < size:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise ChannelTimeout()
            ready, _, _ = select.select([self.fd], [], [], remaining)
            if not ready:
                raise ChannelTimeout()
            chunk = os.read(self.fd, max(size - len(self.buffer), 1 << 16))
            if not chunk:
                raise ChannelClosed()
            self.total += len(chunk)
            if self.limit is not None and self.total > self.limit:
                raise Malformed(f"more than {self.limit // 2 ** 20} MB in all")
            self.buffer += chunk

    def receive(self, deadline=None):
        """The next message, decoded (waiting until ``deadline``, a time.monotonic() value)."""
        self._fill(4, deadline)
        size = _LENGTH.unpack(self.buffer[:4])[0]
        if size > MAX_MESSAGE:
            raise Malformed(f"a message announced as {size} bytes (at most {MAX_MESSAGE})")
        self._fill(4 + size, deadline)
        data = bytes(self.buffer[4:4 + size])
        del self.buffer[:4 + size]
        return decode(data)
