"""Message routing as vzctl does it: info to stdout, errors to stderr, all into LOGFILE."""

from __future__ import annotations

import sys
import time
from pathlib import Path


class VzError(Exception):
    """A failure with its exit code; `messages` go to stderr unless `on_stdout`."""

    def __init__(self, code: int, *messages: str, on_stdout: bool = False) -> None:
        super().__init__(code, messages)
        self.code = code
        self.messages = messages
        self.on_stdout = on_stdout


class Console:
    def __init__(self, program: str, quiet: bool = False) -> None:
        self.program = program
        self.quiet = quiet
        self.log_file: Path | None = None
        self.ctid: int | None = None

    def info(self, message: str) -> None:
        self._emit(message, to_stderr=False)

    def error(self, message: str) -> None:
        self._emit(message, to_stderr=True)

    def _emit(self, message: str, to_stderr: bool) -> None:
        if not self.quiet:
            print(message, file=sys.stderr if to_stderr else sys.stdout, flush=True)
        if self.log_file is not None:
            self._log(message)

    def _log(self, message: str) -> None:
        assert self.log_file is not None
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        who = f"CT {self.ctid} : " if self.ctid else ""
        try:
            with open(self.log_file, "a", encoding="utf-8", errors="surrogateescape") as handle:
                handle.write(f"{stamp} {self.program} : {who}{message}\n")
        except OSError:
            self.log_file = None

    def report(self, failure: VzError) -> None:
        for message in failure.messages:
            if failure.on_stdout:
                self.info(message)
            else:
                self.error(message)
