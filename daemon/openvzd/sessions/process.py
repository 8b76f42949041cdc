"""One vzctl run of a session: its own process group, on pipes or on a pty.

Output is read only when asked for, so it is the client's pace that drives the
reads: while a frame waits to be sent, the process blocks on its full pipe and
the daemon holds at most one chunk per output. The end kills the whole group
(vzctl and everything it started) and reaps vzctl, so no session leaves a
process behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import signal
import struct
import termios
from collections.abc import Mapping, Sequence

from openvzd.sessions.spec import TerminalSize

# Output frames up to this size: fewer, bigger messages are what makes a stream fast.
CHUNK = 256 * 1024
# Pipes this big (F_SETPIPE_SZ, within /proc/sys/fs/pipe-max-size), so one read
# takes a whole CHUNK; a failure to grow them only costs speed.
PIPE_BYTES = 1024 * 1024
# A terminal's end-of-file character (VEOF, Ctrl-D) as the pty's line discipline reads it.
TERMINAL_EOF = b"\x04"
BASE_ENVIRONMENT = {"LC_ALL": "C", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}


async def _wait_for(fd: int, writable: bool) -> None:
    loop = asyncio.get_running_loop()
    ready = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    (loop.add_writer if writable else loop.add_reader)(fd, wake)
    try:
        await ready
    finally:
        (loop.remove_writer if writable else loop.remove_reader)(fd)


def set_size(fd: int, size: TerminalSize) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", size.rows, size.columns, 0, 0))


class SessionProcess:
    """vzctl with stdin/stdout/stderr on pipes, or all three on one pty (stderr then
    comes in stdout: a terminal has one output)."""

    def __init__(
        self,
        process: asyncio.subprocess.Process,
        fds: Sequence[int],
        terminal: bool,
    ) -> None:
        self.process = process
        self.terminal = terminal
        if terminal:
            self.stdin = self.stdout = fds[0]
            self.stderr: int | None = None
        else:
            self.stdin, self.stdout, self.stderr = fds
        self._open = set(fds)
        self._stdin_open = True
        self._eof_sent = False

    @property
    def pid(self) -> int:
        return self.process.pid

    @classmethod
    async def spawn(
        cls,
        argv: Sequence[str],
        *,
        size: TerminalSize | None,
        environment: Mapping[str, str] | None = None,
    ) -> SessionProcess:
        """argv on a pty of size (when size is given) or on pipes, in a new session
        (and so its own process group)."""
        env = {**BASE_ENVIRONMENT, **(environment or {})}
        theirs: list[int] = []
        mine: list[int] = []
        try:
            if size is not None:
                master, slave = os.openpty()
                mine.append(master)
                theirs.append(slave)
                set_size(master, size)
                streams = (slave, slave, slave)
            else:
                for _ in range(3):
                    read_end, write_end = os.pipe()
                    theirs.append(read_end if not mine else write_end)
                    mine.append(write_end if not mine else read_end)
                streams = (theirs[0], theirs[1], theirs[2])
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=streams[0],
                stdout=streams[1],
                stderr=streams[2],
                env=env,
                start_new_session=True,
            )
        except BaseException:
            for fd in mine:
                os.close(fd)
            raise
        finally:
            for fd in theirs:
                os.close(fd)
        for fd in mine:
            os.set_blocking(fd, False)
            if size is None:
                with contextlib.suppress(OSError):
                    fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
        return cls(process, mine, terminal=size is not None)

    async def read(self, fd: int) -> bytes:
        """The next chunk of fd's output; b"" at its end."""
        while True:
            try:
                return os.read(fd, CHUNK)
            except BlockingIOError:
                await _wait_for(fd, writable=False)
            except OSError:  # EIO: the pty's other side is closed, its end
                return b""

    async def write(self, data: bytes) -> bool:
        """All of data to the process's input; False when it no longer reads."""
        view = memoryview(data)
        while view:
            if not self._stdin_open:
                return False
            try:
                view = view[os.write(self.stdin, view) :]
            except BlockingIOError:
                await _wait_for(self.stdin, writable=True)
            except OSError:  # EPIPE, EIO: the reader is gone
                return False
        return True

    async def close_stdin(self) -> None:
        """The end of input: the pipe closed, or the terminal's EOF character."""
        if not self._stdin_open:
            return
        if self.terminal:
            if not self._eof_sent:
                self._eof_sent = True
                await self.write(TERMINAL_EOF)
            return
        self._stdin_open = False
        self._open.discard(self.stdin)
        os.close(self.stdin)

    def resize(self, size: TerminalSize) -> None:
        """The pty's new size; vzctl gets SIGWINCH to pass it on, as a terminal sends it
        to its session (vzctl's pty is not its controlling terminal)."""
        if self.terminal:
            set_size(self.stdout, size)
            self.signal(signal.SIGWINCH)

    def signal(self, number: int) -> None:
        """To vzctl, which passes it on to the command in the container."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.process.pid, number)

    @property
    def exited(self) -> bool:
        return self.process.returncode is not None

    async def wait(self) -> int:
        """vzctl's exit status; 128 + N when signal N ended it, as a shell reports it."""
        code = await self.process.wait()
        return code if code >= 0 else 128 - code

    async def end(self) -> None:
        """Kill the whole group, reap vzctl, close our ends; safe to call twice."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        await self.process.wait()
        self._stdin_open = False
        for fd in self._open:
            os.close(fd)
        self._open.clear()
