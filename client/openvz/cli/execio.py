"""What `ovzsh exec` does once its arguments are read, shared by ovzsh's exec command
and its fast path (openvz.cli.fastexec): the options after the domain, the local
terminal (raw mode, size), the session's loop, and the local exec channel's run.

Its imports are light on purpose (no argparse, typing, grpc or protobuf): the fast
path imports it before anything else of ovzsh.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from types import FrameType

from openvz.error_classes import InvalidArgument

TYPE_CHECKING = False  # not typing's, which the fast path does not import
if TYPE_CHECKING:
    from typing import Protocol

    from openvz.localexec import LocalExecSession
    from openvz.sessions import ExecSession
    from openvz.uri import URI

    class ExecOptions(Protocol):
        """What exec's options set: argparse's Namespace or the fast path's own."""

        tty: bool
        env: list[tuple[str, str]] | None
        cwd: str | None


CHUNK = 256 * 1024
PASSED_ON_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
EXIT_ERROR = 1


@contextlib.contextmanager
def raw_terminal(fd: int) -> Iterator[bool]:
    """fd in raw mode for the block (True), or nothing when it is no terminal (False)."""
    if not os.isatty(fd):
        yield False
        return
    import termios
    import tty

    saved = termios.tcgetattr(fd)
    # TCSANOW, not setraw's default TCSAFLUSH: keys typed before raw mode (a quick
    # Ctrl-] after the banner) are kept and read, not thrown away.
    tty.setraw(fd, termios.TCSANOW)
    try:
        yield True
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def terminal_size(fd: int) -> tuple[int, int] | None:
    try:
        size = os.get_terminal_size(fd)
    except OSError:
        return None
    return size.lines, size.columns


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


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


def env_pair(text: str) -> tuple[str, str]:
    name, equals, value = text.partition("=")
    if not equals or not name:
        raise InvalidArgument(f"{text!r} is not NAME=VALUE")
    return name, value


def options_after_domain(args: ExecOptions, words: list[str]) -> list[str]:
    """argparse leaves everything after the domain to argv: take exec's own options
    from its front, up to `--` or the first word that is not one; the rest is argv."""
    while words and words[0].startswith("-"):
        option = words.pop(0)
        if option == "--":
            break
        if option in ("-t", "--tty"):
            args.tty = True
        elif option in ("-e", "--env", "--cwd") and words:
            value = words.pop(0)
            if option == "--cwd":
                args.cwd = value
            else:
                args.env = [*(args.env or []), env_pair(value)]
        else:
            raise InvalidArgument(
                f"unknown option {option!r} before the command; put the command after --"
            )
    return words


def session_environment(pairs: list[tuple[str, str]] | None, pty: bool) -> dict[str, str]:
    """The command's environment: -e's pairs, and on a pty the local TERM."""
    env = dict(pairs or [])
    if pty and "TERM" in os.environ:
        env.setdefault("TERM", os.environ["TERM"])
    return env


def run_local_exec(
    uri: URI, read_only: bool, domain: str, argv: list[str], args: ExecOptions
) -> int:
    """The session on the local exec channel of uri's unix socket; its exit status."""
    from openvz.localexec import LocalExecSession

    pty = args.tty
    path = str(uri.socket_path(read_only or uri.read_only))
    env = session_environment(args.env, pty)
    size = terminal_size(0) if pty else None
    session = LocalExecSession.start(
        path, domain, argv, env=env, cwd=args.cwd or "", pty=pty, size=size
    )
    return run_session(session, pty)


def run_session(session: ExecSession | LocalExecSession, pty: bool) -> int:
    with session, raw_terminal(0) if pty else contextlib.nullcontext(False):
        pass_on_signals(session, pty)
        start_input(lambda: read_input(0, session.write, session.close_stdin))
        for stream, data in session:
            write_all(2 if stream == "stderr" else 1, data)
    if session.exit_reason:
        print(f"\r\nerror: the session ended: {session.exit_reason}", file=sys.stderr)
    return session.exit_status if session.exit_status is not None else EXIT_ERROR


def pass_on_signals(session: ExecSession | LocalExecSession, pty: bool) -> None:
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
