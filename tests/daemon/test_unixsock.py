"""Sockets deeper than sun_path's 107 bytes still listen (a deep checkout's `make run`)."""

from __future__ import annotations

import os
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from openvzd.unixsock import SUN_PATH_MAX, listening_unix_socket


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A folder with a short path: pytest's tmp_path grows with its run counter
    (pytest-of-root/pytest-108/...) and was once too long for the shallow case."""
    with tempfile.TemporaryDirectory(dir="/tmp", prefix="us-") as folder:
        yield Path(folder)


@pytest.mark.parametrize("depth", [1, 12])
def test_a_socket_listens_at_its_path_however_deep(short_tmp: Path, depth: int) -> None:
    folder = short_tmp.joinpath(*["a-rather-long-folder-name"] * depth)
    folder.mkdir(parents=True)
    path = folder / "virtopenvzd-sock-ro"
    assert (len(os.fsencode(path)) > SUN_PATH_MAX) == (depth > 1)
    server = listening_unix_socket(path)
    try:
        assert path.is_socket()
        # A client reaches it the same way, through its folder's descriptor.
        handle = os.open(folder, os.O_PATH | os.O_DIRECTORY)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.settimeout(10)
            client.connect(f"/proc/self/fd/{handle}/{path.name}")
            os.close(handle)
            server.setblocking(True)
            server.settimeout(10)
            accepted, _ = server.accept()
            with accepted:
                client.sendall(b"ping")
                assert accepted.recv(4) == b"ping"
    finally:
        server.close()
