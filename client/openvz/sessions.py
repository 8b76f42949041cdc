"""Exec and console sessions over Domains.Exec and Domains.Console, in both faces.

    with conn.lookup("101").exec(["cat"]) as run:      # sync
        run.write(b"hello\\n"); run.close_stdin()
        for stream, data in run: ...                   # ("stdout" | "stderr", bytes)
        run.exit_status                                # the command's own

    run = await dom.exec(["cat"])                       # asyncio: the same, awaited
    async for stream, data in run: ...

An empty argv with pty=True is an interactive shell (vzctl enter). A console
session yields the console's output as bytes; detach() leaves it, and
`detached_reason` says why it ended (e.g. another client took it with force).
Both bound what they hold: the sync face's request queue blocks a writer that
runs ahead of the daemon, and output is read only when iterated.
"""

from __future__ import annotations

import asyncio
import queue
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any

import grpc
from google.protobuf.message import Message

from openvz.errors import Error, from_rpc_error
from openvz.v1 import common_pb2, domains_pb2

EXEC_METHOD = "/openvz.v1.Domains/Exec"
CONSOLE_METHOD = "/openvz.v1.Domains/Console"
# Frames of stdin or console input sent at most this big; the daemon reads output in
# chunks of the same size.
FRAME = 256 * 1024
# Requests the sync face queues before write() waits for the daemon to take them.
QUEUED_REQUESTS = 16

Output = tuple[str, bytes]


def exec_start(
    ref: common_pb2.DomainRef,
    argv: Sequence[str],
    env: Mapping[str, str] | None,
    cwd: str,
    pty: bool,
    size: tuple[int, int] | None,
) -> domains_pb2.ExecRequest:
    rows, columns = size or (0, 0)
    return domains_pb2.ExecRequest(
        start=domains_pb2.ExecStart(
            domain=ref,
            argv=list(argv),
            env=dict(env or {}),
            cwd=cwd,
            pty=pty,
            size=domains_pb2.TerminalSize(rows=rows, columns=columns),
        )
    )


def _frames(data: bytes) -> Iterator[bytes]:
    for offset in range(0, len(data), FRAME):
        yield data[offset : offset + FRAME]


def _output(reply: domains_pb2.ExecReply) -> Output | domains_pb2.ExecExit | None:
    """A frame of output, the end (ExecExit), or None for anything else."""
    which = reply.WhichOneof("message")
    if which == "stdout":
        return "stdout", reply.stdout
    if which == "stderr":
        return "stderr", reply.stderr
    if which == "exit":
        return reply.exit
    return None


def _method(channel: Any, name: str, request: type[Message], reply: type[Message]) -> Any:
    return channel.stream_stream(
        name,
        request_serializer=request.SerializeToString,
        response_deserializer=reply.FromString,
    )


class _SyncCall:
    """A bidirectional call fed from a bounded queue; None ends the requests."""

    def __init__(
        self, channel: Any, method: str, request: type[Message], reply: type[Message], target: str
    ) -> None:
        self._target = target
        self._queue: queue.Queue[Any] = queue.Queue(QUEUED_REQUESTS)
        self._requests_open = True
        self._call = _method(channel, method, request, reply)(self._requests())

    def _requests(self) -> Iterator[Any]:
        while (request := self._queue.get()) is not None:
            yield request

    def send(self, request: Any) -> None:
        if self._requests_open:
            self._queue.put(request)

    def end_requests(self) -> None:
        if self._requests_open:
            self._requests_open = False
            self._queue.put(None)

    def receive(self) -> Any:
        """The next reply; None when the call ended."""
        try:
            return next(self._call)
        except StopIteration:
            return None
        except grpc.RpcError as err:
            raise from_rpc_error(err, self._target) from None

    def cancel(self) -> None:
        self._call.cancel()
        self._requests_open = False
        # Unblock the request thread whether or not the queue had room.
        while True:
            try:
                self._queue.put_nowait(None)
                return
            except queue.Full:
                self._queue.get_nowait()


class ExecSession:
    """A command (or shell) running in a container, from the sync face."""

    def __init__(self, call: _SyncCall) -> None:
        self._call = call
        self.exit_status: int | None = None
        # Why the daemon ended the session before the command ended, if it did.
        self.exit_reason = ""
        started = call.receive()
        if started is None or started.WhichOneof("message") != "started":
            call.cancel()
            raise Error("the daemon did not start the session")
        self.id: str = started.started.session_id

    @classmethod
    def start(
        cls,
        conn: Any,
        ref: common_pb2.DomainRef,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str = "",
        pty: bool = False,
        size: tuple[int, int] | None = None,
    ) -> ExecSession:
        call = _SyncCall(
            conn._channel, EXEC_METHOD, domains_pb2.ExecRequest, domains_pb2.ExecReply, conn.target
        )
        call.send(exec_start(ref, argv, env, cwd, pty, size))
        return cls(call)

    def write(self, data: bytes) -> None:
        for frame in _frames(data):
            self._call.send(domains_pb2.ExecRequest(stdin=frame))

    def close_stdin(self) -> None:
        self._call.send(domains_pb2.ExecRequest(stdin_eof=True))

    def resize(self, rows: int, columns: int) -> None:
        size = domains_pb2.TerminalSize(rows=rows, columns=columns)
        self._call.send(domains_pb2.ExecRequest(resize=size))

    def signal(self, number: int) -> None:
        self._call.send(domains_pb2.ExecRequest(signal=number))

    def __iter__(self) -> Iterator[Output]:
        """("stdout" | "stderr", bytes) until the command ends; then exit_status is set."""
        while self.exit_status is None:
            reply = self._call.receive()
            if reply is None:
                raise Error("the session ended without the command's exit status")
            frame = _output(reply)
            if isinstance(frame, domains_pb2.ExecExit):
                self.exit_status, self.exit_reason = frame.status, frame.reason
                self._call.end_requests()
            elif frame is not None:
                yield frame

    def wait(self) -> int:
        """Discard what output is left; the command's exit status."""
        for _ in self:
            pass
        assert self.exit_status is not None
        return self.exit_status

    def close(self) -> None:
        """Leave now: the daemon kills what still runs."""
        if self.exit_status is None:
            self._call.cancel()
        self._call.end_requests()

    def __enter__(self) -> ExecSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ConsoleSession:
    """Attached to a container's console, from the sync face."""

    def __init__(self, call: _SyncCall) -> None:
        self._call = call
        self.detached_reason: str | None = None
        attached = call.receive()
        if attached is None or attached.WhichOneof("message") != "attached":
            call.cancel()
            raise Error("the daemon did not attach the console")
        self.id: str = attached.attached.session_id

    @classmethod
    def attach(cls, conn: Any, ref: common_pb2.DomainRef, force: bool = False) -> ConsoleSession:
        call = _SyncCall(
            conn._channel,
            CONSOLE_METHOD,
            domains_pb2.ConsoleRequest,
            domains_pb2.ConsoleReply,
            conn.target,
        )
        call.send(
            domains_pb2.ConsoleRequest(attach=domains_pb2.ConsoleAttach(domain=ref, force=force))
        )
        return cls(call)

    def write(self, data: bytes) -> None:
        for frame in _frames(data):
            self._call.send(domains_pb2.ConsoleRequest(input=frame))

    def detach(self) -> None:
        """Ask to leave; iterating then ends with detached_reason set."""
        self._call.send(domains_pb2.ConsoleRequest(detach=True))
        self._call.end_requests()

    def __iter__(self) -> Iterator[bytes]:
        while self.detached_reason is None:
            reply = self._call.receive()
            if reply is None:
                self.detached_reason = "the daemon ended the console session"
                return
            which = reply.WhichOneof("message")
            if which == "output":
                yield reply.output
            elif which == "detached":
                self.detached_reason = reply.detached.reason
                self._call.end_requests()

    def close(self) -> None:
        if self.detached_reason is None:
            self._call.cancel()
        self._call.end_requests()

    def __enter__(self) -> ConsoleSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _AsyncCall:
    def __init__(
        self, channel: Any, method: str, request: type[Message], reply: type[Message], target: str
    ) -> None:
        self._target = target
        self._call = _method(channel, method, request, reply)()
        self._writing = asyncio.Lock()
        self._requests_open = True

    async def send(self, request: Any) -> None:
        async with self._writing:
            if not self._requests_open:
                return
            try:
                await self._call.write(request)
            except grpc.aio.AioRpcError as err:
                raise from_rpc_error(err, self._target) from None
            except asyncio.InvalidStateError:  # the call is over: nothing more to send
                self._requests_open = False

    async def end_requests(self) -> None:
        async with self._writing:
            if self._requests_open:
                self._requests_open = False
                await self._call.done_writing()

    async def receive(self) -> Any:
        try:
            reply = await self._call.read()
        except grpc.aio.AioRpcError as err:
            raise from_rpc_error(err, self._target) from None
        return None if reply is grpc.aio.EOF else reply

    def cancel(self) -> None:
        self._requests_open = False
        self._call.cancel()


class AsyncExecSession:
    """ExecSession for the asyncio face: the same methods, awaited."""

    def __init__(self, call: _AsyncCall, session_id: str) -> None:
        self._call = call
        self.id = session_id
        self.exit_status: int | None = None
        # Why the daemon ended the session before the command ended, if it did.
        self.exit_reason = ""

    @classmethod
    async def start(
        cls,
        conn: Any,
        ref: common_pb2.DomainRef,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str = "",
        pty: bool = False,
        size: tuple[int, int] | None = None,
    ) -> AsyncExecSession:
        call = _AsyncCall(
            conn._channel, EXEC_METHOD, domains_pb2.ExecRequest, domains_pb2.ExecReply, conn.target
        )
        await call.send(exec_start(ref, argv, env, cwd, pty, size))
        started = await call.receive()
        if started is None or started.WhichOneof("message") != "started":
            call.cancel()
            raise Error("the daemon did not start the session")
        return cls(call, started.started.session_id)

    async def write(self, data: bytes) -> None:
        for frame in _frames(data):
            await self._call.send(domains_pb2.ExecRequest(stdin=frame))

    async def close_stdin(self) -> None:
        await self._call.send(domains_pb2.ExecRequest(stdin_eof=True))

    async def resize(self, rows: int, columns: int) -> None:
        size = domains_pb2.TerminalSize(rows=rows, columns=columns)
        await self._call.send(domains_pb2.ExecRequest(resize=size))

    async def signal(self, number: int) -> None:
        await self._call.send(domains_pb2.ExecRequest(signal=number))

    async def __aiter__(self) -> AsyncIterator[Output]:
        while self.exit_status is None:
            reply = await self._call.receive()
            if reply is None:
                raise Error("the session ended without the command's exit status")
            frame = _output(reply)
            if isinstance(frame, domains_pb2.ExecExit):
                self.exit_status, self.exit_reason = frame.status, frame.reason
                await self._call.end_requests()
            elif frame is not None:
                yield frame

    async def wait(self) -> int:
        async for _ in self:
            pass
        assert self.exit_status is not None
        return self.exit_status

    def close(self) -> None:
        if self.exit_status is None:
            self._call.cancel()


class AsyncConsoleSession:
    """ConsoleSession for the asyncio face."""

    def __init__(self, call: _AsyncCall, session_id: str) -> None:
        self._call = call
        self.id = session_id
        self.detached_reason: str | None = None

    @classmethod
    async def attach(
        cls, conn: Any, ref: common_pb2.DomainRef, force: bool = False
    ) -> AsyncConsoleSession:
        call = _AsyncCall(
            conn._channel,
            CONSOLE_METHOD,
            domains_pb2.ConsoleRequest,
            domains_pb2.ConsoleReply,
            conn.target,
        )
        await call.send(
            domains_pb2.ConsoleRequest(attach=domains_pb2.ConsoleAttach(domain=ref, force=force))
        )
        attached = await call.receive()
        if attached is None or attached.WhichOneof("message") != "attached":
            call.cancel()
            raise Error("the daemon did not attach the console")
        return cls(call, attached.attached.session_id)

    async def write(self, data: bytes) -> None:
        for frame in _frames(data):
            await self._call.send(domains_pb2.ConsoleRequest(input=frame))

    async def detach(self) -> None:
        await self._call.send(domains_pb2.ConsoleRequest(detach=True))
        await self._call.end_requests()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while self.detached_reason is None:
            reply = await self._call.receive()
            if reply is None:
                self.detached_reason = "the daemon ended the console session"
                return
            which = reply.WhichOneof("message")
            if which == "output":
                yield reply.output
            elif which == "detached":
                self.detached_reason = reply.detached.reason

    def close(self) -> None:
        if self.detached_reason is None:
            self._call.cancel()
