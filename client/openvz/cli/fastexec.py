"""`ovzsh exec` on a local socket without grpc: the entry point's first look at argv.

A gRPC client process pays ~80 ms for `import grpc`, four times what `ovzsh exec`
may add to a bare `vzctl exec2` (docs/sessions.md). So before openvz.cli.main (and
with it grpc and protobuf) is imported, main() looks for the plain form

    ovzsh [-c URI | --connect URI | --connect=URI | -r | -q]... exec CT [OPTIONS] CMD...

with a local unix URI, and runs it over the local exec channel (openvz.localexec).
Anything else, and any form this does not read exactly as ovzsh's parser would
(options before the domain, abbreviations, a usage error), goes to the full ovzsh,
which then says what it always said.
"""

from __future__ import annotations

import os
import sys

from openvz.cli.execio import (
    EXIT_ERROR,
    flush_output,
    open_standard_fds,
    options_after_domain,
    run_local_exec,
)
from openvz.error_classes import Error
from openvz.uri import unix_socket_of

TYPE_CHECKING = False  # not typing's, which the fast path does not import
if TYPE_CHECKING:
    from collections.abc import Sequence

GLOBAL_FLAGS = {"-r": "readonly", "--readonly": "readonly", "-q": "quiet", "--quiet": "quiet"}
CONNECT_OPTIONS = ("-c", "--connect")


class LocalExec:
    """What ovzsh's parser would make of a local exec: its options and the command."""

    def __init__(self) -> None:
        self.connect: str | None = None
        self.readonly = False
        self.quiet = False
        self.domain = ""
        self.tty = False
        self.env: list[tuple[str, str]] | None = None
        self.cwd: str | None = None
        self.command: list[str] = []


def local_exec_arguments(argv: Sequence[str]) -> tuple[LocalExec, str] | None:
    """The local exec argv asks for and its unix socket, when ovzsh's own parser reads
    argv exactly so; else None."""
    args = LocalExec()
    words = list(argv)
    while True:
        if not words:
            return None
        word = words.pop(0)
        if word == "exec":
            break
        if word in CONNECT_OPTIONS and words and not words[0].startswith("-"):
            args.connect = words.pop(0)
        elif word.startswith("--connect="):
            args.connect = word.partition("=")[2]
        elif word in GLOBAL_FLAGS:
            setattr(args, GLOBAL_FLAGS[word], True)
        else:
            return None
    if not words or words[0].startswith("-"):
        return None
    args.domain = words.pop(0)
    if words[:1] == ["--"]:
        del words[0]  # argparse drops a `--` right after the domain, and only that one
    try:
        args.command = options_after_domain(args, words)
    except Error:
        return None
    if not args.command:
        return None
    try:
        socket = unix_socket_of(args.connect, args.readonly)
    except Error:
        return None
    return (args, socket) if socket else None


def main() -> None:
    """ovzsh's entry point."""
    open_standard_fds()
    found = local_exec_arguments(sys.argv[1:])
    if found is None:
        from openvz.cli.main import main as full_ovzsh

        full_ovzsh()
        return
    args, socket = found
    try:
        status = run_local_exec(socket, args.domain, args.command, args)
    except Error as err:
        print(f"error: {err.message}", file=sys.stderr)
        status = EXIT_ERROR
    except KeyboardInterrupt:
        status = EXIT_ERROR
    except BrokenPipeError:  # as openvz.cli.main: the reader of our output left
        os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
        status = 0
    except OSError as err:
        print(f"error: {err}", file=sys.stderr)
        status = EXIT_ERROR
    flush_output()
    # The command's own status, without the interpreter's teardown (as ovzsh's main).
    os._exit(status)
