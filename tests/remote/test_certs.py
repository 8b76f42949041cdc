"""The TLS listener checks its own certificate files before serving them."""

from __future__ import annotations

from pathlib import Path

import pytest
from openvzd.remote.certs import CertificateProblem, check_server_certificates
from openvzd.remote.settings import TlsSettings
from openvzd.remote.tls import start_tls_server

from tests.remote import pki
from tests.remote.conftest import Pki
from tests.remote.standin import StandInServices


def write(
    tmp_path: Path, ca: pki.Issued, server: pki.Issued, key_of: pki.Issued | None = None
) -> tuple[Path, Path, Path]:
    ca_file, cert_file, key_file = tmp_path / "ca.pem", tmp_path / "cert.pem", tmp_path / "key.pem"
    ca_file.write_bytes(ca.cert_pem)
    cert_file.write_bytes(server.cert_pem)
    key_file.write_bytes((key_of or server).key_pem)
    return ca_file, cert_file, key_file


def test_good_files_pass(tmp_path: Path, pki_set: Pki) -> None:
    checked = check_server_certificates(*write(tmp_path, pki_set.ca, pki_set.server))
    assert checked.subject == "CN=openvzd server,O=openvzd test"


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("expired", "expired on"),
        ("not_yet_valid", "not valid yet"),
        ("wrong_key", "does not belong to the certificate"),
        ("other_ca", "was not issued by the CA"),
    ],
)
def test_unusable_server_certificates_are_named(
    tmp_path: Path, pki_set: Pki, kind: str, message: str
) -> None:
    ca, server, key_of = pki_set.ca, pki_set.server, None
    if kind == "expired":
        server = pki.issue(
            ca, "s", server=True, not_before=pki.NOW - 9 * pki.DAY, not_after=pki.NOW - pki.DAY
        )
    elif kind == "not_yet_valid":
        server = pki.issue(
            ca, "s", server=True, not_before=pki.NOW + pki.DAY, not_after=pki.NOW + 9 * pki.DAY
        )
    elif kind == "wrong_key":
        key_of = pki.issue(ca, "other", server=True)
    else:
        server = pki.issue(pki_set.other_ca, "s", server=True)
    with pytest.raises(CertificateProblem, match=message):
        check_server_certificates(*write(tmp_path, ca, server, key_of))


def test_missing_and_garbage_files_are_named(tmp_path: Path, pki_set: Pki) -> None:
    ca_file, cert_file, key_file = write(tmp_path, pki_set.ca, pki_set.server)
    with pytest.raises(CertificateProblem, match="cannot read the server key"):
        check_server_certificates(ca_file, cert_file, tmp_path / "missing.pem")
    cert_file.write_text("not a certificate")
    with pytest.raises(CertificateProblem, match="is not a PEM certificate"):
        check_server_certificates(ca_file, cert_file, key_file)


async def test_the_listener_refuses_to_start_with_an_expired_certificate(
    tmp_path: Path, pki_set: Pki
) -> None:
    expired = pki.issue(
        pki_set.ca, "s", server=True, not_before=pki.NOW - 9 * pki.DAY, not_after=pki.NOW - pki.DAY
    )
    ca_file, cert_file, key_file = write(tmp_path, pki_set.ca, expired)
    settings = TlsSettings(
        enabled=True,
        address="127.0.0.1",
        port=0,
        ca_file=ca_file,
        cert_file=cert_file,
        key_file=key_file,
        allowed_dn=["*"],
    )
    with pytest.raises(CertificateProblem, match="expired"):
        await start_tls_server(settings, StandInServices().add_to)
