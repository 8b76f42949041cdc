"""Where clients reach the daemon: the unix sockets and the single-instance lock
(systemd's notify protocol is in notify.py).

grpcio unlinks any socket file at the path it binds, a live server's included
(docs/architecture.md, "Facts about the Python stack"), so the single-instance
rule is ours: an flock on run_dir/openvzd.lock, taken before any socket is
touched. Whoever holds the lock owns the sockets; a socket file left by a crashed
daemon is stale by definition and is replaced.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import grpc

log = logging.getLogger(__name__)


class InstanceLocked(Exception):
    """Another openvzd owns the run directory."""


class InstanceLock:
    """An exclusive flock on RUN_DIR/openvzd.lock holding the owner's pid.

    The kernel drops the lock when the process dies, so a crash never leaves
    the host locked; the pid in the file only serves the error message.
    """

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / "openvzd.lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            if err.errno in (errno.EAGAIN, errno.EACCES):
                raise InstanceLocked(
                    f"another openvzd (pid {holder}) already serves {self.path.parent}; "
                    "stop it first, or give this one another run directory"
                ) from None
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


@contextlib.contextmanager
def _umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def bind_unix(server: grpc.aio.Server, path: Path, mode: int, gid: int | None) -> None:
    """Bind server to a unix socket at path with the given mode and group.

    The socket is created under a umask that admits nobody, then opened up to
    `mode`, so there is no moment in which it is more open than configured.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_symlink() or (path.exists() and not path.is_socket()):
        raise OSError(
            errno.EEXIST, f"{path} exists and is not a socket; remove it or choose another path"
        )
    with _umask(0o177):
        server.add_insecure_port(f"unix:{path}")
    if gid is not None:
        os.chown(path, -1, gid)
    os.chmod(path, mode)


MAX_CALLS_PER_CONNECTION = 64


def server_options(
    max_message_bytes: int,
    max_calls_per_connection: int = MAX_CALLS_PER_CONNECTION,
    max_connections: int = 0,
) -> Sequence[tuple[str, Any]]:
    """Options of the unix-socket servers. SSH and SASL clients arrive through
    these sockets too, so the per-connection call limit and keepalive apply to them.
    Calls past max_calls_per_connection wait (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS);
    connections past max_connections (0: no limit) are closed as they arrive."""
    options: list[tuple[str, Any]] = [
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.max_send_message_length", max_message_bytes),
        ("grpc.so_reuseport", 0),
        ("grpc.max_concurrent_streams", max_calls_per_connection),
        *keepalive_options(interval=60.0, timeout=20.0),
        ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
    ]
    if max_connections:
        options.append(("grpc.max_allowed_incoming_connections", max_connections))
    return options


def keepalive_options(interval: float, timeout: float) -> tuple[tuple[str, int], ...]:
    """Ping each client connection after `interval` seconds without traffic, and
    close it when the answer takes longer than `timeout` seconds.

    grpc waits for a ping's answer for grpc.http2.ping_timeout_ms (one minute by
    default), not keepalive_timeout_ms, so both are set; idle connections are
    pinged too, or a vanished client would hold its place in max_clients forever.
    """
    timeout_ms = int(timeout * 1000)
    return (
        ("grpc.keepalive_time_ms", int(interval * 1000)),
        ("grpc.keepalive_timeout_ms", timeout_ms),
        ("grpc.http2.ping_timeout_ms", timeout_ms),
        ("grpc.keepalive_permit_without_calls", 1),
    )
