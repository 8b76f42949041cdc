"""ROOT/.vzsim/runs.log: one JSON line per start and end of every tool run (one write each)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path


class RunLog:
    def __init__(self, state_dir: Path, tool: str, argv: list[str]) -> None:
        self.path = state_dir / "runs.log"
        self.tool = tool
        self.argv = argv
        self.t_start = time.time()

    def _append(self, record: dict[str, object]) -> None:
        line = (json.dumps(record) + "\n").encode()
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except FileNotFoundError:
            return
        try:
            os.write(fd, line)
        finally:
            os.close(fd)

    def start(self) -> None:
        self._append(
            {
                "event": "start",
                "t_start": self.t_start,
                "pid": os.getpid(),
                "tool": self.tool,
                "argv": self.argv,
            }
        )

    def end(self, exit_code: int) -> None:
        self._append(
            {
                "event": "end",
                "t_start": self.t_start,
                "t_end": time.time(),
                "pid": os.getpid(),
                "tool": self.tool,
                "argv": self.argv,
                "exit": exit_code,
            }
        )
