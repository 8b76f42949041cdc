"""The wire of openvz+tcp: a SASL-style handshake in length-prefixed frames,
then the gRPC byte stream.

Every frame is a 4-byte big-endian length and a payload. During the handshake a
payload starts with one kind byte:

    server -> client   H "openvz-sasl/1" SP mechanism *(SP mechanism)   greeting
    client -> server   S mechanism NUL initial-token                     start
    server -> client   C token                                           challenge
    client -> server   T token                                           response
    server -> client   K final-token                                     success
    server -> client   F message (UTF-8)                                 failure, then close

After K, a GSSAPI session carries the gRPC stream in frames that are each one
GSS wrap token with confidentiality (and Kerberos' integrity, replay and
sequence checks); a frame that is not confidential ends the session. A
SCRAM-SHA-256 session carries the gRPC stream as plain bytes, unframed.
"""

from __future__ import annotations

import asyncio
import struct
from typing import Any

PROTOCOL = b"openvz-sasl/1"
GSSAPI = "GSSAPI"
SCRAM_SHA_256 = "SCRAM-SHA-256"
MECHANISMS = (GSSAPI, SCRAM_SHA_256)

GREETING, START, CHALLENGE, RESPONSE, SUCCESS, FAILURE = b"H", b"S", b"C", b"T", b"K", b"F"

MAX_HANDSHAKE_FRAME = 64 * 1024
# Plaintext per GSS frame; the wrap token adds a few dozen bytes.
DATA_CHUNK = 64 * 1024
MAX_DATA_FRAME = DATA_CHUNK + 4096

_LENGTH = struct.Struct(">I")


class WireError(Exception):
    """The peer broke the protocol: an oversized, truncated or unexpected frame."""


def frame(payload: bytes) -> bytes:
    return _LENGTH.pack(len(payload)) + payload


async def read_frame(reader: asyncio.StreamReader, limit: int) -> bytes | None:
    """The next frame's payload; None at a clean end of stream between frames."""
    try:
        header = await reader.readexactly(_LENGTH.size)
    except asyncio.IncompleteReadError as err:
        if not err.partial:
            return None
        raise WireError("the stream ended inside a frame header") from None
    (length,) = _LENGTH.unpack(header)
    if length > limit:
        raise WireError(f"a frame of {length} bytes exceeds the limit of {limit}")
    try:
        return await reader.readexactly(length)
    except asyncio.IncompleteReadError:
        raise WireError("the stream ended inside a frame") from None


def split_kind(payload: bytes) -> tuple[bytes, bytes]:
    if not payload:
        raise WireError("an empty handshake frame")
    return payload[:1], payload[1:]


def greeting(mechanisms: list[str]) -> bytes:
    return GREETING + b" ".join([PROTOCOL, *(m.encode() for m in mechanisms)])


def parse_greeting(payload: bytes) -> list[str]:
    kind, body = split_kind(payload)
    words = body.split(b" ")
    if kind != GREETING or words[0] != PROTOCOL:
        raise WireError("the server does not speak openvz-sasl/1 (is this an openvzd SASL port?)")
    return [w.decode("ascii", errors="replace") for w in words[1:] if w]


def start(mechanism: str, token: bytes) -> bytes:
    return START + mechanism.encode("ascii") + b"\0" + token


def parse_start(payload: bytes) -> tuple[str, bytes]:
    kind, body = split_kind(payload)
    mechanism, nul, token = body.partition(b"\0")
    if kind != START or not nul:
        raise WireError("expected the client's start frame")
    return mechanism.decode("ascii", errors="replace"), token


def seal(context: Any, data: bytes) -> bytes:
    """data as GSS wrap frames with confidentiality; refuses a context that cannot encrypt."""
    out = bytearray()
    for offset in range(0, len(data), DATA_CHUNK):
        wrapped = context.wrap(data[offset : offset + DATA_CHUNK], True)
        if not wrapped.encrypted:
            raise WireError("the GSSAPI context did not encrypt; refusing to send in the clear")
        out += frame(wrapped.message)
    return bytes(out)


def unseal(context: Any, payload: bytes) -> bytes:
    unwrapped = context.unwrap(payload)
    if not unwrapped.encrypted:
        raise WireError("the peer sent a GSSAPI frame without confidentiality")
    return bytes(unwrapped.message)
