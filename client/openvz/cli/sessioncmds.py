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
import os
import sys
from typing import TYPE_CHECKING

from openvz.cli.base import DOMAIN, command, connect
from openvz.cli.execio import (
    EXIT_ERROR,
    env_pair,
    flush_output,
    options_after_domain,
    run_local_exec,
    session_environment,
)
from openvz.cli.sessionio import raw_terminal, read_input, run_session, start_input
from openvz.error_classes import InvalidArgument

if TYPE_CHECKING:
    from openvz.sessions import ConsoleSession
    from openvz.v1 import common_pb2

CTRL_RIGHT_BRACKET = b"\x1d"
SESSION_COMMANDS = ("exec", "enter", "console")


def domain_ref(text: str) -> common_pb2.DomainRef:
    """The domain as virsh takes it (ID, name or UUID), named to the call itself: the
    session's first message resolves it, which saves a Lookup round trip."""
    from openvz.connection import is_uuid
    from openvz.v1 import common_pb2

    return common_pb2.DomainRef(uuid=text) if is_uuid(text) else common_pb2.DomainRef(name=text)


def run_exec(args: argparse.Namespace, argv: list[str], pty: bool) -> int:
    from openvz.localexec import terminal_size
    from openvz.uri import unix_socket_of

    args.tty = pty
    socket = unix_socket_of(args.connect, args.readonly)
    if socket is not None:
        return run_local_exec(socket, args.domain, argv, args)
    from openvz.sessions import ExecSession

    env = session_environment(args.env, pty)
    size = terminal_size(0) if pty else None
    with connect(args) as conn:
        session = ExecSession.start(
            conn, domain_ref(args.domain), argv, env=env, cwd=args.cwd or "", pty=pty, size=size
        )
        return run_session(session, pty)


def _leave(status: int) -> None:
    """Run as `ovzsh exec ...`, ovzsh leaves with the command's own exit status and
    without the blank line virsh adds (and, as main() does, without the interpreter's
    teardown). Inside the interactive shell the status is only reported if not 0."""
    from openvz.cli.main import command_word

    flush_output()
    if command_word(sys.argv[1:]) in SESSION_COMMANDS:
        os._exit(status)
    if status:
        print(f"(exit status {status})", file=sys.stderr)


def _pair(text: str) -> tuple[str, str]:
    """-e's argparse type: execio's check, in argparse's words."""
    try:
        return env_pair(text)
    except InvalidArgument as err:
        raise argparse.ArgumentTypeError(err.message) from None


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
    argv = options_after_domain(args, list(args.argv))
    if not argv:
        raise InvalidArgument("give the command after --: ovzsh exec CT -- CMD [ARG...]")
    _leave(run_exec(args, argv, args.tty))


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
    from openvz.localexec import write_all
    from openvz.sessions import ConsoleSession

    with connect(args) as conn:
        session = ConsoleSession.attach(conn, domain_ref(args.domain), args.force)
        print(f"Connected to domain '{args.domain}'\nEscape character is ^] (Ctrl + ])", flush=True)
        with session, raw_terminal(0):
            start_input(lambda: _console_input(session))
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
