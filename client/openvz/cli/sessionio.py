"""The local terminal of a gRPC session (openvz.sessions: Domains.Exec off the local
socket, and the console): raw mode for a block, stdin read in a thread, signals
passed on. The local exec channel has its own poll loop (openvz.localexec).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import TYPE_CHECKING

from openvz.cli.execio import EXIT_ERROR, raw_mode, restore_mode
from openvz.localexec import PASSED_ON_SIGNALS, terminal_size, write_all

if TYPE_CHECKING:
    from openvz.sessions import ExecSession

CHUNK = 256 * 1024


@contextlib.contextmanager
def raw_terminal(fd: int) -> Iterator[bool]:
    """fd in raw mode for the block (True), or nothing when it is no terminal (False)."""
    saved = raw_mode(fd)
    try:
        yield saved is not None
    finally:
        restore_mode(fd, saved)


def read_input(fd: int, send: Callable[[bytes], None], end: Callable[[], None]) -> None:
    """In a thread: fd's bytes to send, then end() at its end; never raises."""
    # The main thread reports what went wrong with the session; this one only stops.
    with contextlib.suppress(Exception):
        while data := os.read(fd, CHUNK):
            send(data)
    with contextlib.suppress(Exception):
        end()


def start_input(target: Callable[[], None]) -> None:
    threading.Thread(target=target, name="ovzsh-stdin", daemon=True).start()


def run_session(session: ExecSession, pty: bool) -> int:
    with session, raw_terminal(0) if pty else contextlib.nullcontext(False):
        pass_on_signals(session, pty)
        start_input(lambda: read_input(0, session.write, session.close_stdin))
        for stream, data in session:
            write_all(2 if stream == "stderr" else 1, data)
    if session.exit_reason:
        print(f"\r\nerror: the session ended: {session.exit_reason}", file=sys.stderr)
    return session.exit_status if session.exit_status is not None else EXIT_ERROR


def pass_on_signals(session: ExecSession, pty: bool) -> None:
    if pty:
        if os.isatty(0):

            def resized(_signum: int, _frame: FrameType | None) -> None:
                size = terminal_size(0)
                if size is not None:
                    session.resize(*size)

            signal.signal(signal.SIGWINCH, resized)
        return

    def pass_on(signum: int, _frame: FrameType | None) -> None:
        session.signal(signum)

    for signum in PASSED_ON_SIGNALS:
        signal.signal(signum, pass_on)
