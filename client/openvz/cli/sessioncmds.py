"""ovzsh's ways into a container: exec, enter and console.

`ovzsh exec CT -- CMD ARGS` passes stdin and stdout (and stderr) through and
leaves with the command's exit status (on a local socket over the local exec
channel, openvz.localexec, which needs no grpc; elsewhere over Domains.Exec);
-t asks for a pty, and the local terminal is then in raw mode while the command
runs, its size following the window.
Without a pty, Ctrl-C (SIGINT), SIGTERM and SIGHUP are passed on to the command.
`ovzsh enter CT` is an interactive shell (vzctl enter). `ovzsh console CT`
attaches to the container's console; Ctrl-] leaves, as in virsh, and --force
takes the console from another client.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import TYPE_CHECKING

from openvz.cli.base import DOMAIN, command, connect

if TYPE_CHECKING:
    from openvz.localexec import LocalExecSession
    from openvz.sessions import ConsoleSession, ExecSession
    from openvz.v1 import common_pb2

CHUNK = 256 * 1024
CTRL_RIGHT_BRACKET = b"\x1d"
PASSED_ON_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
EXIT_ERROR = 1
SESSION_COMMANDS = ("exec", "enter", "console")


@contextlib.contextmanager
def raw_terminal(fd: int) -> Iterator[bool]:
    """fd in raw mode for the block (True), or nothing when it is no terminal (False)."""
    if not os.isatty(fd):
        yield False
        return
    import termios
    import tty

    saved = termios.tcgetattr(fd)
    tty.setraw(fd)
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


def _start_input(target: Callable[[], None]) -> None:
    threading.Thread(target=target, name="ovzsh-stdin", daemon=True).start()


def domain_ref(text: str) -> common_pb2.DomainRef:
    """The domain as virsh takes it (ID, name or UUID), named to the call itself: the
    session's first message resolves it, which saves a Lookup round trip."""
    from openvz.connection import is_uuid
    from openvz.v1 import common_pb2

    return common_pb2.DomainRef(uuid=text) if is_uuid(text) else common_pb2.DomainRef(name=text)


def run_exec(args: argparse.Namespace, argv: list[str], pty: bool) -> int:
    from openvz.uri import parse_uri

    uri = parse_uri(args.connect)
    env = dict(args.env or [])
    size = terminal_size(0) if pty else None
    if pty and "TERM" in os.environ:
        env.setdefault("TERM", os.environ["TERM"])
    cwd = args.cwd or ""
    if uri.transport == "unix":
        from openvz.localexec import LocalExecSession

        path = str(uri.socket_path(args.readonly or uri.read_only))
        local = LocalExecSession.start(
            path, args.domain, argv, env=env, cwd=cwd, pty=pty, size=size
        )
        return _run_session(local, pty)
    from openvz.sessions import ExecSession

    with connect(args) as conn:
        session = ExecSession.start(
            conn, domain_ref(args.domain), argv, env=env, cwd=cwd, pty=pty, size=size
        )
        return _run_session(session, pty)


def _run_session(session: ExecSession | LocalExecSession, pty: bool) -> int:
    with session, raw_terminal(0) if pty else contextlib.nullcontext(False):
        _pass_on_signals(session, pty)
        _start_input(lambda: read_input(0, session.write, session.close_stdin))
        for stream, data in session:
            write_all(2 if stream == "stderr" else 1, data)
    if session.exit_reason:
        print(f"\r\nerror: the session ended: {session.exit_reason}", file=sys.stderr)
    return session.exit_status if session.exit_status is not None else EXIT_ERROR


def _pass_on_signals(session: ExecSession | LocalExecSession, pty: bool) -> None:
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


def _leave(status: int) -> None:
    """Run as `ovzsh exec ...`, ovzsh leaves with the command's own exit status and
    without the blank line virsh adds (and, as main() does, without the interpreter's
    teardown). Inside the interactive shell the status is only reported if not 0."""
    from openvz.cli.main import command_word

    sys.stdout.flush()
    sys.stderr.flush()
    if command_word(sys.argv[1:]) in SESSION_COMMANDS:
        os._exit(status)
    if status:
        print(f"(exit status {status})", file=sys.stderr)


def _pair(text: str) -> tuple[str, str]:
    name, equals, value = text.partition("=")
    if not equals or not name:
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=VALUE")
    return name, value


@command(
    "exec",
    "run a command in a running container: ovzsh exec CT [-t] -- CMD [ARG...]",
    [
        *DOMAIN,
        (("-t", "--tty"), {"action": "store_true", "help": "run it on a pseudo-terminal"}),
        (
            ("-e", "--env"),
            {"action": "append", "type": _pair, "metavar": "NAME=VALUE", "help": "environment"},
        ),
        (("--cwd",), {"metavar": "DIR", "help": "directory in the container to run in"}),
        (("argv",), {"nargs": argparse.REMAINDER, "metavar": "-- CMD [ARG...]"}),
    ],
)
def cmd_exec(args: argparse.Namespace) -> None:
    from openvz.error_classes import InvalidArgument

    argv = options_after_domain(args, list(args.argv))
    if not argv:
        raise InvalidArgument("give the command after --: ovzsh exec CT -- CMD [ARG...]")
    _leave(run_exec(args, argv, args.tty))


def options_after_domain(args: argparse.Namespace, words: list[str]) -> list[str]:
    """argparse leaves everything after the domain to argv: take exec's own options
    from its front, up to `--` or the first word that is not one; the rest is argv."""
    from openvz.error_classes import InvalidArgument

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
                try:
                    args.env = [*(args.env or []), _pair(value)]
                except argparse.ArgumentTypeError as err:
                    raise InvalidArgument(str(err)) from None
        else:
            raise InvalidArgument(
                f"unknown option {option!r} before the command; put the command after --"
            )
    return words


@command("enter", "an interactive shell in a running container (vzctl enter)", DOMAIN)
def cmd_enter(args: argparse.Namespace) -> None:
    args.env, args.cwd = None, None
    _leave(run_exec(args, [], pty=True))


@command(
    "console",
    "attach to a running container's console; Ctrl-] leaves",
    [
        *DOMAIN,
        (("--force",), {"action": "store_true", "help": "take it from a client attached now"}),
    ],
)
def cmd_console(args: argparse.Namespace) -> None:
    from openvz.sessions import ConsoleSession

    with connect(args) as conn:
        session = ConsoleSession.attach(conn, domain_ref(args.domain), args.force)
        print(f"Connected to domain '{args.domain}'\nEscape character is ^] (Ctrl + ])", flush=True)
        with session, raw_terminal(0):
            _start_input(lambda: _console_input(session))
            for data in session:
                write_all(1, data)
    reason = session.detached_reason or "detached"
    if reason != "detached":
        print(f"\nerror: console detached: {reason}", file=sys.stderr, flush=True)
        _leave(EXIT_ERROR)
    print(flush=True)
    _leave(0)


def _console_input(session: ConsoleSession) -> None:
    def send(data: bytes) -> None:
        before, escape, _ = data.partition(CTRL_RIGHT_BRACKET)
        if before:
            session.write(before)
        if escape:
            raise EOFError  # read_input stops reading and detaches

    read_input(0, send, session.detach)
