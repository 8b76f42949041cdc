"""openvz.localexec skips the gRPC server's greeting that the relay may pass on before
the daemon's own preamble, and only a bounded amount of it."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from openvz import execwire
from openvz.error_classes import Error, InvalidArgument
from openvz.localexec import LocalExecSession

# What grpc-core's server sends first: an empty SETTINGS frame and a WINDOW_UPDATE.
GRPC_GREETING = bytes.fromhex("000000040000000000") + bytes.fromhex("0000040800000000000fff0001")


@contextmanager
def daemon_saying(path: Path, answer: bytes) -> Iterator[None]:
    """A one-connection server at path: it reads the client's request, sends answer, closes."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)
    server.settimeout(30)

    def serve() -> None:
        connection, _ = server.accept()
        with connection:
            connection.settimeout(30)
            connection.recv(65536)
            connection.sendall(answer)

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        yield
    finally:
        thread.join(timeout=30)
        server.close()


def test_grpc_bytes_before_the_preamble_are_skipped(tmp_path: Path) -> None:
    exit_frame = execwire.frame(execwire.EXIT, execwire.exit_payload(3, ""))
    answer = (
        GRPC_GREETING
        + execwire.PREAMBLE
        + execwire.frame(execwire.STARTED)
        + execwire.frame(execwire.STDOUT, b"out")
        + exit_frame
    )
    null = os.open(os.devnull, os.O_RDONLY)
    read_end, write_end = os.pipe()
    try:
        with (
            daemon_saying(tmp_path / "s", answer),
            LocalExecSession.start(str(tmp_path / "s"), "101", ["true"]) as run,
        ):
            assert run.relay(null, write_end, write_end, pty=False) == 3
        assert os.read(read_end, 100) == b"out"
    finally:
        for fd in (null, read_end, write_end):
            os.close(fd)


def test_a_peer_that_never_says_the_preamble_is_refused(tmp_path: Path) -> None:
    answer = b"\0" * (execwire.MAX_GREETING + len(execwire.PREAMBLE) + 1) + execwire.PREAMBLE
    with daemon_saying(tmp_path / "s", answer), pytest.raises(Error, match="does not speak"):
        LocalExecSession.start(str(tmp_path / "s"), "101", ["true"])


@pytest.mark.parametrize(
    ("argv", "env", "why"),
    [
        (["a\0b"], {}, "NUL"),
        (["true"], {"A=B": "c"}, "not an environment variable's name"),
        (["\udcff"], {}, "not valid UTF-8"),
    ],
)
def test_what_the_wire_cannot_carry_is_refused_before_connecting(
    tmp_path: Path, argv: list[str], env: dict[str, str], why: str
) -> None:
    """No daemon listens at the path: the refusal comes before any connection."""
    with pytest.raises(InvalidArgument, match=why):
        LocalExecSession.start(str(tmp_path / "none"), "101", argv, env=env)
