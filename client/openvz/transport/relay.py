"""A private unix socket whose every connection is joined to a fresh upstream.

grpc Python cannot take an already connected stream (no channel from an fd),
so a tunnel listens on a unix socket in a 0700 temp directory, grpc connects
there, and each accepted connection gets its own upstream (an ssh process, an
authenticated TCP session). The relay runs its own event loop in a thread, so
it serves sync and asyncio channels alike and outlives no one: close() stops
every upstream it started.

start() opens the first upstream at once and waits for the daemon's first
bytes (a gRPC server speaks first: HTTP/2 SETTINGS), so a refused login or an
unreachable host is an exception from start(), not a vague UNAVAILABLE later;
that upstream then serves grpc's first connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import tempfile
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Protocol

from openvz.transport.errors import TransportError

log = logging.getLogger(__name__)

_CHUNK = 64 * 1024


class Upstream(Protocol):
    async def send(self, data: bytes) -> None: ...

    async def receive(self) -> bytes:
        """The next bytes from the daemon; b"" when the stream has ended."""

    async def failure(self) -> TransportError:
        """Why the stream ended before the daemon said anything."""

    async def close(self) -> None: ...


Connect = Callable[[], Awaitable[Upstream]]


class LocalRelay:
    def __init__(self, connect: Connect, label: str, connect_timeout: float = 30.0) -> None:
        self._connect = connect
        self._label = label
        self._connect_timeout = connect_timeout
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._directory: Path | None = None
        self._server: asyncio.AbstractServer | None = None
        self._spare: tuple[Upstream, bytes] | None = None
        # What _shutdown() must end: connection tasks, and what they may not have
        # closed when cancelled mid-way.
        self._connections: set[asyncio.Task[None]] = set()
        self._upstreams: set[Upstream] = set()
        self._clients: set[asyncio.StreamWriter] = set()

    @property
    def socket_path(self) -> Path:
        if self._directory is None:
            raise RuntimeError("the relay is not started")
        return self._directory / "relay.sock"

    @property
    def target(self) -> str:
        """The grpc target of this relay: unix:PATH."""
        return f"unix:{self.socket_path}"

    def start(self) -> str:
        """Connect the first upstream and listen; returns the grpc target.

        Raises TransportError (AuthenticationFailed for a refused login).
        """
        self._directory = Path(tempfile.mkdtemp(prefix="openvz-"))
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name=f"openvz-{self._label}", daemon=True
        )
        self._thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self._open(), self._loop).result(
                self._connect_timeout + 5
            )
        except TimeoutError:
            self.close()
            raise TransportError(
                f"{self._label}: no answer within {self._connect_timeout:.0f} s"
            ) from None
        except BaseException:
            self.close()
            raise
        return self.target

    def close(self) -> None:
        """Stop listening and end every upstream; safe to call twice."""
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None and thread.is_alive():
            with contextlib.suppress(TimeoutError):
                asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(15)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(15)
        if loop is not None and not loop.is_running():
            loop.close()
        self._loop = self._thread = None
        if self._directory is not None:
            shutil.rmtree(self._directory, ignore_errors=True)
            self._directory = None

    async def start_async(self) -> str:
        """start() for asyncio callers: the blocking part runs in a worker thread."""
        return await asyncio.to_thread(self.start)

    async def close_async(self) -> None:
        await asyncio.to_thread(self.close)

    async def __aenter__(self) -> str:
        return await self.start_async()

    async def __aexit__(self, *exc: object) -> None:
        await self.close_async()

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def _open(self) -> None:
        upstream = await self._first_bytes_from_new_upstream()
        self._spare = upstream
        self._server = await asyncio.start_unix_server(self._accepted, path=str(self.socket_path))

    async def _first_bytes_from_new_upstream(self) -> tuple[Upstream, bytes]:
        async with asyncio.timeout(self._connect_timeout):
            upstream = await self._connect()
            try:
                first = await upstream.receive()
                if not first:
                    raise await upstream.failure()
            except BaseException:
                await upstream.close()
                raise
        return upstream, first

    def _accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # A plain callback, not a coroutine: Python 3.11's stream server logs a handler
        # task that is cancelled before it first runs, which close() may do.
        self._clients.add(writer)
        task = asyncio.get_running_loop().create_task(self._serve(reader, writer))
        self._connections.add(task)
        task.add_done_callback(self._connections.discard)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream: Upstream | None = None
        try:
            if self._spare is not None:
                (upstream, first), self._spare = self._spare, None
            else:
                upstream, first = await self._first_bytes_from_new_upstream()
            self._upstreams.add(upstream)
            writer.write(first)
            await _join(reader, writer, upstream)
        except TransportError as err:
            log.warning("%s: %s", self._label, err)
        except (ConnectionError, TimeoutError) as err:
            log.debug("%s: connection ended: %s", self._label, err)
        except asyncio.CancelledError:
            pass  # close() ends the connection
        finally:
            if upstream is not None:
                await upstream.close()
                self._upstreams.discard(upstream)
            await close_stream(writer)
            self._clients.discard(writer)

    async def _shutdown(self) -> None:
        """End every connection and wait until each upstream and socket is closed,
        so that nothing is left for the garbage collector once the loop is gone."""
        if self._server is not None:
            self._server.close()
        if self._spare is not None:
            await self._spare[0].close()
            self._spare = None
        # A connection accepted while closing may start after a first round.
        for _ in range(5):
            if not self._connections:
                break
            for task in list(self._connections):
                task.cancel()
            await asyncio.gather(*self._connections, return_exceptions=True)
        # A task cancelled inside its finally left these behind.
        for upstream in list(self._upstreams):
            with contextlib.suppress(Exception):
                await upstream.close()
        for writer in list(self._clients):
            await close_stream(writer)
        self._upstreams.clear()
        self._clients.clear()


async def close_stream(writer: asyncio.StreamWriter) -> None:
    """Close writer and wait until it is closed.

    The wait is shielded: every wait_closed() of a stream awaits the protocol's one
    close future, so a task cancelled while waiting would cancel that future, and
    each later wait (another task closing the same stream) would raise CancelledError.
    """
    writer.close()
    with contextlib.suppress(ConnectionError, OSError):
        await asyncio.shield(writer.wait_closed())


async def _join(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, upstream: Upstream
) -> None:
    async def outward() -> None:
        while data := await reader.read(_CHUNK):
            await upstream.send(data)

    async def inward() -> None:
        while data := await upstream.receive():
            writer.write(data)
            await writer.drain()

    tasks = [asyncio.ensure_future(outward()), asyncio.ensure_future(inward())]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            task.result()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
