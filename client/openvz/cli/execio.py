"""What `ovzsh exec` does once its arguments are read, shared by ovzsh's exec command
and its fast path (openvz.cli.fastexec): the options after the domain, the local
terminal's raw mode, and the run on the local exec channel.

Its imports are the interpreter's built-in modules and the fast path's own (no
argparse, contextlib, typing, signal, threading, grpc or protobuf): the fast path
imports it before anything else of ovzsh. The gRPC sessions' loop is
openvz.cli.sessionio.
"""

from __future__ import annotations

import os
import sys

from openvz.error_classes import InvalidArgument

TYPE_CHECKING = False  # not typing's, which the fast path does not import
if TYPE_CHECKING:
    from typing import Any, Protocol

    TerminalMode = list[Any]  # termios.tcgetattr's

    class ExecOptions(Protocol):
        """What exec's options set: argparse's Namespace or the fast path's own."""

        tty: bool
        env: list[tuple[str, str]] | None
        cwd: str | None


EXIT_ERROR = 1


def raw_mode(fd: int) -> TerminalMode | None:
    """fd's terminal in raw mode, and its mode before; None when fd is no terminal."""
    if not os.isatty(fd):
        return None
    import termios
    import tty

    saved = termios.tcgetattr(fd)
    # TCSANOW, not setraw's default TCSAFLUSH: keys typed before raw mode (a quick
    # Ctrl-] after the banner) are kept and read, not thrown away.
    tty.setraw(fd, termios.TCSANOW)
    return saved


def restore_mode(fd: int, saved: TerminalMode | None) -> None:
    if saved is not None:
        import termios

        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


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


def open_standard_fds() -> None:
    """/dev/null in place of a closed stdin, stdout or stderr (`ovzsh exec ... <&-`), as
    OpenSSH does: else a socket of ovzsh's would take the number, and the local exec
    channel would read it as the command's input or write the command's output to it.
    (Python has made sys.stdin, sys.stdout or sys.stderr None for it already.)"""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            os.open(os.devnull, os.O_RDWR)  # the lowest free number: fd, the lower are open


def flush_output() -> None:
    """stdout and stderr flushed; either is None when it was closed as ovzsh started."""
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()


def run_local_exec(socket: str, domain: str, argv: list[str], args: ExecOptions) -> int:
    """The session on the local exec channel of the unix socket at socket; its exit
    status. The terminal is raw while a pty session runs."""
    from openvz.localexec import LocalExecSession, terminal_size

    pty = args.tty
    env = session_environment(args.env, pty)
    size = terminal_size(0) if pty else None
    with LocalExecSession.start(
        socket, domain, argv, env=env, cwd=args.cwd or "", pty=pty, size=size
    ) as session:
        saved = raw_mode(0) if pty else None
        try:
            status = session.relay(0, 1, 2, pty)
        finally:
            restore_mode(0, saved)
    if session.exit_reason:
        print(f"\r\nerror: the session ended: {session.exit_reason}", file=sys.stderr)
    return status
