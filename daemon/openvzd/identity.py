"""Who is calling: the Caller of every gRPC call, on every transport.

grpc.aio tells a servicer nothing about a unix-socket peer (context.peer() is
"unix:" and no uid), so openvzd accepts on its public sockets itself (relay.py),
reads the kernel's peer credentials there, and relays each connection to a gRPC
server on a private socket (root's 0700 directory) from a client socket bound to
a fresh abstract name. grpc-core reports that name as the peer
("unix-abstract:openvzd-..."), and this registry maps it back to the Caller
recorded at accept. The SASL listener and the TLS front register their callers
the same way. Only root can reach the private sockets, so a peer name is as
trustworthy as the accept that registered it.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeAlias

import grpc
from cryptography import x509

from openvzd.access import Level
from openvzd.core.caller import Caller
from openvzd.limiter import PerKeyLimiter, RateLimiter
from openvzd.remote.dn import describe, peer_certificate

Handler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"
Continuation: TypeAlias = Callable[[grpc.HandlerCallDetails], Awaitable["Handler | None"]]

_PEER_PREFIX = "unix-abstract:"
_UCRED = struct.Struct("3i")


def peer_credentials(sock: socket.socket) -> tuple[int, int, int]:
    """(pid, uid, gid) of a unix-socket peer, from the kernel (SO_PEERCRED)."""
    pid, uid, gid = _UCRED.unpack(
        sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size)
    )
    return pid, uid, gid


class Callers:
    """The Caller of each relayed connection, by the peer name grpc reports for it."""

    def __init__(self) -> None:
        self._by_peer: dict[str, Caller] = {}
        # Set by the TLS listener: the level its allow-lists give a client certificate.
        self.tls_level: Callable[[x509.Certificate], Level | None] | None = None

    def __len__(self) -> int:
        return len(self._by_peer)

    def get(self, peer: str) -> Caller | None:
        return self._by_peer.get(peer)

    def update(self, peer: str, caller: Caller) -> None:
        """Replace the caller of a registered connection (before it carried a call)."""
        if peer in self._by_peer:
            self._by_peer[peer] = caller

    def forget(self, peer: str) -> None:
        self._by_peer.pop(peer, None)

    def open_socket(self, caller: Caller) -> tuple[socket.socket, str]:
        """A non-blocking unix socket bound to a fresh abstract name, registered
        for caller before it connects (the first call on it finds its caller).

        Returns the socket and the peer name to forget() once the connection ends.
        """
        name = f"openvzd-{secrets.token_hex(12)}"
        peer = _PEER_PREFIX + name
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind("\0" + name)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        self._by_peer[peer] = caller
        return sock, peer

    async def connect(
        self, path: Path, caller: Caller, *, limit: int = 1 << 20
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, str]:
        """Streams to the private socket at path on behalf of caller, and the peer
        name to forget() once the connection has ended."""
        sock, peer = self.open_socket(caller)
        try:
            await asyncio.get_running_loop().sock_connect(sock, str(path))
            reader, writer = await asyncio.open_unix_connection(sock=sock, limit=limit)
        except BaseException:
            self.forget(peer)
            sock.close()
            raise
        return reader, writer, peer


CALLERS = Callers()
UNKNOWN = Caller("unknown")


def caller_of(context: Any, callers: Callers = CALLERS) -> Caller:
    """The Caller of the call whose servicer context this is."""
    caller = callers.get(context.peer())
    if caller is not None and caller.transport != "tls":
        return caller
    auth = context.auth_context()
    pems = auth.get("x509_pem_cert")
    if pems:
        certificate = peer_certificate(pems[0])
        level = callers.tls_level(certificate) if callers.tls_level is not None else None
        return Caller(
            "tls", name=describe(certificate.subject), read_only=level is not Level.READ_WRITE
        )
    return caller or UNKNOWN


def stream_key(caller: Caller) -> int | str:
    """What a per-caller cap counts by: the uid when the kernel gave one, else the name."""
    if caller.uid is not None:
        return caller.uid
    return f"{caller.transport}:{caller.name}"


class CallerCapInterceptor(grpc.aio.ServerInterceptor):
    """Caps the calls one caller (identity.stream_key) may have in flight at once:
    server-streaming calls (event watches, later exec and console) against
    `streams`, all others against `calls`. One more is refused at once with
    RESOURCE_EXHAUSTED, so a caller that floods queues behind itself, not others.
    Past `rate` calls a second a caller's calls wait for their turn: a client
    that loops on reads is slowed down instead of taking the daemon's time.
    """

    def __init__(
        self,
        streams: PerKeyLimiter[int | str],
        calls: PerKeyLimiter[int | str],
        rate: RateLimiter[int | str] | None = None,
        callers: Callers = CALLERS,
    ) -> None:
        self.streams = streams
        self.calls = calls
        self.rate = rate
        self._callers = callers

    async def intercept_service(
        self, continuation: Continuation, handler_call_details: grpc.HandlerCallDetails
    ) -> Handler | None:
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        serializers = {
            "request_deserializer": handler.request_deserializer,
            "response_serializer": handler.response_serializer,
        }
        callers = self._callers
        if handler.unary_unary is not None:
            unary = handler.unary_unary
            calls, rate = self.calls, self.rate

            async def capped_unary(request: Any, context: Any) -> Any:
                key = await _acquire(calls, context, callers)
                try:
                    wait = rate.delay(key) if rate is not None else 0.0
                    if wait:
                        await asyncio.sleep(wait)
                    return await unary(request, context)
                finally:
                    calls.release(key)

            return grpc.unary_unary_rpc_method_handler(capped_unary, **serializers)
        if handler.unary_stream is None:
            return handler  # no client-streaming methods exist; left as they are
        inner = handler.unary_stream
        streams = self.streams

        async def capped_stream(request: Any, context: Any) -> AsyncIterator[Any]:
            key = await _acquire(streams, context, callers)
            try:
                result: Any = inner(request, context)
                if hasattr(result, "__aiter__"):
                    async for response in result:
                        yield response
                else:  # a coroutine that answers with context.write()
                    await result
            finally:
                streams.release(key)

        return grpc.unary_stream_rpc_method_handler(capped_stream, **serializers)


async def _acquire(limiter: PerKeyLimiter[int | str], context: Any, callers: Callers) -> int | str:
    """Take a place for the call's caller, or abort the call with RESOURCE_EXHAUSTED."""
    caller = caller_of(context, callers)
    key = stream_key(caller)
    refusal = limiter.acquire(key, caller.describe)
    if refusal is not None:
        await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, refusal)
    return key
