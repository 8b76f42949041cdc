"""libvirt's RPC framing, as the 9.0 client speaks it.

A packet is a 4-byte big-endian length that counts itself, a 24-byte header
(program, version, procedure, type, serial, status) and an XDR body. Replies
echo the call's program, version, procedure and serial; events and keepalive
travel as MESSAGE with serial 0. A failed call is a REPLY with status ERROR
whose body is `remote_error` (see `pack_error`).

The client refuses a packet over 32 MiB (its VIR_NET_MESSAGE_MAX); we refuse
one as large, after reading only its length, and close the connection.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

from openvzd.libvirt.xdr import Packer

REMOTE_PROGRAM = 0x20008086
REMOTE_VERSION = 1
KEEPALIVE_PROGRAM = 0x6B656570
KEEPALIVE_VERSION = 1
KEEPALIVE_PING = 1
KEEPALIVE_PONG = 2

LENGTH_SIZE = 4
HEADER_SIZE = 24
# The largest packet the 9.0 client accepts, length word included.
PACKET_MAX = 32 * 1024 * 1024

_LENGTH = struct.Struct(">I")
_HEADER = struct.Struct(">IIiiIi")


class MessageType(enum.IntEnum):
    CALL = 0
    REPLY = 1
    MESSAGE = 2
    STREAM = 3
    CALL_WITH_FDS = 4
    REPLY_WITH_FDS = 5


class Status(enum.IntEnum):
    OK = 0
    ERROR = 1
    CONTINUE = 2


@dataclass(frozen=True, slots=True)
class Header:
    program: int
    version: int
    procedure: int
    type: int
    serial: int
    status: int


class FramingError(ValueError):
    """A length or header that cannot be a libvirt packet; the connection closes."""


def packet_length(prefix: bytes) -> int:
    """The whole packet's length from its first four bytes, checked against the limits."""
    (length,) = _LENGTH.unpack(prefix)
    if length < LENGTH_SIZE + HEADER_SIZE:
        raise FramingError(f"packet length {length} is shorter than a header")
    if length > PACKET_MAX:
        raise FramingError(f"packet length {length} is over the limit of {PACKET_MAX}")
    return int(length)


def parse_header(data: bytes) -> Header:
    if len(data) < HEADER_SIZE:
        raise FramingError(f"a header needs {HEADER_SIZE} bytes, got {len(data)}")
    return Header(*_HEADER.unpack_from(data))


def encode_packet(header: Header, body: bytes = b"") -> bytes:
    length = LENGTH_SIZE + HEADER_SIZE + len(body)
    if length > PACKET_MAX:
        raise FramingError(f"reply of {length} bytes is over the client's limit of {PACKET_MAX}")
    return (
        _LENGTH.pack(length)
        + _HEADER.pack(
            header.program,
            header.version,
            header.procedure,
            header.type,
            header.serial,
            header.status,
        )
        + body
    )


def reply_header(call: Header, status: Status = Status.OK) -> Header:
    return Header(
        call.program, call.version, call.procedure, MessageType.REPLY, call.serial, status
    )


def message_header(procedure: int, program: int = REMOTE_PROGRAM, version: int = 1) -> Header:
    return Header(program, version, procedure, MessageType.MESSAGE, 0, Status.OK)


def pack_error(code: int, domain: int, message: str, level: int = 2) -> bytes:
    """remote_error{code, domain, string *message, level, dom *, str1-3 *, int1, int2,
    net *}; we fill only code, domain, message and level, as libvirtd does for a
    driver-less error."""
    packer = Packer()
    packer.i32(code)
    packer.i32(domain)
    packer.optional(message, packer.string)
    packer.i32(level)
    packer.i32(0)  # dom: absent
    packer.i32(0)  # str1
    packer.i32(0)  # str2
    packer.i32(0)  # str3
    packer.i32(0)  # int1
    packer.i32(0)  # int2
    packer.i32(0)  # net: absent
    return packer.data()
