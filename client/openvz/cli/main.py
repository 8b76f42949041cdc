"""ovzsh: the virsh of openvzd.

Start-up is kept light: only the command asked for gets its argparse sub-parser,
and only the stubs and modules it calls are imported (json, the remote
transports, asyncio's client, the host and event messages wait until used).
Exit status is virsh's: 0 on success, 1 on any error, with `error: ...` on stderr.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

# grpc's own log lines ("Handshake failed ..." on a refused certificate) would stand
# beside ovzsh's `error:` line, which already says what happened and what to do.
# Set before grpc is first imported; GRPC_VERBOSITY in the environment still wins.
os.environ.setdefault("GRPC_VERBOSITY", "NONE")

from openvz.cli import (  # noqa: F401  (they fill COMMANDS)
    commands,
    devicecmds,
    hostcmds,
    infocmds,
    jobcmds,
    sessioncmds,
)
from openvz.cli.base import COMMANDS, Handler, merge_named
from openvz.cli.execio import EXIT_ERROR, flush_output

# Options of ovzsh itself that take a value, for finding the command word early.
VALUED_OPTIONS = ("-c", "--connect")


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is virsh's: `error: ...` and exit status 1, with
    a pointer to the help of the command it is about."""

    # The command a top-level parser was built for; its errors (an unknown option
    # after the command word) are about that command.
    command_name: str | None = None
    # A command with a free-text positional list (desc's TEXT) takes its words after
    # its options as well, as virsh does (`desc 150 --title web`).
    intermixed: bool = False
    _intermixing: bool = False

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        if not self.intermixed or self._intermixing:
            return super().parse_known_args(args, namespace)
        # parse_known_intermixed_args parses twice through parse_known_args.
        self._intermixing = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._intermixing = False

    def error(self, message: str) -> NoReturn:
        prog = f"{self.prog} {self.command_name}" if self.command_name else self.prog
        print(f"error: {message}", file=sys.stderr)
        print(f"(`{prog} --help` shows the usage)", file=sys.stderr)
        self.exit(EXIT_ERROR)


def command_word(argv: Sequence[str]) -> str | None:
    """The command argv names, found before any parser is built; None if unsure."""
    words = iter(argv)
    for word in words:
        if word in VALUED_OPTIONS:
            next(words, None)
        elif not word.startswith("-"):
            return word
        elif word in ("-h", "--help") or word.startswith("--connect="):
            continue
    return None


def build_parser(only: str | None = None) -> Parser:
    """The whole parser, or with only's sub-parser when only names a command."""
    import openvz

    parser = Parser(prog="ovzsh", description="The command line of openvzd, in virsh's words.")
    parser.command_name = only if only in COMMANDS else None
    parser.add_argument("-c", "--connect", metavar="URI", help="the daemon's URI")
    parser.add_argument("-r", "--readonly", action="store_true", help="connect read-only")
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="no informational messages (as virsh -q)"
    )
    parser.add_argument("-v", "--version", action="version", version=openvz.__version__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for name, (handler, help_text, arguments) in COMMANDS.items():
        if only in COMMANDS and name != only:
            continue
        command = sub.add_parser(name, help=help_text, description=help_text)
        command.intermixed = any(
            not flags[0].startswith("-") and options.get("nargs") == "*"
            for flags, options in arguments
        )
        for flags, options in arguments:
            command.add_argument(*flags, **options)
        command.set_defaults(handler=handler)
    return parser


def run(argv: Sequence[str]) -> int:
    word = command_word(argv)
    if word == "help":
        return show_help(list(argv)[list(argv).index("help") + 1 :])
    if word is not None and word not in COMMANDS:
        print(f"error: unknown command: '{word}' (`ovzsh help` lists them)", file=sys.stderr)
        return EXIT_ERROR
    try:
        args = build_parser(word).parse_args(argv)
    except SystemExit as leaving:
        return int(leaving.code or 0)
    if args.command is None:
        from openvz.cli.shell import interactive

        return interactive(build_parser(), args)
    return dispatch(args)


def show_help(topics: list[str]) -> int:
    """`ovzsh help [COMMAND]`, as virsh's help command."""
    topic = topics[0] if topics else None
    if topic is not None and topic not in COMMANDS:
        print(f"error: command '{topic}' doesn't exist", file=sys.stderr)
        return EXIT_ERROR
    parser = build_parser(topic)
    if topic is None:
        parser.print_help()
        return 0
    import contextlib

    with contextlib.suppress(SystemExit):  # --help prints, then leaves by SystemExit
        parser.parse_args([topic, "--help"])
    return 0


def dispatch(args: argparse.Namespace) -> int:
    """Run one parsed command; virsh's blank line after its output unless -q or --json."""
    from openvz.errors import Error

    handler: Handler = args.handler
    try:
        merge_named(args.command, args)
        handler(args)
    except Error as err:
        print(f"error: {err.message}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return EXIT_ERROR
    except BrokenPipeError:
        raise  # the reader of our output left: main() ends quietly
    except OSError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_ERROR
    if not args.quiet and not getattr(args, "json", False):
        print()
    flush_output()
    return 0


def main() -> None:
    import os

    try:
        status = run(sys.argv[1:])
        flush_output()
    except BrokenPipeError:  # `ovzsh list | head`: the reader left, which is no error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        status = 0
    # Everything is said and flushed, the channel closed and the shell's history saved:
    # skip the interpreter's and grpc's teardown, a good part of a short command's time.
    os._exit(status)


if __name__ == "__main__":
    main()
