"""Exec on the local exec channel: `ovzsh exec` on a unix socket without gRPC.

A gRPC client process pays ~80 ms for `import grpc` before its first byte, four
times the overhead allowed over a bare `vzctl exec2` (docs/sessions.md). So a
unix-socket client may open its connection with openvz.execwire.PREAMBLE instead
of gRPC's preface; the relay (relay.py) then hands the connection, with the
Caller it read from the kernel, to a LocalExec here instead of relaying it.

This is Domains.Exec (api/sessions.py) in other frames: the same validation, the
same facade call, the same refusals in the gRPC status names, the same exit status
and reason, and the session ends (kill, reap, record) whatever ends the connection.
A client never half-closes (stdin's end is a STDIN_EOF frame), so the end of its
bytes means it went away.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from openvz import execwire

from openvzd.api.errors import STATUS_BY_KIND
from openvzd.core.caller import Caller
from openvzd.core.errors import ErrorKind, OpenvzError
from openvzd.core.facade import DomainRef, SessionFacade
from openvzd.sessions import ExecSession, ExecSpec, TerminalSize
from openvzd.sessions.pump import pump_output

log = logging.getLogger(__name__)

CLIENT_LEFT = "the client went away"
# Seconds from the preamble to the whole request frame; a silent client holds a place.
REQUEST_TIMEOUT = 10.0
# The gRPC path's words (access.ReadOnlyInterceptor), so ovzsh says the same either way.
READ_ONLY_REFUSAL = (
    "/openvz.v1.Domains/Exec changes the host and this connection is read-only "
    "(the read-only socket)"
)
# At most this many bytes of the client's wait in the daemon before it stops reading.
READ_LIMIT = 2 * (execwire.HEADER.size + execwire.MAX_PAYLOAD)


class ClientLeft(Exception):
    """The client's connection ended."""


def _bad(message: str) -> OpenvzError:
    return OpenvzError(ErrorKind.BAD_ARGUMENT, message)


def is_uuid(text: str) -> bool:
    """As the client decides it (openvz.calls.is_uuid): a UUID, else an ID or name."""
    return len(text) == 36 and text.count("-") == 4


def request_of(payload: bytes) -> tuple[DomainRef, ExecSpec]:
    """The domain and the spec of a REQUEST frame (openvz.execwire.ExecRequest)."""
    try:
        request = execwire.ExecRequest.decode(payload)
    except execwire.WireError as err:
        raise _bad(f"a malformed exec request: {err} (openvz.execwire)") from None
    if not request.domain:
        raise _bad("the exec request must name the container (ID, name or UUID)")
    ref = (
        DomainRef(uuid=request.domain)
        if is_uuid(request.domain)
        else DomainRef(name=request.domain)
    )
    spec = ExecSpec(
        argv=tuple(request.argv),
        env=request.env,
        cwd=request.cwd,
        pty=request.tty,
        size=_size(request.rows, request.columns),
    )
    return ref, spec


def _size(rows: int, columns: int) -> TerminalSize:
    return TerminalSize(rows or 24, columns or 80)


class LocalExec:
    """One connection of the local exec channel, from just after its preamble.

    The relay's protocol passes on what asyncio tells it (data_received and the
    rest); the session runs in a task of its own."""

    def __init__(
        self,
        transport: asyncio.Transport,
        caller: Caller,
        sessions: SessionFacade,
        resolve: Callable[[DomainRef], int],
        done: Callable[[LocalExec], None],
    ) -> None:
        self._transport = transport
        self._caller = caller
        self._sessions = sessions
        self._resolve = resolve
        self._done = done
        self._reader = asyncio.StreamReader(limit=READ_LIMIT)
        self._reader.set_transport(transport)
        self._writable = asyncio.Event()
        self._writable.set()
        self._lost = False
        # The first bytes the client reads past grpc's greeting, if that came first.
        transport.write(execwire.PREAMBLE)
        self.task = asyncio.get_running_loop().create_task(self._serve())

    # -- what the relay passes on ---------------------------------------------------

    def data_received(self, data: bytes) -> None:
        self._reader.feed_data(data)

    def eof_received(self) -> None:
        self._reader.feed_eof()

    def connection_lost(self) -> None:
        self._lost = True
        self._reader.feed_eof()
        self._writable.set()

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()

    # -- the session ------------------------------------------------------------------

    async def _send(self, kind: bytes, payload: bytes = b"") -> None:
        """One frame, once the client took the ones before (as grpc.aio's write)."""
        await self._writable.wait()
        if self._lost:
            raise ClientLeft
        self._transport.write(execwire.frame(kind, payload))

    async def _send_error(self, err: OpenvzError) -> None:
        payload = execwire.error_payload(STATUS_BY_KIND[err.kind].name, err.message)
        await self._send(execwire.ERROR, payload)

    async def _receive(self) -> tuple[bytes, bytes]:
        """The client's next frame; ClientLeft at the end of its bytes."""
        try:
            header = await self._reader.readexactly(execwire.HEADER.size)
            kind, length = execwire.HEADER.unpack(header)
            if length > execwire.MAX_PAYLOAD:
                raise _bad(
                    f"a frame of {length} bytes; at most {execwire.MAX_PAYLOAD} (openvz.execwire)"
                )
            return kind, await self._reader.readexactly(length)
        except asyncio.IncompleteReadError:
            raise ClientLeft from None

    async def _serve(self) -> None:
        try:
            await self._exec()
        except ClientLeft:
            pass
        except OpenvzError as err:
            with contextlib.suppress(ClientLeft):
                await self._send_error(err)
        except Exception:
            log.exception("local exec by %s failed", self._caller.describe())
            with contextlib.suppress(ClientLeft):
                await self._send_error(
                    OpenvzError(ErrorKind.INTERNAL, "openvzd failed; see its log")
                )
        finally:
            self._transport.close()
            self._done(self)

    async def _exec(self) -> None:
        try:
            kind, payload = await asyncio.wait_for(self._receive(), REQUEST_TIMEOUT)
        except TimeoutError:
            raise _bad(f"no exec request within {REQUEST_TIMEOUT:.0f} s") from None
        if kind != execwire.REQUEST:
            raise _bad("the first frame must be the exec request, which names the container")
        if self._caller.read_only:
            payload = execwire.error_payload("PERMISSION_DENIED", READ_ONLY_REFUSAL)
            await self._send(execwire.ERROR, payload)
            return
        ref, spec = request_of(payload)
        session = await self._sessions.exec_session(self._resolve(ref), spec, self._caller)
        try:
            await self._send(execwire.STARTED)
            failure = await pump_output(session.next_output, self._send_output, self._feed(session))
            if failure is not None:
                await session.abort(f"refused request: {failure.message}")
                raise failure
            status = await session.finish()
            await self._send(execwire.EXIT, execwire.exit_payload(status, session.reason))
        finally:
            await session.abort(CLIENT_LEFT)

    async def _send_output(self, output: tuple[str, bytes]) -> None:
        stream, data = output
        await self._send(execwire.STDERR if stream == "stderr" else execwire.STDOUT, data)

    async def _feed(self, session: ExecSession) -> None:
        """The client's frames to the session until the client goes away (ClientLeft)."""
        while True:
            kind, payload = await self._receive()
            if kind == execwire.STDIN:
                await session.write(payload)  # dropped once the command stopped reading
            elif kind == execwire.STDIN_EOF and not payload:
                await session.close_stdin()
            elif kind == execwire.RESIZE and len(payload) == execwire.PAIR.size:
                session.resize(_size(*execwire.PAIR.unpack(payload)))
            elif kind == execwire.SIGNAL and len(payload) == execwire.NUMBER.size:
                session.signal(execwire.NUMBER.unpack(payload)[0])
            else:
                raise _bad(
                    f"a frame of type {kind!r} and {len(payload)} bytes cannot come after the "
                    "request; send stdin, stdin_eof, resize or signal (openvz.execwire)"
                )


class LocalExecService:
    """Makes a LocalExec of each connection the relay hands over; stop() ends them."""

    def __init__(self, sessions: SessionFacade, resolve: Callable[[DomainRef], int]) -> None:
        self._sessions = sessions
        self._resolve = resolve
        self._running: set[LocalExec] = set()

    def accept(self, transport: asyncio.Transport, caller: Caller) -> LocalExec:
        connection = LocalExec(transport, caller, self._sessions, self._resolve, self._forget)
        self._running.add(connection)
        return connection

    def _forget(self, connection: LocalExec) -> None:
        self._running.discard(connection)

    async def stop(self) -> None:
        """After the sessions were closed and the fronts stopped: wait for the last ones."""
        tasks: list[asyncio.Task[Any]] = [connection.task for connection in self._running]
        if tasks:
            await asyncio.wait(tasks, timeout=5.0)
