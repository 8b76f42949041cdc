"""The client end of openvz://host[:port]/system: grpc over mutual TLS.

Certificate files are found like libvirt finds them: ?pkipath=DIR holds
cacert.pem, clientcert.pem and clientkey.pem; otherwise ~/.pki/openvz/ when it
holds a client certificate and key (its cacert.pem, or the system CA); otherwise
the system files /etc/pki/CA/cacert.pem, /etc/pki/openvz/clientcert.pem and
/etc/pki/openvz/private/clientkey.pem.
"""

from __future__ import annotations

import datetime
import logging
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import grpc
from cryptography import x509
from cryptography.x509.oid import ExtensionOID, NameOID

from openvz.transport.errors import TransportError
from openvz.transport.options import flag, remote_channel_options
from openvz.transport.ports import DEFAULT_TLS_PORT

log = logging.getLogger(__name__)

SYSTEM_CA = Path("/etc/pki/CA/cacert.pem")
SYSTEM_CLIENT_CERT = Path("/etc/pki/openvz/clientcert.pem")
SYSTEM_CLIENT_KEY = Path("/etc/pki/openvz/private/clientkey.pem")
USER_PKI_DIR = Path("~/.pki/openvz")


@dataclass(frozen=True, slots=True)
class ClientPki:
    ca_file: Path
    cert_file: Path
    key_file: Path


def locate_client_pki(params: Mapping[str, str]) -> ClientPki:
    if params.get("pkipath"):
        base = Path(params["pkipath"]).expanduser()
        return ClientPki(base / "cacert.pem", base / "clientcert.pem", base / "clientkey.pem")
    user = USER_PKI_DIR.expanduser()
    if (user / "clientcert.pem").exists() and (user / "clientkey.pem").exists():
        ca = user / "cacert.pem"
        return ClientPki(
            ca if ca.exists() else SYSTEM_CA, user / "clientcert.pem", user / "clientkey.pem"
        )
    return ClientPki(SYSTEM_CA, SYSTEM_CLIENT_CERT, SYSTEM_CLIENT_KEY)


def tls_channel_credentials(
    host: str, port: int | None, params: Mapping[str, str]
) -> tuple[grpc.ChannelCredentials, list[tuple[str, str]]]:
    """Credentials for host, and the channel options they need (a name override
    when ?no_verify=1 pins whatever certificate the server shows)."""
    pki = locate_client_pki(params)
    ca_pem = _read(pki.ca_file, "CA certificate")
    cert_pem = _read(pki.cert_file, "client certificate")
    key_pem = _read(pki.key_file, "client key")
    _check_client_certificate(cert_pem, pki.cert_file)
    options: list[tuple[str, str]] = []
    if flag(params, "no_verify"):
        log.warning(
            "no_verify is set: the server's certificate for %s is NOT verified; anyone on the "
            "path can impersonate the server and read the session",
            host,
        )
        ca_pem, name = _pin_presented_certificate(host, port or DEFAULT_TLS_PORT, pki)
        options.append(("grpc.ssl_target_name_override", name))
    credentials = grpc.ssl_channel_credentials(
        root_certificates=ca_pem, private_key=key_pem, certificate_chain=cert_pem
    )
    return credentials, options


def open_tls_channel(host: str, port: int | None, params: Mapping[str, str]) -> grpc.Channel:
    credentials, options = tls_channel_credentials(host, port, params)
    return grpc.secure_channel(
        target_of(host, port), credentials, options=[*options, *remote_channel_options()]
    )


def open_tls_aio_channel(
    host: str, port: int | None, params: Mapping[str, str]
) -> grpc.aio.Channel:
    credentials, options = tls_channel_credentials(host, port, params)
    return grpc.aio.secure_channel(
        target_of(host, port), credentials, options=[*options, *remote_channel_options()]
    )


def target_of(host: str, port: int | None) -> str:
    port = port or DEFAULT_TLS_PORT
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as err:
        raise TransportError(
            f"cannot read the {what} {path}: {err.strerror} (set ?pkipath=DIR to use other files)"
        ) from None


def _check_client_certificate(pem: bytes, path: Path) -> None:
    try:
        cert = x509.load_pem_x509_certificate(pem)
    except ValueError:
        raise TransportError(f"{path} is not a PEM certificate") from None
    now = datetime.datetime.now(datetime.UTC)
    if now < cert.not_valid_before_utc:
        raise TransportError(
            f"the client certificate {path} is not valid yet "
            f"(from {cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC)"
        )
    if now > cert.not_valid_after_utc:
        raise TransportError(
            f"the client certificate {path} expired on "
            f"{cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC"
        )


def _pin_presented_certificate(host: str, port: int, pki: ClientPki) -> tuple[bytes, str]:
    """The certificate the server presents, to be trusted as is, and a name in it."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.load_cert_chain(pki.cert_file, pki.key_file)
    try:
        with (
            socket.create_connection((host, port), timeout=10) as raw,
            context.wrap_socket(raw, server_hostname=host) as tls,
        ):
            der = tls.getpeercert(binary_form=True)
    except (OSError, ssl.SSLError) as err:
        raise TransportError(f"cannot reach {host}:{port} over TLS: {err}") from None
    if der is None:
        raise TransportError(f"{host}:{port} presented no certificate")
    cert = x509.load_der_x509_certificate(der)
    return ssl.DER_cert_to_PEM_cert(der).encode(), _a_name_in(cert, host)


def _a_name_in(cert: x509.Certificate, fallback: str) -> str:
    try:
        san = cert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
    except x509.ExtensionNotFound:
        common_names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        return str(common_names[0].value) if common_names else fallback
    assert isinstance(san, x509.SubjectAlternativeName)
    names = san.get_values_for_type(x509.DNSName)
    if names:
        return names[0]
    addresses = san.get_values_for_type(x509.IPAddress)
    return str(addresses[0]) if addresses else fallback
