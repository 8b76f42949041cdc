"""XDR (RFC 4506) as libvirt's rpcgen output uses it: struct-based primitives.

Everything is big-endian and padded to 4 bytes. Two rpcgen habits matter:
`opaque` data is packed bytes padded to 4, but a `char`/`unsigned char`/`short`
array takes four bytes per element (each element is an XDR int); the
`*` optional is a 4-byte present flag followed by the value when present.

The unpacker never reads past its buffer and checks every length against what
is left and against the client's own limit for strings (4 MiB), so a hostile
length cannot make it allocate or loop.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from typing import TypeVar

# libvirt's client refuses strings longer than this (REMOTE_STRING_MAX).
STRING_MAX = 4 * 1024 * 1024

_INT = struct.Struct(">i")
_UINT = struct.Struct(">I")
_HYPER = struct.Struct(">q")
_UHYPER = struct.Struct(">Q")
_DOUBLE = struct.Struct(">d")

T = TypeVar("T")


class XdrError(ValueError):
    """Data that is not the XDR the procedure expects (short, too long, out of range)."""


def _pad(length: int) -> int:
    return (4 - length % 4) % 4


class Packer:
    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def data(self) -> bytes:
        return b"".join(self._parts)

    def i32(self, value: int) -> None:
        try:
            self._parts.append(_INT.pack(value))
        except struct.error:
            raise XdrError(f"{value} does not fit an XDR int") from None

    def u32(self, value: int) -> None:
        try:
            self._parts.append(_UINT.pack(value))
        except struct.error:
            raise XdrError(f"{value} does not fit an XDR unsigned int") from None

    def i64(self, value: int) -> None:
        self._parts.append(_HYPER.pack(value))

    def u64(self, value: int) -> None:
        self._parts.append(_UHYPER.pack(value))

    def f64(self, value: float) -> None:
        self._parts.append(_DOUBLE.pack(value))

    def boolean(self, value: bool) -> None:
        self.i32(1 if value else 0)

    def fixed_opaque(self, value: bytes, size: int) -> None:
        if len(value) != size:
            raise XdrError(f"fixed opaque of {size} bytes given {len(value)}")
        self._parts.append(value + b"\0" * _pad(size))

    def opaque(self, value: bytes) -> None:
        self.u32(len(value))
        self._parts.append(value + b"\0" * _pad(len(value)))

    def string(self, value: str) -> None:
        encoded = value.encode("utf-8")
        if len(encoded) > STRING_MAX:
            raise XdrError(f"string of {len(encoded)} bytes is over the limit of {STRING_MAX}")
        self.opaque(encoded)

    def optional(self, value: T | None, pack: Callable[[T], None]) -> None:
        """rpcgen's `T *x`: a present flag, then the value."""
        if value is None:
            self.i32(0)
        else:
            self.i32(1)
            pack(value)

    def array(self, values: Sequence[T], pack: Callable[[T], None]) -> None:
        self.u32(len(values))
        for value in values:
            pack(value)

    def char_array(self, value: bytes) -> None:
        """rpcgen's `char x<>`: a count, then each byte as a 4-byte int."""
        self.u32(len(value))
        for byte in value:
            self.i32(byte - 256 if byte > 127 else byte)

    def fixed_char_array(self, value: bytes, size: int) -> None:
        """rpcgen's `char x[N]`: N 4-byte ints, no count."""
        if len(value) > size:
            raise XdrError(f"{len(value)} bytes do not fit char[{size}]")
        for byte in value.ljust(size, b"\0"):
            self.i32(byte - 256 if byte > 127 else byte)


class Unpacker:
    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    @property
    def remaining(self) -> int:
        return len(self._data) - self._pos

    def done(self) -> None:
        """The whole body was read: trailing bytes mean the caller and we disagree."""
        if self._pos != len(self._data):
            raise XdrError(f"{self.remaining} unexpected bytes after the arguments")

    def _take(self, size: int) -> bytes:
        if size < 0 or size > self.remaining:
            raise XdrError(f"needs {size} more bytes, {self.remaining} left")
        chunk = self._data[self._pos : self._pos + size]
        self._pos += size
        return chunk

    def i32(self) -> int:
        return int(_INT.unpack(self._take(4))[0])

    def u32(self) -> int:
        return int(_UINT.unpack(self._take(4))[0])

    def i64(self) -> int:
        return int(_HYPER.unpack(self._take(8))[0])

    def u64(self) -> int:
        return int(_UHYPER.unpack(self._take(8))[0])

    def f64(self) -> float:
        return float(_DOUBLE.unpack(self._take(8))[0])

    def boolean(self) -> bool:
        value = self.i32()
        if value not in (0, 1):
            raise XdrError(f"a boolean must be 0 or 1, not {value}")
        return value == 1

    def fixed_opaque(self, size: int) -> bytes:
        value = self._take(size)
        self._take(_pad(size))
        return value

    def opaque(self, limit: int = STRING_MAX) -> bytes:
        length = self.u32()
        if length > limit:
            raise XdrError(f"{length} bytes is over the limit of {limit}")
        return self.fixed_opaque(length)

    def string(self, limit: int = STRING_MAX) -> str:
        raw = self.opaque(limit)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise XdrError("a string is not valid UTF-8") from None

    def optional(self, unpack: Callable[[], T]) -> T | None:
        present = self.i32()
        if present == 0:
            return None
        if present != 1:
            raise XdrError(f"an optional's present flag must be 0 or 1, not {present}")
        return unpack()

    def array(self, unpack: Callable[[], T], limit: int) -> list[T]:
        count = self.u32()
        if count > limit:
            raise XdrError(f"{count} elements is over the limit of {limit}")
        # Each element takes at least 4 bytes: a count the data cannot hold is refused
        # before the loop, not after it has run for long.
        if count * 4 > self.remaining:
            raise XdrError(f"{count} elements cannot fit in {self.remaining} bytes")
        return [unpack() for _ in range(count)]

    def char_array(self, limit: int) -> bytes:
        count = self.u32()
        if count > limit:
            raise XdrError(f"{count} chars is over the limit of {limit}")
        raw = self._take(count * 4)
        values = struct.unpack(f">{count}i", raw)
        if any(not -128 <= v <= 255 for v in values):
            raise XdrError("a char array element is out of range")
        return bytes(v & 0xFF for v in values)
