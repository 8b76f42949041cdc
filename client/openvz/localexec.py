"""An exec session on the local exec channel (openvz.execwire, docs/sessions.md): how
`ovzsh exec` on a local unix socket runs a command in a container without grpc.

The fast path of `ovzsh exec` may add at most 20 ms to a bare `vzctl exec2`, and a
Python process's start takes 12-15 ms of it on the development machine. So this
module imports only what is built into the interpreter: `_socket` and `_signal`,
the C modules under socket.py and signal.py, whose own imports (enum, selectors)
cost ~9 and ~6 ms; `select` and `os`; no threads. One poll loop passes stdin,
output, signals and the window's size.
"""

from __future__ import annotations

import _socket
import os
import select

from openvz import execwire
from openvz.error_classes import ERROR_BY_STATUS_NAME, Error, unreachable_message

TYPE_CHECKING = False  # not typing's, which the fast path does not import
if TYPE_CHECKING:
    import signal as _signal  # the same functions, with typeshed's types
    from collections.abc import Mapping, Sequence
    from types import FrameType, TracebackType
else:
    import _signal

RECEIVE_BYTES = 1024 * 1024
# Passed on to the command when it has no pty; on a pty the keys are its signals.
PASSED_ON_SIGNALS = (_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP)
READABLE = select.POLLIN | select.POLLHUP | select.POLLERR | select.POLLNVAL


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def terminal_size(fd: int) -> tuple[int, int] | None:
    try:
        size = os.get_terminal_size(fd)
    except OSError:
        return None
    return size.lines, size.columns


def _noted(_signum: int, _frame: FrameType | None) -> None:
    """The signal's number reaches relay() through the wakeup pipe."""


class LocalExecSession:
    """A command (or shell) in a container over the local exec channel: start() it,
    then relay() the terminal's bytes until it ends."""

    def __init__(self, sock: _socket.socket, path: str) -> None:
        self._sock = sock
        self._path = path
        self._received = bytearray()
        self._outgoing = bytearray()
        self.exit_status: int | None = None
        # Why the daemon ended the session before the command ended, if it did.
        self.exit_reason = ""

    @classmethod
    def start(
        cls,
        path: str,
        domain: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str = "",
        pty: bool = False,
        size: tuple[int, int] | None = None,
    ) -> LocalExecSession:
        """Connect, ask, and wait until the command runs; the daemon's refusal raises."""
        rows, columns = size or (0, 0)
        request = execwire.ExecRequest(
            domain, list(argv), dict(env or {}), cwd, pty, min(rows, 0xFFFF), min(columns, 0xFFFF)
        )
        try:
            payload = request.encode()
        except execwire.WireError as err:
            raise ERROR_BY_STATUS_NAME["INVALID_ARGUMENT"](str(err)) from None
        if len(payload) > execwire.MAX_PAYLOAD:
            raise ERROR_BY_STATUS_NAME["INVALID_ARGUMENT"](
                f"the command and its environment take {len(payload)} bytes; "
                f"at most {execwire.MAX_PAYLOAD}"
            )
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        try:
            sock.connect(path)
            sock.sendall(execwire.PREAMBLE + execwire.frame(execwire.REQUEST, payload))
        except OSError as err:
            sock.close()
            message = unreachable_message(f"unix:{path}", err.strerror or str(err))
            raise ERROR_BY_STATUS_NAME["UNAVAILABLE"](message) from None
        session = cls(sock, path)
        session._started()
        return session

    def _started(self) -> None:
        """Wait for STARTED: a refusal comes before the terminal is touched, as in gRPC."""
        self._skip_greeting()
        received = self._frame()
        if received is not None and received[0] == execwire.ERROR:
            self.close()
            raise _refusal(received[1])
        if received is None or received[0] != execwire.STARTED:
            self.close()
            raise Error("the daemon did not start the session")

    def _skip_greeting(self) -> None:
        """Past the daemon's PREAMBLE, and grpc's bytes if they came first."""
        limit = execwire.MAX_GREETING + len(execwire.PREAMBLE)
        while not 0 <= (found := self._received.find(execwire.PREAMBLE)) <= execwire.MAX_GREETING:
            data = self._receive() if found < 0 and len(self._received) < limit else b""
            if not data:
                self.close()
                raise Error(f"openvzd at {self._path} does not speak the local exec channel")
            self._received += data
        del self._received[: found + len(execwire.PREAMBLE)]

    def _receive(self) -> bytes:
        """b"" once the connection is over; BlockingIOError passes on (to the poll loop)."""
        try:
            return self._sock.recv(RECEIVE_BYTES)
        except BlockingIOError:
            raise
        except OSError:
            return b""

    def _buffered_frame(self) -> tuple[bytes, bytes] | None:
        """The next whole frame already received, if there is one."""
        header_size = execwire.HEADER.size
        if len(self._received) < header_size:
            return None
        kind, length = execwire.HEADER.unpack_from(self._received)
        if length > execwire.MAX_PAYLOAD:
            raise Error(f"openvzd sent a frame of {length} bytes on {self._path}")
        if len(self._received) < header_size + length:
            return None
        payload = bytes(self._received[header_size : header_size + length])
        del self._received[: header_size + length]
        return kind, payload

    def _frame(self) -> tuple[bytes, bytes] | None:
        """The daemon's next frame, waiting for it; None when it closed the connection."""
        while (received := self._buffered_frame()) is None:
            data = self._receive()
            if not data:
                return None
            self._received += data
        return received

    def _queue(self, kind: bytes, payload: bytes = b"") -> None:
        self._outgoing += execwire.frame(kind, payload)

    def relay(self, stdin: int, stdout: int, stderr: int, pty: bool) -> int:
        """stdin to the command and its output to stdout and stderr until it ends; its
        exit status. Called from the main thread: without a pty SIGINT, SIGTERM and
        SIGHUP are passed on to the command; with one, SIGWINCH passes the window's new
        size (stdin's terminal's)."""
        handled: tuple[int, ...] = (_signal.SIGWINCH,) if pty else PASSED_ON_SIGNALS
        wakeup, woken = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            previous_wakeup: int | None = _signal.set_wakeup_fd(woken, warn_on_full_buffer=False)
        except ValueError:  # not the main thread, the only one Python runs handlers in
            previous_wakeup, handled = None, ()
        previous = {signum: _signal.signal(signum, _noted) for signum in handled}
        try:
            return self._relay(stdin, stdout, stderr, wakeup)
        finally:
            for signum, handler in previous.items():
                _signal.signal(signum, handler)
            if previous_wakeup is not None:
                _signal.set_wakeup_fd(previous_wakeup)
            os.close(wakeup)
            os.close(woken)

    def _relay(self, stdin: int, stdout: int, stderr: int, wakeup: int) -> int:
        """The poll loop. stdin is read only when what was read before has been sent,
        and the daemon's bytes only when the last ones were written out: neither side
        makes the other buffer more than a frame."""
        sock = self._sock.fileno()
        self._sock.setblocking(False)
        poller = select.poll()
        poller.register(wakeup, select.POLLIN)
        reading_stdin = True
        watching_stdin = False
        while True:
            while (received := self._buffered_frame()) is not None:
                if (status := self._take(received, stdout, stderr)) is not None:
                    return status
            poller.register(sock, select.POLLIN | (select.POLLOUT if self._outgoing else 0))
            if watching_stdin != (reading_stdin and not self._outgoing):
                watching_stdin = not watching_stdin
                if watching_stdin:
                    poller.register(stdin, select.POLLIN)
                else:
                    poller.unregister(stdin)
            for fd, events in poller.poll():
                if fd == wakeup:
                    self._signalled(wakeup, stdin)
                elif fd == sock:
                    if events & select.POLLOUT:
                        self._send_outgoing()
                    if events & READABLE:
                        self._read_socket()
                elif fd == stdin and reading_stdin:
                    reading_stdin = self._read_stdin(stdin)

    def _take(self, received: tuple[bytes, bytes], stdout: int, stderr: int) -> int | None:
        """One frame of the daemon's; at the last (EXIT), the command's exit status."""
        kind, payload = received
        if kind == execwire.STDOUT:
            write_all(stdout, payload)
        elif kind == execwire.STDERR:
            write_all(stderr, payload)
        elif kind == execwire.EXIT:
            try:
                status, self.exit_reason = execwire.exit_of(payload)
            except execwire.WireError as err:
                raise Error(f"openvzd sent a bad exit frame on {self._path}: {err}") from None
            self.exit_status = status
            return status
        elif kind == execwire.ERROR:
            raise _refusal(payload)
        else:
            raise Error(f"openvzd sent a frame of unknown type {kind!r} on {self._path}")
        return None

    def _signalled(self, wakeup: int, stdin: int) -> None:
        try:
            numbers = os.read(wakeup, 64)
        except BlockingIOError:
            return
        for signum in numbers:
            if signum == _signal.SIGWINCH:
                size = terminal_size(stdin)
                if size is not None:
                    self._queue(execwire.RESIZE, execwire.PAIR.pack(*size))
            else:
                self._queue(execwire.SIGNAL, execwire.NUMBER.pack(signum))

    def _read_stdin(self, stdin: int) -> bool:
        """A frame of stdin (or its end) queued; False once it is over."""
        try:
            data = os.read(stdin, execwire.MAX_PAYLOAD)
        except BlockingIOError:
            return True
        except OSError:  # closed, or not readable at all: the command's stdin is over
            data = b""
        self._queue(execwire.STDIN if data else execwire.STDIN_EOF, data)
        return bool(data)

    def _send_outgoing(self) -> None:
        try:
            sent = self._sock.send(self._outgoing)
        except BlockingIOError:
            return
        except OSError:  # the daemon went away: reading says why
            sent = len(self._outgoing)
        del self._outgoing[:sent]

    def _read_socket(self) -> None:
        try:
            data = self._receive()
        except BlockingIOError:
            return
        if not data:
            raise Error("the session ended without the command's exit status")
        self._received += data

    def close(self) -> None:
        """Leave now: the daemon kills what still runs."""
        self._sock.close()

    def __enter__(self) -> LocalExecSession:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _refusal(payload: bytes) -> Error:
    status_name, message = execwire.error_of(payload)
    return ERROR_BY_STATUS_NAME.get(status_name, Error)(message)
