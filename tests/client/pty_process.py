"""A process on a pseudo-terminal, for what ovzsh does only on a terminal."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import termios
import time
from collections.abc import Sequence


class PtyProcess:
    """argv with stdin, stdout and stderr on a new pty; every wait is bounded."""

    def __init__(self, argv: Sequence[str], env: dict[str, str]) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        self.process = subprocess.Popen(
            list(argv), stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True
        )
        os.close(slave)
        self.master = master
        self.output = b""
        self.seen = 0  # how far expect() has matched
        self.closed = False

    def _read(self, timeout: float) -> bool:
        """One read of what is there within timeout; False once the other end closed."""
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return True
        try:
            chunk = os.read(self.master, 65536)
        except OSError:  # EIO: every process holding the pty's other end has gone
            chunk = b""
        if not chunk:
            self.closed = True
            return False
        self.output += chunk
        return True

    def expect(self, pattern: bytes, timeout: float = 30) -> bytes:
        """Read until pattern (a regex) matches after the last match; return the output
        from there to the end of this match."""
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern)
        while (found := regex.search(self.output, self.seen)) is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.closed:
                raise AssertionError(
                    f"no {pattern!r} within {timeout} s; output so far:\n{self.output!r}"
                )
            self._read(min(remaining, 0.5))
        start, self.seen = self.seen, found.end()
        return self.output[start : found.end()]

    def send(self, data: bytes) -> None:
        os.write(self.master, data)

    def finish(self, timeout: float = 30) -> int:
        """Read to the end, then the exit status."""
        deadline = time.monotonic() + timeout
        while not self.closed and time.monotonic() < deadline:
            self._read(min(0.5, max(deadline - time.monotonic(), 0)))
        return self.process.wait(timeout=max(deadline - time.monotonic(), 1))

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        os.close(self.master)
