"""The TLS listener's own certificates, checked before they are served.

grpc only says "handshake failed" once a bad certificate is in use, so the
daemon checks its files itself at start and on reload and names the problem.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes


class CertificateProblem(Exception):
    """A certificate or key of the TLS listener cannot be served; the message says why."""


@dataclass(frozen=True, slots=True)
class ServerCertificates:
    ca_pem: bytes
    cert_pem: bytes
    key_pem: bytes
    subject: str
    not_after: datetime.datetime


def check_server_certificates(
    ca_file: Path, cert_file: Path, key_file: Path, now: datetime.datetime | None = None
) -> ServerCertificates:
    """Read and check the CA, the server certificate and its key.

    Raises CertificateProblem for a missing or unreadable file, a certificate that
    is expired or not yet valid, a key that does not belong to the certificate, or
    a certificate that the CA did not sign.
    """
    now = now or datetime.datetime.now(datetime.UTC)
    ca_pem = _read(ca_file, "CA certificate")
    cert_pem = _read(cert_file, "server certificate")
    key_pem = _read(key_file, "server key")
    ca = _load_certificate(ca_pem, ca_file)
    cert = _load_certificate(cert_pem, cert_file)
    _check_validity(ca, ca_file, now)
    _check_validity(cert, cert_file, now)
    key = _load_key(key_pem, key_file)
    if _public_bytes(key) != cert.public_key().public_bytes(*_SPKI):
        raise CertificateProblem(
            f"the key {key_file} does not belong to the certificate {cert_file}; "
            "install the key the certificate was issued for"
        )
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        raise CertificateProblem(
            f"{cert_file} ({cert.subject.rfc4514_string()}) was not issued by the CA in "
            f"{ca_file} ({ca.subject.rfc4514_string()}); clients would refuse it"
        ) from None
    return ServerCertificates(
        ca_pem=ca_pem,
        cert_pem=cert_pem,
        key_pem=key_pem,
        subject=cert.subject.rfc4514_string(),
        not_after=cert.not_valid_after_utc,
    )


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as err:
        raise CertificateProblem(f"cannot read the {what} {path}: {err.strerror}") from None


def _load_certificate(pem: bytes, path: Path) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(pem)
    except ValueError:
        raise CertificateProblem(f"{path} is not a PEM certificate") from None


def _load_key(pem: bytes, path: Path) -> PrivateKeyTypes:
    try:
        return serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        raise CertificateProblem(
            f"{path} is not an unencrypted PEM private key (grpc cannot use a passphrase)"
        ) from None


_SPKI = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _public_bytes(key: PrivateKeyTypes) -> bytes:
    return key.public_key().public_bytes(*_SPKI)


def _check_validity(cert: x509.Certificate, path: Path, now: datetime.datetime) -> None:
    if now < cert.not_valid_before_utc:
        raise CertificateProblem(
            f"{path} is not valid yet: valid from {cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC; "
            "check the clock or issue a new certificate"
        )
    if now > cert.not_valid_after_utc:
        raise CertificateProblem(
            f"{path} expired on {cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC; issue a new one"
        )
