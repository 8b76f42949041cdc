"""The SASL listener with GSSAPI against a real MIT KDC on loopback (krb5kdc,
throwaway realm in a temp dir), and the openvz+tcp client end.

The daemon stand-in's unix sockets stand behind the listener (see standin.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from openvz.transport import AuthenticationFailed, SaslTunnel
from openvz.transport import sasl_wire as wire
from openvzd.access import Level
from openvzd.remote.passwords import make_entry, write_db
from openvzd.remote.sasl_server import SaslConfigError, SaslListener, start_sasl_server
from openvzd.remote.settings import SaslSettings

from tests.remote.realm import REALM, SERVICE_HOST, Realm
from tests.remote.standin import (
    STANDIN_VERSION,
    StandInDaemon,
    channel_through,
    get_version,
    start_domain,
)
from tests.remote.wiretap import Wiretap

pytest.importorskip("gssapi")


def gss_settings(realm: Realm) -> SaslSettings:
    return SaslSettings(
        enabled=True,
        address="127.0.0.1",
        port=0,
        mechanisms=[wire.GSSAPI],
        keytab=realm.server_keytab,
        allowed_users=[f"alice@{REALM}", f"bob@{REALM}"],
        readonly_users=[f"bob@{REALM}"],
    )


@pytest.fixture
async def listener(kerberos_env: Realm, standin: StandInDaemon) -> AsyncIterator[SaslListener]:
    sasl = await start_sasl_server(gss_settings(kerberos_env), standin.rw_socket, standin.ro_socket)
    try:
        yield sasl
    finally:
        await sasl.stop()


def login_as(realm: Realm, user: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KRB5CCNAME", realm.ccache_for(user))


def tunnel(port: int, params: dict[str, str] | None = None) -> SaslTunnel:
    return SaslTunnel(SERVICE_HOST, port, None, params or {})


async def test_a_read_write_principal_reads_and_writes(
    listener: SaslListener, kerberos_env: Realm, monkeypatch: pytest.MonkeyPatch
) -> None:
    login_as(kerberos_env, "alice", monkeypatch)
    async with channel_through(tunnel(listener.port)) as ch:
        assert await get_version(ch) == STANDIN_VERSION
        assert await start_domain(ch, 9) == "job-1"


async def test_a_read_only_principal_cannot_change_anything(
    listener: SaslListener, kerberos_env: Realm, monkeypatch: pytest.MonkeyPatch
) -> None:
    login_as(kerberos_env, "bob", monkeypatch)
    async with channel_through(tunnel(listener.port)) as ch:
        assert await get_version(ch) == STANDIN_VERSION
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await start_domain(ch, 9)
        assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_a_principal_not_in_the_allow_list_is_refused(
    listener: SaslListener, kerberos_env: Realm, monkeypatch: pytest.MonkeyPatch
) -> None:
    login_as(kerberos_env, "carol", monkeypatch)
    with pytest.raises(AuthenticationFailed, match=f"carol@{REALM}' is not allowed"):
        await tunnel(listener.port).start_async()


async def test_no_kerberos_credentials_is_refused(
    listener: SaslListener, kerberos_env: Realm, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("KRB5CCNAME", f"FILE:{tmp_path / 'empty.ccache'}")
    with pytest.raises(AuthenticationFailed, match="Kerberos"):
        await tunnel(listener.port).start_async()


async def test_an_unknown_service_principal_is_refused(
    listener: SaslListener, kerberos_env: Realm, monkeypatch: pytest.MonkeyPatch
) -> None:
    login_as(kerberos_env, "alice", monkeypatch)
    with pytest.raises(AuthenticationFailed, match="Kerberos"):
        await tunnel(listener.port, {"service": "nosuchservice"}).start_async()


async def test_every_byte_after_a_gssapi_login_is_encrypted(
    listener: SaslListener,
    kerberos_env: Realm,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    standin: StandInDaemon,
) -> None:
    """An eavesdropper sees the daemon's answers under GSSAPI, never in the clear;
    the same tap does see them in a SCRAM session (so the tap can tell)."""
    login_as(kerberos_env, "alice", monkeypatch)
    tap = Wiretap(listener.port)
    await tap.start()
    try:
        async with channel_through(tunnel(tap.port)) as ch:
            assert await get_version(ch) == STANDIN_VERSION
        assert len(tap.seen) > 200
        assert STANDIN_VERSION.encode() not in tap.seen
        assert b"openvz.v1.Host" not in tap.seen
    finally:
        await tap.stop()

    db = tmp_path / "passwd.db"
    write_db(db, {"alice": make_entry("alice", "pw", Level.READ_WRITE)})
    scram = SaslSettings(
        address="127.0.0.1",
        port=0,
        mechanisms=[wire.SCRAM_SHA_256],
        password_db=db,
        allow_cleartext=True,
        allowed_users=["alice"],
    )
    sasl = await start_sasl_server(scram, standin.rw_socket, standin.ro_socket)
    cleartext_tap = Wiretap(sasl.port)
    await cleartext_tap.start()
    try:
        relay = SaslTunnel("127.0.0.1", cleartext_tap.port, "alice", {}, password=lambda: "pw")
        async with channel_through(relay) as ch:
            assert await get_version(ch) == STANDIN_VERSION
        assert STANDIN_VERSION.encode() in cleartext_tap.seen
    finally:
        await cleartext_tap.stop()
        await sasl.stop()


async def test_both_mechanisms_on_one_listener(
    kerberos_env: Realm, standin: StandInDaemon, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "passwd.db"
    write_db(db, {"dave": make_entry("dave", "pw", Level.READ_WRITE)})
    settings = dataclasses.replace(
        gss_settings(kerberos_env),
        mechanisms=[wire.GSSAPI, wire.SCRAM_SHA_256],
        password_db=db,
        allow_cleartext=True,
        allowed_users=[f"alice@{REALM}", "dave"],
    )
    sasl = await start_sasl_server(settings, standin.rw_socket, standin.ro_socket)
    try:
        login_as(kerberos_env, "alice", monkeypatch)
        async with tunnel(sasl.port):
            pass
        async with SaslTunnel(
            "127.0.0.1", sasl.port, "dave", {"auth": "sasl.scram-sha-256"}, password=lambda: "pw"
        ):
            pass
    finally:
        await sasl.stop()


async def test_a_missing_keytab_stops_the_listener_from_starting(
    kerberos_env: Realm, standin: StandInDaemon, tmp_path: Path
) -> None:
    settings = dataclasses.replace(gss_settings(kerberos_env), keytab=tmp_path / "none.keytab")
    with pytest.raises(SaslConfigError, match="keytab"):
        await start_sasl_server(settings, standin.rw_socket, standin.ro_socket)
