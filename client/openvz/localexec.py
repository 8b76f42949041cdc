"""An exec session on the local exec channel (openvz.execwire, docs/sessions.md):
the same face as openvz.sessions.ExecSession, on a local unix socket, without grpc.

`ovzsh exec` uses it for the local socket so that its process never imports grpc
or protobuf; the library keeps Domains.Exec. Imports only light modules.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Iterator, Mapping, Sequence
from types import TracebackType

from openvz import execwire
from openvz.error_classes import ERROR_BY_STATUS_NAME, Error, unreachable_message

Output = tuple[str, bytes]
RECEIVE_BYTES = 1024 * 1024


class LocalExecSession:
    """A command (or shell) in a container over the local exec channel."""

    def __init__(self, sock: socket.socket, path: str) -> None:
        self._sock = sock
        self._path = path
        self._sending = threading.Lock()
        self._received = bytearray()
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
        rows, columns = size or (0, 0)
        request = {
            "domain": domain,
            "argv": list(argv),
            "env": dict(env or {}),
            "cwd": cwd,
            "tty": pty,
            "rows": rows,
            "columns": columns,
        }
        payload = json.dumps(request).encode()
        if len(payload) > execwire.MAX_PAYLOAD:
            raise ERROR_BY_STATUS_NAME["INVALID_ARGUMENT"](
                f"the command and its environment take {len(payload)} bytes; "
                f"at most {execwire.MAX_PAYLOAD}"
            )
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
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

    def _send(self, kind: bytes, payload: bytes = b"") -> None:
        """A frame; dropped once the session is over (as the gRPC face's requests)."""
        with self._sending:
            if self.exit_status is not None:
                return
            # When the daemon ended the connection, __iter__ says why.
            with contextlib.suppress(OSError):
                self._sock.sendall(execwire.frame(kind, payload))

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        for offset in range(0, len(view), execwire.MAX_PAYLOAD):
            self._send(execwire.STDIN, bytes(view[offset : offset + execwire.MAX_PAYLOAD]))

    def close_stdin(self) -> None:
        self._send(execwire.STDIN_EOF)

    def resize(self, rows: int, columns: int) -> None:
        self._send(execwire.RESIZE, execwire.PAIR.pack(rows, columns))

    def signal(self, number: int) -> None:
        self._send(execwire.SIGNAL, execwire.NUMBER.pack(number))

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
        try:
            return self._sock.recv(RECEIVE_BYTES)
        except OSError:
            return b""

    def _frame(self) -> tuple[bytes, bytes] | None:
        """The daemon's next frame; None when it closed the connection."""
        header_size = execwire.HEADER.size
        while True:
            if len(self._received) >= header_size:
                kind, length = execwire.HEADER.unpack_from(self._received)
                if length > execwire.MAX_PAYLOAD:
                    raise Error(f"openvzd sent a frame of {length} bytes on {self._path}")
                if len(self._received) >= header_size + length:
                    payload = bytes(self._received[header_size : header_size + length])
                    del self._received[: header_size + length]
                    return kind, payload
            data = self._receive()
            if not data:
                return None
            self._received += data

    def __iter__(self) -> Iterator[Output]:
        """("stdout" | "stderr", bytes) until the command ends; then exit_status is set."""
        while self.exit_status is None:
            received = self._frame()
            if received is None:
                raise Error("the session ended without the command's exit status")
            kind, payload = received
            if kind == execwire.STDOUT:
                yield "stdout", payload
            elif kind == execwire.STDERR:
                yield "stderr", payload
            elif kind == execwire.EXIT:
                ended = json.loads(payload)
                self.exit_status = int(ended["status"])
                self.exit_reason = str(ended["reason"])
            elif kind == execwire.ERROR:
                raise _refusal(payload)
            else:
                raise Error(f"openvzd sent a frame of unknown type {kind!r} on {self._path}")

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
    refused = json.loads(payload)
    return ERROR_BY_STATUS_NAME.get(refused["status"], Error)(str(refused["message"]))
