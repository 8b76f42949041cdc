"""The TLS listener and its client end, over real TCP on loopback.

The services behind the listener are the daemon stand-in's (tests/remote/standin.py):
the lead wires the real daemon's servicers in through the same add_servicers hook.
"""

from __future__ import annotations

import dataclasses
import logging
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from openvz.transport import TransportError, open_tls_aio_channel
from openvz.transport.options import remote_channel_options
from openvzd.remote.certs import CertificateProblem
from openvzd.remote.settings import TlsSettings
from openvzd.remote.tls import TlsListener, start_tls_server

from tests.remote import pki
from tests.remote.conftest import Pki
from tests.remote.standin import STANDIN_VERSION, StandInServices, get_version, start_domain

ALICE_DN = "CN=alice,O=openvzd test"


def server_files(directory: Path, ca: pki.Issued, server: pki.Issued) -> TlsSettings:
    (directory / "ca.pem").write_bytes(ca.cert_pem)
    server.write(directory / "servercert.pem", directory / "serverkey.pem")
    return TlsSettings(
        enabled=True,
        address="127.0.0.1",
        port=0,
        ca_file=directory / "ca.pem",
        cert_file=directory / "servercert.pem",
        key_file=directory / "serverkey.pem",
        allowed_dn=["CN=alice,O=openvzd test", "CN=ops-*,O=openvzd test"],
        readonly_dn=["CN=auditor,*"],
    )


@pytest.fixture
async def listener(tmp_path: Path, pki_set: Pki) -> AsyncIterator[TlsListener]:
    settings = server_files(tmp_path, pki_set.ca, pki_set.server)
    tls = await start_tls_server(settings, StandInServices().add_to)
    try:
        yield tls
    finally:
        await tls.stop(None)


def client_dir(tmp_path: Path, ca: pki.Issued, client: pki.Issued, name: str) -> dict[str, str]:
    return {"pkipath": str(pki.write_client_pki(tmp_path / name, ca, client))}


async def status_of(call: Callable[[], Awaitable[object]]) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call()
    return caught.value.code()


def raw_channel(port: int, root: bytes, client: pki.Issued | None) -> grpc.aio.Channel:
    """A channel with exactly these credentials, past the client library's own checks."""
    credentials = grpc.ssl_channel_credentials(
        root_certificates=root,
        private_key=client.key_pem if client else None,
        certificate_chain=client.cert_pem if client else None,
    )
    return grpc.aio.secure_channel(
        f"127.0.0.1:{port}", credentials, options=remote_channel_options()
    )


async def test_allowed_identity_reads_and_writes(
    listener: TlsListener, pki_set: Pki, tmp_path: Path
) -> None:
    params = client_dir(tmp_path, pki_set.ca, pki.issue(pki_set.ca, "alice", server=False), "a")
    async with open_tls_aio_channel("127.0.0.1", listener.port, params) as channel:
        assert await get_version(channel) == STANDIN_VERSION
        assert await start_domain(channel, 101) == "job-1"


async def test_wildcard_dn_and_host_name_target(
    listener: TlsListener, pki_set: Pki, tmp_path: Path
) -> None:
    params = client_dir(tmp_path, pki_set.ca, pki.issue(pki_set.ca, "ops-7", server=False), "o")
    async with open_tls_aio_channel("localhost", listener.port, params) as channel:
        assert await start_domain(channel, 102)


async def test_read_only_identity_cannot_change_anything(
    listener: TlsListener, pki_set: Pki, tmp_path: Path
) -> None:
    # auditor also matches no allowed_dn pattern; read-only wins even if it did.
    params = client_dir(tmp_path, pki_set.ca, pki.issue(pki_set.ca, "auditor", server=False), "r")
    async with open_tls_aio_channel("127.0.0.1", listener.port, params) as channel:
        assert await get_version(channel) == STANDIN_VERSION
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await start_domain(channel, 101)
        assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "read-only" in (caught.value.details() or "")


async def test_identity_not_in_the_allow_list_is_refused(
    listener: TlsListener, pki_set: Pki, tmp_path: Path
) -> None:
    params = client_dir(tmp_path, pki_set.ca, pki.issue(pki_set.ca, "mallory", server=False), "m")
    async with open_tls_aio_channel("127.0.0.1", listener.port, params) as channel:
        assert await status_of(lambda: get_version(channel)) == grpc.StatusCode.PERMISSION_DENIED
        assert await status_of(lambda: start_domain(channel, 1)) == (
            grpc.StatusCode.PERMISSION_DENIED
        )


async def test_an_empty_allow_list_admits_nobody(tmp_path: Path, pki_set: Pki) -> None:
    settings = dataclasses.replace(
        server_files(tmp_path, pki_set.ca, pki_set.server), allowed_dn=[], readonly_dn=[]
    )
    tls = await start_tls_server(settings, StandInServices().add_to)
    try:
        alice = pki.issue(pki_set.ca, "alice", server=False)
        async with open_tls_aio_channel(
            "127.0.0.1", tls.port, client_dir(tmp_path, pki_set.ca, alice, "a")
        ) as channel:
            assert await status_of(lambda: get_version(channel)) == (
                grpc.StatusCode.PERMISSION_DENIED
            )
    finally:
        await tls.stop(None)


@pytest.mark.parametrize("client_kind", ["none", "other_ca", "expired", "not_yet_valid"])
async def test_bad_client_certificates_get_no_connection(
    listener: TlsListener, pki_set: Pki, client_kind: str
) -> None:
    clients = {
        "none": None,
        "other_ca": pki.issue(pki_set.other_ca, "alice", server=False),
        "expired": pki.issue(
            pki_set.ca,
            "alice",
            server=False,
            not_before=pki.NOW - 10 * pki.DAY,
            not_after=pki.NOW - pki.DAY,
        ),
        "not_yet_valid": pki.issue(
            pki_set.ca,
            "alice",
            server=False,
            not_before=pki.NOW + pki.DAY,
            not_after=pki.NOW + 9 * pki.DAY,
        ),
    }
    async with raw_channel(listener.port, pki_set.ca.cert_pem, clients[client_kind]) as channel:
        assert await status_of(lambda: get_version(channel, timeout=5)) == (
            grpc.StatusCode.UNAVAILABLE
        )


@pytest.mark.parametrize("client_kind", ["expired", "not_yet_valid"])
def test_the_client_names_its_own_unusable_certificate(
    pki_set: Pki, tmp_path: Path, client_kind: str
) -> None:
    window = {
        "expired": (pki.NOW - 10 * pki.DAY, pki.NOW - pki.DAY),
        "not_yet_valid": (pki.NOW + pki.DAY, pki.NOW + 9 * pki.DAY),
    }[client_kind]
    client = pki.issue(pki_set.ca, "alice", server=False, not_before=window[0], not_after=window[1])
    with pytest.raises(TransportError, match=r"expired|not valid yet"):
        open_tls_aio_channel("127.0.0.1", 1, client_dir(tmp_path, pki_set.ca, client, "c"))


def test_missing_client_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(TransportError, match="pkipath"):
        open_tls_aio_channel("127.0.0.1", 1, {"pkipath": str(tmp_path / "nothing")})


@pytest.mark.parametrize("server_kind", ["wrong_host_name", "other_ca"])
async def test_the_client_refuses_a_server_it_cannot_verify(
    tmp_path: Path, pki_set: Pki, server_kind: str
) -> None:
    if server_kind == "wrong_host_name":
        ca = pki_set.ca
        server = pki.issue(ca, "elsewhere", server=True, hosts=("elsewhere.example",))
    else:
        ca = pki_set.other_ca
        server = pki.issue(ca, "impostor", server=True, hosts=("127.0.0.1", "localhost"))
    # The impostor trusts our client certificates; only the server's identity is wrong.
    settings = server_files(tmp_path, ca, server)
    (tmp_path / "ca.pem").write_bytes(ca.cert_pem + pki_set.ca.cert_pem)
    tls = await start_tls_server(settings, StandInServices().add_to)
    try:
        alice = pki.issue(pki_set.ca, "alice", server=False)
        params = client_dir(tmp_path, pki_set.ca, alice, "a")
        async with open_tls_aio_channel("127.0.0.1", tls.port, params) as channel:
            assert await status_of(lambda: get_version(channel, timeout=5)) == (
                grpc.StatusCode.UNAVAILABLE
            )
    finally:
        await tls.stop(None)


async def test_no_verify_accepts_an_unverifiable_server_and_warns(
    tmp_path: Path, pki_set: Pki, caplog: pytest.LogCaptureFixture
) -> None:
    server = pki.issue(pki_set.other_ca, "self-made", server=True, hosts=("elsewhere.example",))
    settings = server_files(tmp_path, pki_set.other_ca, server)
    (tmp_path / "ca.pem").write_bytes(pki_set.other_ca.cert_pem + pki_set.ca.cert_pem)
    tls = await start_tls_server(settings, StandInServices().add_to)
    try:
        alice = pki.issue(pki_set.ca, "alice", server=False)
        params = {**client_dir(tmp_path, pki_set.ca, alice, "a"), "no_verify": "1"}
        with caplog.at_level(logging.WARNING, logger="openvz.transport"):
            channel = open_tls_aio_channel("127.0.0.1", tls.port, params)
        async with channel:
            assert await get_version(channel) == STANDIN_VERSION
        assert "NOT verified" in caplog.text
    finally:
        await tls.stop(None)


async def test_user_pki_directory_is_the_default(
    listener: TlsListener, pki_set: Pki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    pki.write_client_pki(
        home / ".pki" / "openvz", pki_set.ca, pki.issue(pki_set.ca, "alice", server=False)
    )
    monkeypatch.setenv("HOME", str(home))
    async with open_tls_aio_channel("127.0.0.1", listener.port, {}) as channel:
        assert await get_version(channel) == STANDIN_VERSION


def presented_subject(port: int, ca: pki.Issued, client: pki.Issued, tmp_path: Path) -> str:
    client.write(tmp_path / "probe.pem", tmp_path / "probe.key")
    context = ssl.create_default_context(cadata=ca.cert_pem.decode())
    context.load_cert_chain(tmp_path / "probe.pem", tmp_path / "probe.key")
    with (
        socket.create_connection(("127.0.0.1", port), 5) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der).subject.rfc4514_string()


async def test_reload_serves_new_certificates_and_lists_without_dropping_clients(
    listener: TlsListener, pki_set: Pki, tmp_path: Path
) -> None:
    alice = pki.issue(pki_set.ca, "alice", server=False)
    bob = pki.issue(pki_set.ca, "bob", server=False)
    async with open_tls_aio_channel(
        "127.0.0.1", listener.port, client_dir(tmp_path, pki_set.ca, alice, "a")
    ) as established:
        assert await start_domain(established, 1)
        renewed = pki.issue(
            pki_set.ca, "openvzd server renewed", server=True, hosts=("localhost", "127.0.0.1")
        )
        renewed.write(listener.settings.cert_file, listener.settings.key_file)
        listener.reload(
            dataclasses.replace(listener.settings, allowed_dn=["CN=alice,*", "CN=bob,*"])
        )

        assert await start_domain(established, 2)  # the connection survived the reload
        assert presented_subject(listener.port, pki_set.ca, alice, tmp_path) == (
            "CN=openvzd server renewed,O=openvzd test"
        )
        async with open_tls_aio_channel(
            "127.0.0.1", listener.port, client_dir(tmp_path, pki_set.ca, bob, "b")
        ) as fresh:
            assert await start_domain(fresh, 3)
        # A list change applies to the next call of every client, established or not.
        listener.reload(dataclasses.replace(listener.settings, allowed_dn=["CN=bob,*"]))
        assert await status_of(lambda: start_domain(established, 4)) == (
            grpc.StatusCode.PERMISSION_DENIED
        )


async def test_reload_with_broken_files_keeps_serving_the_old_ones(
    listener: TlsListener, pki_set: Pki, tmp_path: Path
) -> None:
    expired = pki.issue(
        pki_set.ca,
        "stale",
        server=True,
        hosts=("localhost",),
        not_before=pki.NOW - 10 * pki.DAY,
        not_after=pki.NOW - pki.DAY,
    )
    expired.write(listener.settings.cert_file, listener.settings.key_file)
    with pytest.raises(CertificateProblem, match="expired"):
        listener.reload()
    alice = pki.issue(pki_set.ca, "alice", server=False)
    async with open_tls_aio_channel(
        "127.0.0.1", listener.port, client_dir(tmp_path, pki_set.ca, alice, "a")
    ) as channel:
        assert await get_version(channel) == STANDIN_VERSION
