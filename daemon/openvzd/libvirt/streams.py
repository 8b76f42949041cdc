"""virDomainOpenConsole's stream: a console session's bytes as libvirt's STREAM packets.

Once the open call is answered, both sides send STREAM packets that carry the
call's program, version, procedure and serial:

- CONTINUE with data: console output to the client, keystrokes to the console.
- CONTINUE with no data, from us: the end of the output (the console closed:
  the container stopped, another client forced it off, the daemon stops). As
  libvirtd, we then wait for the client's finish.
- OK, from the client: finish. The console is detached and we confirm with an
  empty STREAM OK. (An OK the client did not ask for makes libvirt's client
  drop the whole connection, so we never send one first.)
- ERROR (or a status libvirt does not define), from the client: abort. The
  console is ended and, as libvirtd does, answered with a REPLY/ERROR that its
  abort call waits for.
- ERROR, from us: a failure (the client sent more input than the console
  takes); the stream is then over and the client sends nothing more for it.

libvirt has no flow control beyond the socket's. Output is read from the
console only when the connection's send buffer has drained, so a client that
does not read holds vzctl back rather than the daemon's memory; input waits in
a buffer of at most INPUT_BACKLOG_MAX bytes, past which the stream fails.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import enum
import logging
from collections.abc import Awaitable, Callable

from openvzd.libvirt.numbers import ErrorCode, ErrorDomain
from openvzd.libvirt.protocol import Header, MessageType, Status, encode_packet, pack_error
from openvzd.sessions import ConsoleSession

log = logging.getLogger(__name__)

INPUT_BACKLOG_MAX = 1024 * 1024
CLIENT_LEFT = "the libvirt client went away"


class _End(enum.Enum):
    FINISH = "the client finished the stream"
    ABORT = "the client aborted the stream"
    UNEXPECTED = "the client ended the stream with an unknown status"
    OVERRUN = "the client sent more input than the console took"


class ConsoleStream:
    """One open console on one connection, from its open call's reply to its end."""

    def __init__(
        self,
        console: ConsoleSession,
        send: Callable[[bytes], None],
        drain: Callable[[], Awaitable[None]],
    ) -> None:
        self.console = console
        self._send_packet = send
        self._drain = drain
        self._call: Header | None = None
        self._input: collections.deque[bytes] = collections.deque()
        self._input_size = 0
        self._input_waiting = asyncio.Event()
        self._end: asyncio.Future[_End] = asyncio.get_running_loop().create_future()

    def start(self, call: Header) -> asyncio.Task[None]:
        """Begin moving bytes; called right after the open call's reply was sent."""
        self._call = call
        return asyncio.create_task(self._run(), name=f"libvirt-console-{self.console.veid}")

    def carries(self, packet: Header) -> bool:
        """Whether a STREAM packet with this stream's serial is for it."""
        call = self._call
        return call is not None and (packet.program, packet.version, packet.procedure) == (
            call.program,
            call.version,
            call.procedure,
        )

    def receive(self, status: int, body: bytes) -> None:
        """A STREAM packet from the client. Never waits: the connection's reader
        must go on serving keepalive and other calls."""
        if self._end.done():
            return  # what was in flight when the stream ended
        if status == Status.CONTINUE:
            if not body:
                return
            self._input.append(body)
            self._input_size += len(body)
            if self._input_size > INPUT_BACKLOG_MAX:
                self._end.set_result(_End.OVERRUN)
            self._input_waiting.set()
        elif status == Status.OK:
            self._end.set_result(_End.FINISH)
        elif status == Status.ERROR:
            self._end.set_result(_End.ABORT)
        else:
            self._end.set_result(_End.UNEXPECTED)

    async def _run(self) -> None:
        movers = [
            asyncio.create_task(self._send_output()),
            asyncio.create_task(self._feed_input()),
        ]
        try:
            end = await self._end
            await _stopped(movers)
            await self._close(end)
        finally:
            # Cancelled (the connection went away) at any point, even while closing:
            # the console is ended all the same (once; a closed one stays as it was).
            for mover in movers:
                mover.cancel()
            await self.console.abort(CLIENT_LEFT)
            await _stopped(movers)

    async def _close(self, end: _End) -> None:
        if end is _End.FINISH:
            await self.console.detach()
            self._send(MessageType.STREAM, Status.OK)
        elif end is _End.ABORT:
            await self.console.abort(end.value)
            self._send_error(MessageType.REPLY, "stream aborted at client request")
        elif end is _End.UNEXPECTED:
            await self.console.abort(end.value)
            self._send_error(MessageType.REPLY, "stream had an unexpected termination status")
        else:
            await self.console.abort(end.value)
            self._send_error(
                MessageType.STREAM,
                f"{end.value} (over {INPUT_BACKLOG_MAX} bytes waiting); "
                "the console is not reading its input",
            )

    async def _send_output(self) -> None:
        try:
            while (data := await self.console.next_output()) is not None:
                await self._drain()
                self._send(MessageType.STREAM, Status.CONTINUE, data)
        except ConnectionError:
            return  # the reader sees the connection end and cancels the stream
        log.info(
            "libvirt console on CT %s ended: %s",
            self.console.veid,
            self.console.reason,
            extra={"veid": self.console.veid},
        )
        self._send(MessageType.STREAM, Status.CONTINUE)

    async def _feed_input(self) -> None:
        while True:
            await self._input_waiting.wait()
            while self._input:
                data = self._input.popleft()
                self._input_size -= len(data)
                # False once vzctl no longer reads: its output then ends, and with it the stream.
                await self.console.write(data)
            self._input_waiting.clear()

    def _send(self, kind: MessageType, status: Status, body: bytes = b"") -> None:
        assert self._call is not None
        call = self._call
        header = Header(call.program, call.version, call.procedure, kind, call.serial, status)
        self._send_packet(encode_packet(header, body))

    def _send_error(self, kind: MessageType, message: str) -> None:
        self._send(kind, Status.ERROR, pack_error(ErrorCode.RPC, ErrorDomain.STREAMS, message))


async def _stopped(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
