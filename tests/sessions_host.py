"""A daemon over a vzsim host with CT 101 running and 102 stopped, for the session tests,
and a look at the process table."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.daemon_process import BIN, DaemonProcess, running_daemon


@contextmanager
def session_host(host: Path) -> Iterator[Path]:
    """A vzsim host at host with CT 101 running and 102 stopped; vzsim's vzctl's path."""
    for args in (
        ["init", str(host), "--delays", "none"],
        ["populate", str(host), "--count", "2", "--first-id", "101", "--running", "1"],
    ):
        subprocess.run([str(BIN / "vzsim"), *args], check=True, capture_output=True, timeout=120)
    vzctl = host / "usr" / "sbin" / "vzctl"
    try:
        yield vzctl
    finally:
        # Stopped, the container's console keeper leaves too.
        subprocess.run(
            [str(vzctl), "stop", "101", "--fast"], capture_output=True, timeout=60, check=False
        )


@contextmanager
def session_daemon(sim_dir: Path) -> Iterator[DaemonProcess]:
    with session_host(sim_dir / "host"), running_daemon(sim_dir) as daemon:
        yield daemon


def pids_running(marker: str) -> list[int]:
    """Every process whose command line contains marker."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if marker.encode() in cmdline:
            found.append(int(entry.name))
    return found


def wait_gone(marker: str, timeout: float = 10) -> list[int]:
    """The processes whose command line contains marker once they are gone, or when
    timeout runs out: [] means none is left."""
    deadline = time.monotonic() + timeout
    while (left := pids_running(marker)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def kill_mid_session(client: subprocess.Popen[bytes], marker: str) -> list[int]:
    """Once client has printed its command's first line ("up"), the session's processes
    (vzctl exec2 and the command, named by marker); then client is killed."""
    try:
        assert client.stdout is not None
        assert client.stdout.readline() == b"up\n"
        session_pids = [pid for pid in pids_running(marker) if pid != client.pid]
        assert len(session_pids) >= 2  # vzctl exec2 and the command it runs
    finally:
        client.kill()
        client.wait(timeout=10)
    return session_pids
