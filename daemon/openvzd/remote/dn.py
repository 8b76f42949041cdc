"""Client certificate names and revocation: DN patterns matched RDN by RDN, and CRLs.

A pattern is an RFC 4514 DN whose attribute values may hold shell wildcards
("CN=ops-*,O=Example"). It is parsed into RDNs like the certificate's subject,
and the two are compared RDN by RDN: a `*` matches inside one attribute value
and never crosses into the next RDN, so an escaped comma in a subject
(`CN=ops-1,O=Evil\\,O=Example`, whose O is "Evil,O=Example") cannot pass for a
name it is not. A last element that is `*` alone stands for any further RDNs
("CN=admin,*"), and `*` alone admits every certificate the CA signed.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID

from openvzd.access import Level
from openvzd.remote.certs import CertificateProblem

_ANY_REST = "*"


class BadPattern(ValueError):
    """A DN pattern that is not an RFC 4514 name; the message says which and why."""


@dataclass(frozen=True, slots=True)
class DnPattern:
    text: str
    # In RFC 4514 order (most specific first), each RDN as sorted (oid, value) pairs.
    rdns: tuple[tuple[tuple[str, str], ...], ...]
    open_ended: bool

    @classmethod
    def parse(cls, text: str) -> DnPattern:
        if text.strip() == _ANY_REST:
            return cls(text, (), True)
        fixed, open_ended = text, False
        if text.endswith("," + _ANY_REST) and not text.endswith("\\," + _ANY_REST):
            fixed, open_ended = text[: -len("," + _ANY_REST)], True
        try:
            name = x509.Name.from_rfc4514_string(fixed)
        except ValueError as err:
            raise BadPattern(f"{text!r} is not an RFC 4514 DN ({err})") from None
        if not name.rdns:
            raise BadPattern(f"{text!r} names no attribute")
        return cls(text, rdn_tuples(name), open_ended)

    def matches(self, subject: x509.Name) -> bool:
        rdns = rdn_tuples(subject)
        if len(rdns) < len(self.rdns) or (not self.open_ended and len(rdns) != len(self.rdns)):
            return False
        return all(_rdn_matches(s, p) for s, p in zip(rdns, self.rdns, strict=False))


def rdn_tuples(name: x509.Name) -> tuple[tuple[tuple[str, str], ...], ...]:
    return tuple(
        tuple(sorted((a.oid.dotted_string, str(a.value)) for a in rdn))
        for rdn in reversed(name.rdns)
    )


def _rdn_matches(
    subject: tuple[tuple[str, str], ...], pattern: tuple[tuple[str, str], ...]
) -> bool:
    if len(subject) != len(pattern):
        return False
    return all(
        s_oid == p_oid and fnmatch.fnmatchcase(s_value, p_value)
        for (s_oid, s_value), (p_oid, p_value) in zip(subject, pattern, strict=True)
    )


def parse_patterns(patterns: Iterable[str], key: str) -> tuple[DnPattern, ...]:
    try:
        return tuple(DnPattern.parse(p) for p in patterns)
    except BadPattern as err:
        raise CertificateProblem(f"[tls] {key}: {err}") from None


def dn_level(
    subject: x509.Name, allowed: Sequence[DnPattern], readonly: Sequence[DnPattern]
) -> Level | None:
    """The access level of subject, or None. Read-only wins over read-write."""
    if any(p.matches(subject) for p in readonly):
        return Level.READ_ONLY
    if any(p.matches(subject) for p in allowed):
        return Level.READ_WRITE
    return None


@lru_cache(maxsize=512)
def peer_certificate(pem: bytes) -> x509.Certificate:
    """The client's certificate from grpc's auth context (parsed once per certificate)."""
    return x509.load_pem_x509_certificate(pem)


def describe(subject: x509.Name) -> str:
    return subject.rfc4514_string()


def common_name(subject: x509.Name) -> str:
    names = subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else ""


class Revocations:
    """The serial numbers a CRL revokes, checked against the CA when read."""

    def __init__(self, crl_file: str, ca_pem: bytes) -> None:
        self.crl_file = crl_file
        self._issuer: x509.Name | None = None
        self._revoked: frozenset[int] = frozenset()
        if crl_file:
            self._load(Path(crl_file), ca_pem)

    def _load(self, path: Path, ca_pem: bytes) -> None:
        if not path.is_absolute():
            raise CertificateProblem(f"[tls] crl_file = {str(path)!r}: give an absolute path")
        try:
            data = path.read_bytes()
        except OSError as err:
            raise CertificateProblem(f"[tls] crl_file {path}: {err.strerror}") from None
        try:
            crl = (
                x509.load_pem_x509_crl(data)
                if data.lstrip().startswith(b"-----")
                else x509.load_der_x509_crl(data)
            )
        except ValueError:
            raise CertificateProblem(f"[tls] crl_file {path} is not a PEM or DER CRL") from None
        ca = x509.load_pem_x509_certificate(ca_pem)
        ca_key: Any = ca.public_key()
        if crl.issuer != ca.subject or not crl.is_signature_valid(ca_key):
            raise CertificateProblem(
                f"[tls] crl_file {path} was not issued by the CA in ca_file "
                f"({ca.subject.rfc4514_string()})"
            )
        self._issuer = crl.issuer
        self._revoked = frozenset(entry.serial_number for entry in crl)

    def __len__(self) -> int:
        return len(self._revoked)

    def revoked(self, certificate: x509.Certificate) -> bool:
        return (
            self._issuer is not None
            and certificate.issuer == self._issuer
            and certificate.serial_number in self._revoked
        )
