"""libvirt's TLS transport (openvz://HOST/system, libvirt's port 16514).

Mutual x509 with [tls]'s CA, certificate and key (checked as the gRPC TLS
listener checks them, remote/certs.py), then libvirt's own confirmation: once
the server has accepted the client's certificate and its DN is on [tls]'s
allow-lists, it sends one byte, 0x01. The client refuses to go on without it
("server verification failed"), and a DN on no list gets the connection closed
instead. A DN on readonly_dn gets a read-only connection. The lists are read at
each connection, so a SIGHUP that changes them applies to new connections.
"""

from __future__ import annotations

import asyncio
import logging
import ssl

from cryptography import x509

from openvzd.access import Level
from openvzd.core.caller import Caller
from openvzd.libvirt.server import LibvirtFrontEnd
from openvzd.remote.certs import check_server_certificates
from openvzd.remote.identity import level_for
from openvzd.remote.settings import TlsSettings

log = logging.getLogger(__name__)

CONFIRMATION = b"\x01"


def server_context(settings: TlsSettings) -> ssl.SSLContext:
    """Raises CertificateProblem, naming the file, for unusable certificates."""
    certificates = check_server_certificates(
        settings.ca_file, settings.cert_file, settings.key_file
    )
    context = ssl.create_default_context(
        ssl.Purpose.CLIENT_AUTH, cadata=certificates.ca_pem.decode("ascii")
    )
    context.verify_mode = ssl.CERT_REQUIRED
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(settings.cert_file, settings.key_file)
    # libvirt's client reads the confirmation byte with one read once the socket is
    # readable: a TLS 1.3 session ticket arriving first makes that read fail (EAGAIN).
    context.num_tickets = 0
    return context


async def start_libvirt_tls(
    front_end: LibvirtFrontEnd, settings: TlsSettings, address: str, port: int
) -> asyncio.Server:
    if not 1 <= port <= 65535:
        raise OSError(f"[libvirt] tls_port = {port}: use a TCP port, 1 to 65535 (0: off)")
    context = server_context(settings)

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
        subject = x509.load_der_x509_certificate(der).subject.rfc4514_string()
        level = level_for(subject, settings.allowed_dn, settings.readonly_dn)
        if level is None:
            log.warning(
                "libvirt TLS client %r refused: not in [tls] allowed_dn or readonly_dn", subject
            )
            writer.close()
            return
        writer.write(CONFIRMATION)
        read_only = level is Level.READ_ONLY
        caller = Caller("tls", name=subject, read_only=read_only)
        await front_end.serve(reader, writer, read_only=read_only, caller=caller, secure=True)

    try:
        server = await asyncio.start_server(
            serve, address, port, ssl=context, ssl_handshake_timeout=settings.handshake_timeout
        )
    except OSError as err:
        raise OSError(
            f"[libvirt] cannot listen on {address} port {port}: {err.strerror}; "
            "change tls_address or tls_port"
        ) from None
    bound = server.sockets[0].getsockname()[1]
    log.info("libvirt TLS listener on %s port %d", address, bound)
    return server
