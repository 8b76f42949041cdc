"""What every simulated tool run shares: the runs.log records and signal handling."""

from __future__ import annotations

import io
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from vzsim.runlog import RunLog

Main = Callable[[Path, list[str]], int]


class Cancelled(Exception):
    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _raise_cancelled(signum: int, _frame: FrameType | None) -> None:
    raise Cancelled(signum)


def run_tool(root: Path, tool: str, args: list[str], body: Callable[[], int]) -> int:
    """Run `body` with start/end records; SIGTERM/SIGINT end it with 128+signal after the
    body's own cleanup (lock release) has run."""
    log = RunLog(root / ".vzsim", tool, [tool, *args])
    log.start()
    code = 1
    signal.signal(signal.SIGTERM, _raise_cancelled)
    signal.signal(signal.SIGINT, _raise_cancelled)
    # Like the C tools, die quietly when a reader such as `head` closes the pipe.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    try:
        code = body()
    except Cancelled as cancelled:
        print("Cancelling...", file=sys.stderr, flush=True)
        code = 128 + cancelled.signum
    finally:
        log.end(code)
    return code


def bytes_out_as_given() -> None:
    """Print an argument's bytes as they came in (surrogate escapes back to bytes)."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="surrogateescape")


def entry_point(script: str, main: Main) -> None:
    """Run a tool installed at ROOT/usr/sbin/TOOL. Arguments are bytes to the C tools:
    one that is not UTF-8 (libvirt passes raw bytes as --ostemplate) reaches main as
    surrogate escapes, and goes back out to the terminal and the log as the same bytes."""
    bytes_out_as_given()
    root = Path(script).resolve().parents[2]
    sys.exit(main(root, sys.argv[1:]))
