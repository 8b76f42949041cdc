"""ovzsh: the virsh of openvzd.

Start-up is kept light: only argparse, grpc and the stubs a command needs are
imported, so `ovzsh list --all` costs little more than Python and grpc.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

from openvz.cli import commands

EXIT_ERROR = 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ovzsh", description="The command line of openvzd, in virsh's words."
    )
    parser.add_argument("-c", "--connect", metavar="URI", help="the daemon's URI")
    parser.add_argument("-r", "--readonly", action="store_true", help="connect read-only")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (handler, help_text, arguments) in commands.COMMANDS.items():
        command = sub.add_parser(name, help=help_text, description=help_text)
        for flags, options in arguments:
            command.add_argument(*flags, **options)
        command.set_defaults(handler=handler)
    return parser


def run(argv: Sequence[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        return interactive(parser, args)
    return dispatch(args)


def dispatch(args: argparse.Namespace) -> int:
    from openvz.errors import Error

    handler: Callable[[argparse.Namespace], Any] = args.handler
    try:
        handler(args)
    except Error as err:
        print(f"error: {err.message}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return EXIT_ERROR
    except OSError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_ERROR
    return 0


def interactive(parser: argparse.ArgumentParser, defaults: argparse.Namespace) -> int:
    import readline
    import shlex

    names = sorted(commands.COMMANDS)

    def complete(text: str, state: int) -> str | None:
        matches = [n for n in names if n.startswith(text)]
        return matches[state] if state < len(matches) else None

    readline.set_completer(complete)
    readline.parse_and_bind("tab: complete")
    print("Welcome to ovzsh, the openvzd shell. Type 'help' for commands, 'quit' to leave.")
    status = 0
    while True:
        try:
            line = input("ovzsh # ").strip()
        except EOFError:
            print()
            return status
        if line in ("quit", "exit"):
            return status
        if not line:
            continue
        if line == "help":
            parser.print_help()
            continue
        try:
            words = shlex.split(line)
            extra = (["-c", defaults.connect] if defaults.connect else []) + (
                ["-r"] if defaults.readonly else []
            )
            args = parser.parse_args(extra + words)
        except (ValueError, SystemExit):
            status = EXIT_ERROR
            continue
        status = dispatch(args)


def main() -> None:
    sys.exit(run(sys.argv[1:]))


if __name__ == "__main__":
    main()
