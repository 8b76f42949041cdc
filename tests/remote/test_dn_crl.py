"""Issue 13 item 6: TLS DN patterns match RDN by RDN, and a CRL refuses revoked
client certificates (read at start, re-read on reload). Over real TLS on loopback
to the listener, with the daemon stand-in's services behind it."""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID
from openvz.transport import open_tls_aio_channel
from openvzd.access import Level
from openvzd.remote.certs import CertificateProblem
from openvzd.remote.dn import DnPattern, dn_level
from openvzd.remote.tls import TlsListener, start_tls_server

from tests.remote import pki
from tests.remote.conftest import Pki
from tests.remote.standin import StandInServices, get_version, start_domain
from tests.remote.test_tls import client_dir, server_files, status_of

EVIL = "Evil,O=Example"  # as an O value: the subject reads CN=ops-1,O=Evil\,O=Example


def _name(*rdns: tuple[x509.ObjectIdentifier, str]) -> x509.Name:
    """A name given in RFC 4514 order (most specific first)."""
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in reversed(rdns)])


def test_a_star_never_crosses_an_escaped_comma() -> None:
    evil = _name((NameOID.COMMON_NAME, "ops-1"), (NameOID.ORGANIZATION_NAME, EVIL))
    assert evil.rfc4514_string() == "CN=ops-1,O=Evil\\,O=Example"
    pattern = DnPattern.parse("CN=ops-*,O=Example")
    assert not pattern.matches(evil)
    assert dn_level(evil, [pattern], []) is None
    honest = _name((NameOID.COMMON_NAME, "ops-1"), (NameOID.ORGANIZATION_NAME, "Example"))
    assert pattern.matches(honest)


def test_patterns_match_whole_rdns_in_order() -> None:
    alice = _name(
        (NameOID.COMMON_NAME, "alice"),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, "ops"),
        (NameOID.ORGANIZATION_NAME, "Example"),
    )
    assert DnPattern.parse("CN=alice,*").matches(alice)
    assert DnPattern.parse("*").matches(alice)
    assert DnPattern.parse("CN=alice,OU=ops,O=Example").matches(alice)
    assert DnPattern.parse("CN=a*,OU=*,O=Example").matches(alice)
    assert not DnPattern.parse("CN=alice,O=Example").matches(alice)  # an RDN is missing
    assert not DnPattern.parse("CN=alice").matches(alice)  # no "any further RDNs"
    assert not DnPattern.parse("O=Example,*").matches(alice)  # order counts
    assert not DnPattern.parse("CN=*,OU=ops,O=Example,*").matches(
        _name((NameOID.COMMON_NAME, "alice,OU=ops"), (NameOID.ORGANIZATION_NAME, "Example"))
    )
    # Read-only wins, as before.
    assert dn_level(alice, [DnPattern.parse("*")], [DnPattern.parse("CN=alice,*")]) == (
        Level.READ_ONLY
    )


def test_a_pattern_that_is_not_a_dn_is_refused() -> None:
    with pytest.raises(ValueError, match="not an RFC 4514 DN"):
        DnPattern.parse("CN=alice,garbage")


def _crl(ca: pki.Issued, *revoked: pki.Issued) -> bytes:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.cert.subject)
        .last_update(now - datetime.timedelta(hours=1))
        .next_update(now + datetime.timedelta(days=1))
    )
    for issued in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(issued.cert.serial_number)
            .revocation_date(now - datetime.timedelta(minutes=5))
            .build()
        )
    from cryptography.hazmat.primitives.serialization import Encoding

    return builder.sign(ca.key, hashes.SHA256()).public_bytes(Encoding.PEM)


@pytest.fixture
async def evil_listener(tmp_path: Path, pki_set: Pki) -> AsyncIterator[TlsListener]:
    settings = dataclasses.replace(
        server_files(tmp_path, pki_set.ca, pki_set.server),
        allowed_dn=["CN=ops-*,O=Example"],
        readonly_dn=[],
    )
    tls = await start_tls_server(settings, StandInServices().add_to)
    try:
        yield tls
    finally:
        await tls.stop(None)


async def test_the_escaped_comma_subject_is_refused_over_tls(
    evil_listener: TlsListener, pki_set: Pki, tmp_path: Path
) -> None:
    evil = pki.issue(pki_set.ca, "ops-1", server=False, organization=EVIL)
    honest = pki.issue(pki_set.ca, "ops-2", server=False, organization="Example")
    port = evil_listener.port
    async with open_tls_aio_channel(
        "127.0.0.1", port, client_dir(tmp_path, pki_set.ca, evil, "e")
    ) as channel:
        assert (
            await status_of(lambda: start_domain(channel, 1)) == grpc.StatusCode.PERMISSION_DENIED
        )
    async with open_tls_aio_channel(
        "127.0.0.1", port, client_dir(tmp_path, pki_set.ca, honest, "h")
    ) as channel:
        assert await start_domain(channel, 2)


async def test_a_revoked_certificate_is_refused_and_the_crl_follows_reload(
    tmp_path: Path, pki_set: Pki
) -> None:
    alice = pki.issue(pki_set.ca, "alice", server=False)
    bob = pki.issue(pki_set.ca, "bob", server=False)
    crl_file = tmp_path / "crl.pem"
    crl_file.write_bytes(_crl(pki_set.ca, bob))
    settings = dataclasses.replace(
        server_files(tmp_path, pki_set.ca, pki_set.server),
        allowed_dn=["*"],
        crl_file=str(crl_file),
    )
    listener = await start_tls_server(settings, StandInServices().add_to)
    try:
        port = listener.port
        async with (
            open_tls_aio_channel(
                "127.0.0.1", port, client_dir(tmp_path, pki_set.ca, alice, "a")
            ) as a,
            open_tls_aio_channel(
                "127.0.0.1", port, client_dir(tmp_path, pki_set.ca, bob, "b")
            ) as b,
        ):
            assert await get_version(a)
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await get_version(b)
            assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
            assert "revoked" in (caught.value.details() or "")
            # A new CRL revokes alice too, on her established connection as well.
            crl_file.write_bytes(_crl(pki_set.ca, bob, alice))
            listener.reload()
            assert await status_of(lambda: get_version(a)) == grpc.StatusCode.UNAUTHENTICATED
            # A CRL the CA did not sign is refused, and the current one kept.
            crl_file.write_bytes(_crl(pki_set.other_ca))
            with pytest.raises(CertificateProblem, match="not issued by the CA"):
                listener.reload()
            assert await status_of(lambda: get_version(a)) == grpc.StatusCode.UNAUTHENTICATED
    finally:
        await listener.stop(None)
