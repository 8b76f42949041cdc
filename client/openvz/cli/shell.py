"""ovzsh with no command: an interactive shell, as virsh's, with readline
editing, history kept across sessions and completion of commands and options."""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import sys
from pathlib import Path

from openvz.cli.base import COMMANDS

HISTORY_LINES = 500
SHELL_WORDS = ("connect", "exit", "help", "quit")


def history_path() -> Path:
    """virsh keeps $XDG_CACHE_HOME/virsh/history; we keep ours beside it."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "ovzsh" / "history"


def completions(line: str, text: str) -> list[str]:
    """Command names for the first word; that command's --options after it."""
    words = line.split()
    if not words or (len(words) == 1 and not line.endswith(" ")):
        return [name for name in sorted([*COMMANDS, *SHELL_WORDS]) if name.startswith(text)]
    entry = COMMANDS.get(words[0])
    if entry is None or not text.startswith("-"):
        return []
    options = sorted(flag for flags, _ in entry[2] for flag in flags if flag.startswith("--"))
    return [option for option in ["--help", *options] if option.startswith(text)]


def interactive(parser: argparse.ArgumentParser, defaults: argparse.Namespace) -> int:
    """Read commands until quit or end of input. On a terminal: a banner, prompts,
    line editing, completion and history; commands piped in get only their output."""
    from openvz.cli.main import dispatch
    from openvz.errors import Error

    on_terminal = sys.stdin.isatty()
    history = start_line_editing() if on_terminal else None
    if on_terminal:
        print(
            "Welcome to ovzsh, the openvzd shell.\n\n"
            "Type:  'help' for help with commands\n"
            "       'quit' to quit\n"
        )
    connect_uri, read_only = defaults.connect, defaults.readonly
    status = 0
    try:
        while True:
            try:
                prompt = ("ovzsh > " if read_only else "ovzsh # ") if on_terminal else ""
                line = input(prompt).strip()
            except EOFError:
                if on_terminal:
                    print()
                return status
            except KeyboardInterrupt:
                print()
                continue
            try:
                words = shlex.split(line)
            except ValueError as err:
                print(f"error: {err}", file=sys.stderr)
                status = 1
                continue
            if not words:
                continue
            if words[0] in ("quit", "exit"):
                return status
            if words[0] == "help":
                words = [*words[1:], "--help"]
            if words[0] == "connect":
                try:
                    connect_uri, read_only = _connect(words[1:], connect_uri, read_only)
                except Error as err:
                    print(f"error: {err.message}", file=sys.stderr)
                    status = 1
                continue
            extra = (["-c", connect_uri] if connect_uri else []) + (["-r"] if read_only else [])
            try:
                args = parser.parse_args(extra + (["-q"] if defaults.quiet else []) + words)
            except SystemExit as leaving:
                status = int(leaving.code or 0)
                continue
            status = dispatch(args)
    finally:
        if history is not None:
            save_history(history)


def _connect(words: list[str], uri: str | None, read_only: bool) -> tuple[str | None, bool]:
    """`connect [URI] [--readonly]`: the next commands go there, once the daemon there
    answered (as virsh's connect, an unreachable one is an error and changes nothing)."""
    from openvz.connection import open as open_connection
    from openvz.connection import open_read_only

    read_only = "--readonly" in words or "-r" in words
    given = [w for w in words if not w.startswith("-")]
    target = given[0] if given else uri
    (open_read_only if read_only else open_connection)(target).close()
    return target, read_only


def start_line_editing() -> Path:
    """readline with completion and the saved history; returns where it is saved."""
    import readline

    def complete(text: str, state: int) -> str | None:
        matches = completions(readline.get_line_buffer()[: readline.get_endidx()], text)
        return matches[state] + " " if state < len(matches) else None

    readline.set_completer(complete)
    readline.set_completer_delims(" \t\n")
    readline.parse_and_bind("tab: complete")
    history = history_path()
    with contextlib.suppress(OSError):  # no history yet
        readline.read_history_file(history)
    readline.set_history_length(HISTORY_LINES)
    return history


def save_history(history: Path) -> None:
    import readline

    try:
        history.parent.mkdir(parents=True, exist_ok=True)
        readline.write_history_file(history)
    except OSError as err:
        print(f"warning: cannot save the history to {history}: {err.strerror}", file=sys.stderr)
