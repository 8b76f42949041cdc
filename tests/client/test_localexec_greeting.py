"""openvz.localexec skips the gRPC server's greeting that the relay may pass on before
the daemon's own preamble, and only a bounded amount of it."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from openvz import execwire
from openvz.error_classes import Error
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
    exit_frame = execwire.frame(execwire.EXIT, json.dumps({"status": 3, "reason": ""}).encode())
    answer = (
        GRPC_GREETING
        + execwire.PREAMBLE
        + execwire.frame(execwire.STARTED)
        + execwire.frame(execwire.STDOUT, b"out")
        + exit_frame
    )
    with (
        daemon_saying(tmp_path / "s", answer),
        LocalExecSession.start(str(tmp_path / "s"), "101", ["true"]) as run,
    ):
        assert list(run) == [("stdout", b"out")]
    assert run.exit_status == 3


def test_a_peer_that_never_says_the_preamble_is_refused(tmp_path: Path) -> None:
    answer = b"\0" * (execwire.MAX_GREETING + len(execwire.PREAMBLE) + 1) + execwire.PREAMBLE
    with daemon_saying(tmp_path / "s", answer), pytest.raises(Error, match="does not speak"):
        LocalExecSession.start(str(tmp_path / "s"), "101", ["true"])
