"""Byte pumping between the caller's terminal and a pty or socket, as vzctl enter and
vzctl console do: the caller's terminal in raw mode while it runs, its size copied on
SIGWINCH, and an escape that detaches."""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import signal
import struct
import termios
import tty
from collections.abc import Callable, Iterator
from types import FrameType

CHUNK = 65536
# vzctl console's escape is ESC then '.'; virsh's (and ovzsh's) is Ctrl-].
ESCAPE_SEQUENCE = b"\x1b."
CTRL_RIGHT_BRACKET = b"\x1d"


@contextlib.contextmanager
def raw_terminal(fd: int) -> Iterator[None]:
    """fd in raw mode for the block, restored afterwards; nothing when fd is no tty."""
    if not os.isatty(fd):
        yield
        return
    saved = termios.tcgetattr(fd)
    # TCSANOW, not setraw's default TCSAFLUSH: what was typed before vzctl came up stays.
    tty.setraw(fd, termios.TCSANOW)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSAFLUSH, saved)


def copy_window_size(source: int, target: int) -> None:
    """The terminal size of source onto target (a pty master), when source has one."""
    try:
        size = fcntl.ioctl(source, termios.TIOCGWINSZ, b"\0" * 8)
    except OSError:
        return
    rows, columns = struct.unpack("HHHH", size)[:2]
    if rows and columns:
        fcntl.ioctl(target, termios.TIOCSWINSZ, size)


def follow_window_size(source: int, target: int) -> None:
    """Copy source's size to target now and on every SIGWINCH."""

    def resized(_signum: int, _frame: FrameType | None) -> None:
        copy_window_size(source, target)

    copy_window_size(source, target)
    signal.signal(signal.SIGWINCH, resized)


class EscapeWatch:
    """Finds the detach escape in what the caller types: Ctrl-] anywhere, or ESC '.'."""

    def __init__(self) -> None:
        self._after_escape = False

    def split(self, data: bytes) -> tuple[bytes, bool]:
        """What to pass on, and whether the caller asked to detach."""
        if self._after_escape:
            self._after_escape = False
            if data[:1] == b".":
                return b"", True
            data = b"\x1b" + data
        bracket = data.find(CTRL_RIGHT_BRACKET)
        if bracket >= 0:
            return data[:bracket], True
        sequence = data.find(ESCAPE_SEQUENCE)
        if sequence >= 0:
            return data[:sequence], True
        if data.endswith(b"\x1b"):
            self._after_escape = True
            return data[:-1], False
        return data, False


def pump(
    local_in: int,
    local_out: int,
    peer: int,
    *,
    write_peer: Callable[[bytes], None],
    escape: EscapeWatch | None = None,
) -> str:
    """Copy local_in to the peer and the peer to local_out until one side ends.

    Returns why it ended: "escape" or "peer" (the peer closed). When local_in
    reaches its end first, the peer is told by write_peer(b"") and its output is
    still copied until it ends.
    """
    local_open = True
    while True:
        watched = [peer, local_in] if local_open else [peer]
        try:
            ready, _, _ = select.select(watched, [], [])
        except InterruptedError:
            continue
        if peer in ready:
            try:
                data = os.read(peer, CHUNK)
            except OSError:  # EIO: the pty's other side has gone
                data = b""
            if not data:
                return "peer"
            _write_all(local_out, data)
        if local_open and local_in in ready:
            data = os.read(local_in, CHUNK)
            if not data:
                local_open = False
                write_peer(b"")
                continue
            if escape is not None:
                data, leave = escape.split(data)
                if data:
                    write_peer(data)
                if leave:
                    return "escape"
            else:
                write_peer(data)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view)
        except BlockingIOError:
            select.select([], [fd], [])
            continue
        view = view[written:]


def write_all(fd: int) -> Callable[[bytes], None]:
    def write(data: bytes) -> None:
        _write_all(fd, data)

    return write
