"""The SASL listener with SCRAM-SHA-256, and the openvz+tcp client end.

Behind the listener is the daemon stand-in's pair of unix sockets (the lead wires
the real daemon's sockets in): a login lands on the rw or ro socket.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from openvz.transport import AuthenticationFailed, SaslTunnel, TransportError
from openvz.transport import sasl_wire as wire
from openvzd.access import Level
from openvzd.remote.passwords import make_entry, write_db
from openvzd.remote.sasl_server import SaslConfigError, SaslListener, start_sasl_server
from openvzd.remote.settings import SaslSettings

from tests.remote.standin import (
    STANDIN_VERSION,
    StandInDaemon,
    channel_through,
    get_version,
    start_domain,
)


def scram_settings(tmp_path: Path) -> SaslSettings:
    db = tmp_path / "passwd.db"
    write_db(
        db,
        {
            "alice": make_entry("alice", "alice-pw", Level.READ_WRITE),
            "guest": make_entry("guest", "guest-pw", Level.READ_ONLY),
            "carol": make_entry("carol", "carol-pw", Level.READ_WRITE),
            "viewer": make_entry("viewer", "viewer-pw", Level.READ_WRITE),
        },
    )
    return SaslSettings(
        enabled=True,
        address="127.0.0.1",
        port=0,
        mechanisms=[wire.SCRAM_SHA_256],
        password_db=db,
        allow_cleartext=True,
        allowed_users=["alice", "guest", "viewer"],
        readonly_users=["view*"],
        auth_timeout=2.0,
    )


@pytest.fixture
async def listener(tmp_path: Path, standin: StandInDaemon) -> AsyncIterator[SaslListener]:
    sasl = await start_sasl_server(scram_settings(tmp_path), standin.rw_socket, standin.ro_socket)
    try:
        yield sasl
    finally:
        await sasl.stop()


def tunnel(port: int, user: str, password: str) -> SaslTunnel:
    return SaslTunnel(
        "127.0.0.1", port, user, {"auth": "sasl.scram-sha-256"}, password=lambda: password
    )


async def test_a_read_write_user_reads_and_writes(listener: SaslListener) -> None:
    async with channel_through(tunnel(listener.port, "alice", "alice-pw")) as ch:
        assert await get_version(ch) == STANDIN_VERSION
        assert await start_domain(ch, 7) == "job-1"


@pytest.mark.parametrize("user", ["guest", "viewer"])  # stored --readonly; readonly_users
async def test_read_only_users_cannot_change_anything(listener: SaslListener, user: str) -> None:
    async with channel_through(tunnel(listener.port, user, f"{user}-pw")) as ch:
        assert await get_version(ch) == STANDIN_VERSION
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await start_domain(ch, 7)
        assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED


@pytest.mark.parametrize(
    ("user", "password", "message"),
    [
        ("alice", "wrong", "wrong user name or password"),
        ("nobody", "whatever", "wrong user name or password"),
        ("carol", "carol-pw", "not allowed"),
    ],
)
async def test_refused_logins_raise_authentication_failed(
    listener: SaslListener, user: str, password: str, message: str
) -> None:
    with pytest.raises(AuthenticationFailed, match=message):
        await tunnel(listener.port, user, password).start_async()


async def test_password_file_parameter(listener: SaslListener, tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("alice-pw\n")
    relay = SaslTunnel("127.0.0.1", listener.port, "alice", {"password_file": str(tmp_path / "pw")})
    async with channel_through(relay) as ch:
        assert await start_domain(ch, 8)


async def test_nothing_but_the_handshake_before_login(listener: SaslListener) -> None:
    """A gRPC client that skips the login gets the greeting, then a failure; no daemon byte."""
    reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
    try:
        greeting = await wire.read_frame(reader, wire.MAX_HANDSHAKE_FRAME)
        assert greeting is not None and wire.parse_greeting(greeting) == [wire.SCRAM_SHA_256]
        writer.write(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        rest = await asyncio.wait_for(reader.read(), 5)
        assert rest == b""  # the listener hung up: the preface is not a valid frame
    finally:
        writer.close()
    # and a plain gRPC channel pointed at the port gets nowhere either
    async with grpc.aio.insecure_channel(f"127.0.0.1:{listener.port}") as channel:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await get_version(channel, timeout=3)
        assert caught.value.code() in (
            grpc.StatusCode.UNAVAILABLE,
            grpc.StatusCode.DEADLINE_EXCEEDED,
        )


async def test_a_silent_client_is_cut_off_after_auth_timeout(listener: SaslListener) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
    try:
        await wire.read_frame(reader, wire.MAX_HANDSHAKE_FRAME)
        failure = await asyncio.wait_for(wire.read_frame(reader, wire.MAX_HANDSHAKE_FRAME), 5)
        assert failure is not None and b"too long" in failure
    finally:
        writer.close()


async def test_unauthenticated_connections_are_bounded(
    tmp_path: Path, standin: StandInDaemon
) -> None:
    settings = dataclasses.replace(scram_settings(tmp_path), max_unauthenticated=2)
    sasl = await start_sasl_server(settings, standin.rw_socket, standin.ro_socket)
    held = [await asyncio.open_connection("127.0.0.1", sasl.port) for _ in range(2)]
    try:
        for reader, _ in held:
            await wire.read_frame(reader, wire.MAX_HANDSHAKE_FRAME)
        reader, writer = await asyncio.open_connection("127.0.0.1", sasl.port)
        refusal = await asyncio.wait_for(wire.read_frame(reader, wire.MAX_HANDSHAKE_FRAME), 5)
        assert refusal is not None and b"too many" in refusal
        writer.close()
    finally:
        for _, w in held:
            w.close()
        await sasl.stop()


async def test_scram_needs_allow_cleartext(tmp_path: Path, standin: StandInDaemon) -> None:
    settings = dataclasses.replace(scram_settings(tmp_path), allow_cleartext=False)
    with pytest.raises(SaslConfigError, match="allow_cleartext"):
        await start_sasl_server(settings, standin.rw_socket, standin.ro_socket)


async def test_no_mechanism_no_listener(tmp_path: Path, standin: StandInDaemon) -> None:
    settings = dataclasses.replace(scram_settings(tmp_path), mechanisms=[])
    with pytest.raises(SaslConfigError, match="mechanisms is empty"):
        await start_sasl_server(settings, standin.rw_socket, standin.ro_socket)


async def test_a_mechanism_the_server_does_not_offer(listener: SaslListener) -> None:
    relay = SaslTunnel("127.0.0.1", listener.port, "alice", {"auth": "sasl.gssapi"})
    with pytest.raises(AuthenticationFailed, match="does not offer GSSAPI"):
        await relay.start_async()


def test_nothing_listening_is_a_transport_error() -> None:
    from tests.remote.processes import free_port

    with pytest.raises(TransportError, match="cannot reach"):
        tunnel(free_port(), "alice", "pw").start()
