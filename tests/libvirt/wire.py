"""A raw libvirt-protocol client for tests that must send what no real client
would (bad lengths, unknown programs, overlapping calls): our XDR and framing,
a blocking unix socket and a timeout on every read, so a hang fails the test."""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass
from pathlib import Path

from openvzd.libvirt.numbers import Proc
from openvzd.libvirt.protocol import (
    REMOTE_PROGRAM,
    Header,
    MessageType,
    Status,
    encode_packet,
    parse_header,
)
from openvzd.libvirt.xdr import Packer, Unpacker

READ_TIMEOUT = 30.0


@dataclass
class Reply:
    header: Header
    body: bytes

    @property
    def error_code(self) -> int | None:
        if self.header.status != Status.ERROR:
            return None
        return Unpacker(self.body).i32()

    @property
    def error_message(self) -> str:
        unpacker = Unpacker(self.body)
        unpacker.i32()
        unpacker.i32()
        return unpacker.optional(unpacker.string) or ""


class WireClient:
    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(READ_TIMEOUT)
        self.sock.connect(str(path))
        self.serial = 0

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> WireClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send_call(self, procedure: int, body: bytes = b"", program: int = REMOTE_PROGRAM) -> int:
        serial = self.serial
        self.serial += 1
        header = Header(program, 1, procedure, MessageType.CALL, serial, Status.OK)
        self.sock.sendall(encode_packet(header, body))
        return serial

    def send_stream(self, procedure: int, serial: int, status: int, body: bytes = b"") -> None:
        """A STREAM packet of the stream a call with this procedure and serial opened."""
        header = Header(REMOTE_PROGRAM, 1, procedure, MessageType.STREAM, serial, status)
        self.sock.sendall(encode_packet(header, body))

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def receive(self) -> Reply | None:
        """The next packet, or None when the server closed the connection."""
        prefix = self._exactly(4)
        if prefix is None:
            return None
        (length,) = struct.unpack(">I", prefix)
        rest = self._exactly(length - 4)
        if rest is None:
            return None
        return Reply(parse_header(rest), rest[24:])

    def _exactly(self, size: int) -> bytes | None:
        chunks = []
        while size:
            try:
                chunk = self.sock.recv(size)
            except ConnectionResetError:
                return None
            if not chunk:
                return None
            chunks.append(chunk)
            size -= len(chunk)
        return b"".join(chunks)

    def call(self, procedure: int, body: bytes = b"") -> Reply:
        serial = self.send_call(procedure, body)
        while True:
            reply = self.receive()
            assert reply is not None, f"connection closed waiting for the reply to {procedure}"
            if reply.header.type == MessageType.REPLY and reply.header.serial == serial:
                return reply

    def next_for(self, serial: int) -> Reply:
        """The next packet of the call or stream with this serial (events skipped)."""
        while True:
            packet = self.receive()
            assert packet is not None, f"connection closed waiting for serial {serial}"
            if packet.header.type != MessageType.MESSAGE and packet.header.serial == serial:
                return packet

    def open(self, flags: int = 0) -> None:
        assert self.call(Proc.AUTH_LIST).error_code is None
        body = Packer()
        body.optional("openvz:///system", body.string)
        body.u32(flags)
        assert self.call(Proc.CONNECT_OPEN, body.data()).error_code is None
