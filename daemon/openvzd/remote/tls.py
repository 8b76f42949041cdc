"""The TLS listener: grpc over mutual x509, access decided per call from the
client's subject DN.

grpc verifies the client certificate against the CA during the handshake (no
certificate, a foreign CA, an expired or not yet valid certificate: no
connection). What grpc cannot do is the allow-list, so every call passes
through TlsAccessInterceptor, which reads the subject from the call's
auth_context. Certificates are swapped on reload() for new connections while
established ones keep theirs (grpc.dynamic_ssl_server_credentials).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeAlias

import grpc

from openvzd.access import Level, is_read
from openvzd.api.errors import ErrorStatus, RequestDecoder
from openvzd.listeners import keepalive_options
from openvzd.remote.certs import ServerCertificates, check_server_certificates
from openvzd.remote.identity import level_for
from openvzd.remote.settings import TlsSettings

log = logging.getLogger(__name__)

# A string: grpc's class is generic only in its stubs, not at run time.
Handler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"
Continuation: TypeAlias = Callable[[grpc.HandlerCallDetails], Awaitable["Handler | None"]]


class TlsAccessInterceptor(grpc.aio.ServerInterceptor):
    """Admits a call only for an allow-listed client DN, and only reads for a
    read-only one. The lists can be replaced while serving (reload)."""

    def __init__(self, allowed_dn: Sequence[str], readonly_dn: Sequence[str]) -> None:
        self.set_lists(allowed_dn, readonly_dn)

    def set_lists(self, allowed_dn: Sequence[str], readonly_dn: Sequence[str]) -> None:
        # One tuple, swapped whole, so a call never sees one new and one old list.
        self._lists = (tuple(allowed_dn), tuple(readonly_dn))

    def level_of(self, subject: str) -> Level | None:
        allowed, readonly = self._lists
        return level_for(subject, allowed, readonly)

    async def intercept_service(
        self, continuation: Continuation, handler_call_details: grpc.HandlerCallDetails
    ) -> Handler | None:
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        return _guarded(handler, handler_call_details.method, self)


async def _admit(guard: TlsAccessInterceptor, method: str, context: Any) -> None:
    subjects = context.auth_context().get("x509_subject") or []
    if not subjects:
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, "no client certificate was presented")
    subject = subjects[0].decode(errors="replace")
    level = guard.level_of(subject)
    if level is None:
        log.warning("TLS client %r refused: not in [tls] allowed_dn or readonly_dn", subject)
        await context.abort(
            grpc.StatusCode.PERMISSION_DENIED,
            f"the client certificate {subject!r} is not allowed on this daemon "
            "(see [tls] allowed_dn on the server)",
        )
    if level is Level.READ_ONLY and not is_read(method):
        await context.abort(
            grpc.StatusCode.PERMISSION_DENIED,
            f"{method} changes the host and the certificate {subject!r} is read-only "
            "([tls] readonly_dn)",
        )


def _guarded(handler: Any, method: str, guard: TlsAccessInterceptor) -> Handler:
    serializers = {
        "request_deserializer": handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    if handler.unary_unary is not None:
        inner = handler.unary_unary

        async def unary_unary(request: Any, context: Any) -> Any:
            await _admit(guard, method, context)
            return await inner(request, context)

        return grpc.unary_unary_rpc_method_handler(unary_unary, **serializers)
    if handler.stream_unary is not None:
        inner = handler.stream_unary

        async def stream_unary(requests: Any, context: Any) -> Any:
            await _admit(guard, method, context)
            return await inner(requests, context)

        return grpc.stream_unary_rpc_method_handler(stream_unary, **serializers)
    streaming_inner = handler.unary_stream or handler.stream_stream

    async def streaming(request: Any, context: Any) -> AsyncIterator[Any]:
        await _admit(guard, method, context)
        result = streaming_inner(request, context)
        if hasattr(result, "__aiter__"):
            async for response in result:
                yield response
        else:  # a coroutine that answers with context.write()
            await result

    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(streaming, **serializers)
    return grpc.stream_stream_rpc_method_handler(streaming, **serializers)


def tls_server_options(settings: TlsSettings, max_message_bytes: int) -> list[tuple[str, Any]]:
    return [
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.max_send_message_length", max_message_bytes),
        ("grpc.so_reuseport", 0),
        ("grpc.server_handshake_timeout_ms", int(settings.handshake_timeout * 1000)),
        ("grpc.max_allowed_incoming_connections", settings.max_clients),
        ("grpc.max_concurrent_streams", settings.max_calls_per_client),
        *keepalive_options(settings.keepalive_interval, settings.keepalive_timeout),
        # Clients ping at most every 30 s (openvz.transport); more often is abuse.
        ("grpc.http2.min_ping_interval_without_data_ms", 20_000),
        ("grpc.http2.max_ping_strikes", 3),
    ]


class TlsListener:
    """A running TLS listener; reload() swaps certificates and allow-lists."""

    def __init__(
        self,
        server: grpc.aio.Server,
        port: int,
        settings: TlsSettings,
        guard: TlsAccessInterceptor,
        current: ServerCertificates,
        pending: _PendingCertificates,
    ) -> None:
        self._server = server
        self.port = port
        self.settings = settings
        self._guard = guard
        self.certificates = current
        self._pending = pending

    def reload(self, settings: TlsSettings | None = None) -> ServerCertificates:
        """Check the (new) files and lists and serve them to new connections.

        Raises CertificateProblem and keeps serving the old ones when the new
        files are unusable. Established connections are left alone.
        """
        settings = settings or self.settings
        if (settings.address, settings.port) != (self.settings.address, self.settings.port):
            log.warning("[tls] address and port changes take effect at the next daemon start")
        certificates = check_server_certificates(
            settings.ca_file, settings.cert_file, settings.key_file
        )
        self._pending.offer(certificates)
        self._guard.set_lists(settings.allowed_dn, settings.readonly_dn)
        self.settings = dataclasses.replace(
            settings, address=self.settings.address, port=self.settings.port
        )
        self.certificates = certificates
        log.info(
            "TLS listener reloaded: serving %s, valid until %s",
            certificates.subject,
            certificates.not_after,
        )
        return certificates

    async def stop(self, grace: float | None) -> None:
        await self._server.stop(grace)


class _PendingCertificates:
    """Hands a new certificate configuration to grpc's fetcher exactly once.

    grpc calls the fetcher from its own thread at every new handshake, so it must
    be quick and must not touch the event loop; None means "keep the current one".
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next: grpc.ServerCertificateConfiguration | None = None

    def offer(self, certificates: ServerCertificates) -> None:
        with self._lock:
            self._next = _configuration(certificates)

    def fetch(self) -> grpc.ServerCertificateConfiguration | None:
        with self._lock:
            configuration, self._next = self._next, None
        return configuration


def _configuration(certificates: ServerCertificates) -> grpc.ServerCertificateConfiguration:
    return grpc.ssl_server_certificate_configuration(
        [(certificates.key_pem, certificates.cert_pem)], root_certificates=certificates.ca_pem
    )


async def start_tls_server(
    settings: TlsSettings,
    add_servicers: Callable[[grpc.aio.Server], None],
    *,
    max_message_bytes: int = 4 * 1024 * 1024,
    max_concurrent_rpcs: int | None = None,
) -> TlsListener:
    """Check the certificates, then serve add_servicers' services over mutual TLS.

    Raises CertificateProblem (the daemon should refuse to start) and OSError when
    the address cannot be bound. An empty allow-list is served
    but admits nobody, and a warning says so.
    """
    if not 0 <= settings.port <= 65535:
        raise OSError(f"[tls] port = {settings.port}: use a TCP port, 1 to 65535")
    certificates = check_server_certificates(
        settings.ca_file, settings.cert_file, settings.key_file
    )
    if not settings.allowed_dn and not settings.readonly_dn:
        log.warning("[tls] allowed_dn and readonly_dn are empty: every TLS client is refused")
    guard = TlsAccessInterceptor(settings.allowed_dn, settings.readonly_dn)
    server = grpc.aio.server(
        interceptors=[guard, RequestDecoder(), ErrorStatus()],
        options=tls_server_options(settings, max_message_bytes),
        maximum_concurrent_rpcs=max_concurrent_rpcs,
    )
    add_servicers(server)
    pending = _PendingCertificates()
    credentials = grpc.dynamic_ssl_server_credentials(
        _configuration(certificates),
        pending.fetch,  # type: ignore[arg-type]  # grpc documents None as "keep the current"
        require_client_authentication=True,
    )
    address = _address(settings.address, settings.port)
    try:
        port = server.add_secure_port(address, credentials)
    except RuntimeError:  # grpc says only "Failed to bind"
        raise OSError(
            f"[tls] cannot listen on {address}: the port is in use, or the address is not "
            "one of this host's; change [tls] address or port"
        ) from None
    await server.start()
    log.info("TLS listener on %s port %d, serving %s", settings.address, port, certificates.subject)
    return TlsListener(server, port, settings, guard, certificates, pending)


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
