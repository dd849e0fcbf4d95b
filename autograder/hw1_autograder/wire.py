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
    """The number of an object that lives in the other process, and its type's name (text, for reports)."""

    __slots__ = ("number", "type_name")

    def __init__(self, number, type_name):
        self.number = number
        self.type_name = type_name

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
    if kind in (list, tuple):
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
    elif kind is Handle:
        name = str(value.type_name)[:200].encode("utf-8", errors="replace")[:255]
        out += [b"h", _HANDLE.pack(value.number), bytes([len(name)]), name]
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
class _Reader:
    def __init__(self, data):
        self.data = memoryview(data)
        self.at = 0
        self.items = 0

    def take(self, size):
        if size < 0 or self.at + size > len(self.data):
            raise Malformed("a message cut short (a length points past its end)")
        chunk = self.data[self.at:self.at + size]
        self.at += size
        return chunk

    def count(self):
        return _COUNT.unpack(self.take(4))[0]


def decode(data):
    """The value in ``data`` (bytes of one message); raises Malformed, and only that, on anything wrong."""
    if len(data) > MAX_MESSAGE:
        raise Malformed(f"a message of {len(data)} bytes (at most {MAX_MESSAGE})")
    reader = _Reader(data)
    try:
        value = _decode(reader, 0)
    except Malformed:
        raise
    except (ValueError, TypeError, OverflowError, MemoryError, UnicodeError, struct.error) as exc:
        raise Malformed(f"an undecodable value ({type(exc).__name__})") from None
    if reader.at != len(reader.data):
        raise Malformed(f"{len(reader.data) - reader.at} bytes after the end of the value")
    return value


def _decode(reader, depth):
    if depth > MAX_DEPTH:
        raise Malformed(f"nested deeper than {MAX_DEPTH} levels")
    reader.items += 1
    if reader.items > MAX_ITEMS:
        raise Malformed(f"more than {MAX_ITEMS} values in one message")
    tag = bytes(reader.take(1))
    if tag in _CONSTANTS:
        return _CONSTANTS[tag]
    if tag not in _DECODERS:
        raise Malformed(f"an unknown tag {tag!r}")
    return _DECODERS[tag](reader, depth)


_CONSTANTS = {b"N": None, b"T": True, b"F": False}


def _decode_int(reader, depth):
    size = reader.take(1)[0]
    if size > MAX_INT_DIGITS:
        raise Malformed("an integer with too many digits")
    text = bytes(reader.take(size)).decode("ascii")
    if not text.lstrip("-").isdigit():
        raise Malformed("an integer that is not digits")
    return int(text)


def _decode_str(reader, depth):
    size = reader.count()
    if size > 4 * MAX_TEXT:
        raise Malformed(f"a string of {size} bytes (at most {4 * MAX_TEXT})")
    return bytes(reader.take(size)).decode("utf-8", errors="replace")


def _decode_sequence(reader, depth):
    size = reader.count()
    if size > MAX_ITEMS:
        raise Malformed(f"a list of {size} items (at most {MAX_ITEMS})")
    return [_decode(reader, depth + 1) for _ in range(size)]


def _decode_dict(reader, depth):
    size = reader.count()
    if size > MAX_ITEMS:
        raise Malformed(f"a dict of {size} items (at most {MAX_ITEMS})")
    result = {}
    for _ in range(size):
        key = _decode(reader, depth + 1)
        if type(key) not in (str, int):
            raise Malformed(f"a dict key of type {type(key).__name__}")
        result[key] = _decode(reader, depth + 1)
    return result


def _decode_handle(reader, depth):
    number = _HANDLE.unpack(reader.take(8))[0]
    name = bytes(reader.take(reader.take(1)[0])).decode("utf-8", errors="replace")
    return Handle(number, name)


_DECODERS = {
    b"i": _decode_int,
    b"f": lambda reader, depth: _FLOAT.unpack(reader.take(8))[0],
    b"s": _decode_str,
    b"b": lambda reader, depth: bytes(reader.take(reader.count())),
    b"l": _decode_sequence,
    b"t": lambda reader, depth: tuple(_decode_sequence(reader, depth)),
    b"d": _decode_dict,
    b"a": lambda reader, depth: _decode_array(reader, scalar=False),
    b"g": lambda reader, depth: _decode_array(reader, scalar=True),
    b"h": _decode_handle,
}


def _decode_array(reader, scalar):
    code = bytes(reader.take(reader.take(1)[0])).decode("ascii")
    dtype = np.dtype(code)
    if dtype.kind not in NUMERIC_KINDS or dtype.itemsize > 32 or dtype.fields is not None or dtype.subdtype:
        raise Malformed(f"an array of dtype {code!r} (only numbers)")
    ndim = reader.take(1)[0]
    if ndim > 32:
        raise Malformed(f"an array of {ndim} dimensions")
    shape = tuple(_HANDLE.unpack(reader.take(8))[0] for _ in range(ndim))
    size = 1
    for n in shape:
        size *= n
        if size * dtype.itemsize > MAX_MESSAGE:
            raise Malformed(f"an array of shape {shape} (more than {MAX_MESSAGE} bytes)")
    if scalar and ndim:
        raise Malformed("a NumPy scalar with a shape")
    raw = reader.take(size * dtype.itemsize)
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


def _read_exactly(fd, size, deadline):
    chunks, got = [], 0
    while got < size:
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            raise ChannelTimeout()
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            raise ChannelTimeout()
        chunk = os.read(fd, min(size - got, 1 << 20))
        if not chunk:
            raise ChannelClosed()
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def receive(fd, deadline=None):
    """Read one message from ``fd`` (waiting until ``deadline``, a time.monotonic() value) and decode it."""
    size = _LENGTH.unpack(_read_exactly(fd, 4, deadline))[0]
    if size > MAX_MESSAGE:
        raise Malformed(f"a message announced as {size} bytes (at most {MAX_MESSAGE})")
    return decode(_read_exactly(fd, size, deadline))
