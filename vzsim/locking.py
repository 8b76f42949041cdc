"""The per-CT lock file vzctl uses (openvz-tools.md §1.7) and a host-wide lock for shared /proc
files."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from vzsim.console import Console, VzError

ATTEMPTS = 3


def holder_cmdline(pid: int) -> str:
    """The holder's command line, without the interpreter that runs the simulated tool."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    words = [w.decode(errors="replace") for w in raw.split(b"\0") if w]
    if words and os.path.basename(words[0]).startswith("python"):
        words = words[1:]
        while words and words[0].startswith("-"):
            words = words[1:]
    return " ".join(words)


def _read_pid(lock_file: Path) -> int | None:
    try:
        first_line = lock_file.read_text().split("\n", 1)[0]
    except OSError:
        return None
    return int(first_line) if first_line.strip().isdigit() else None


def acquire_ct_lock(
    lock_dir: Path, lock_dir_host: str, ctid: int, console: Console, show_holder: bool
) -> Path:
    """Take LOCKDIR/CTID.lck by hard-linking a temp file to it, or fail at once with 9."""
    try:
        lock_dir.mkdir(parents=True, exist_ok=True)
        temp = lock_dir / f"{ctid}.lck{os.urandom(3).hex()}"
        temp.write_text(f"{os.getpid()}\n\n")
    except OSError as error:
        raise VzError(3, "Unable to lock container") from error
    lock_file = lock_dir / f"{ctid}.lck"
    try:
        for _ in range(ATTEMPTS):
            try:
                os.link(temp, lock_file)
                return lock_file
            except FileExistsError:
                pass
            pid = _read_pid(lock_file)
            if pid is not None and os.path.exists(f"/proc/{pid}"):
                messages = ["Container already locked"]
                if show_holder:
                    messages.insert(0, f"Locked by: pid {pid}, cmdline {holder_cmdline(pid)}")
                raise VzError(9, *messages)
            if pid is not None:
                console.info(f"Removing stale lock file {lock_dir_host}/{ctid}.lck")
            lock_file.unlink(missing_ok=True)
        raise VzError(9, "Container already locked")
    finally:
        temp.unlink(missing_ok=True)


def release_ct_lock(lock_file: Path) -> None:
    if _read_pid(lock_file) == os.getpid():
        lock_file.unlink(missing_ok=True)


@contextmanager
def host_lock(state_dir: Path) -> Iterator[None]:
    """Serialize read-modify-write of host-wide files (/proc, running.json) across tools."""
    state_dir.mkdir(parents=True, exist_ok=True)
    with open(state_dir / "host.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


@contextmanager
def try_host_lock(state_dir: Path) -> Iterator[bool]:
    """Like host_lock but never waits; yields whether the lock was taken."""
    try:
        handle = open(state_dir / "host.lock", "a")  # noqa: SIM115 - closed by the `with` below
    except OSError:
        yield False
        return
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
