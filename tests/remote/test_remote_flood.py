"""Issue 13 item 4, replayed against the real daemon: idle TCP connections from
one host no longer lock out the SASL and TLS logins of another, the client says
the server is busy, and the daemon records the remote callers (SASL user, TLS
DN) by which it counts streams. The flooding host is 127.0.0.2 (all of 127/8 is
loopback), the victims connect from 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from openvz.transport import SaslTunnel, ServerBusy, open_tls_aio_channel
from openvz.transport import sasl_wire as wire
from openvz.v1 import events_pb2, events_pb2_grpc

from tests.daemon.flood import flooding
from tests.daemon_process import DaemonProcess
from tests.remote.realm import Realm
from tests.remote.served import RemoteSetup, ovzsh, running_remote_daemon, write_remote_config
from tests.remote.standin import channel_through, get_version
from tests.remote.test_daemon_limits import closed_by_peer, tls_handshake_succeeds

FLOODER = "127.0.0.2"
PER_SOURCE_LOGINS = 4  # [sasl] max_unauthenticated_per_source, the documented default
TLS_PER_SOURCE = 32  # [tls] max_clients_per_source, the documented default
STREAMS = 2


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, realm: Realm
) -> Iterator[tuple[RemoteSetup, DaemonProcess]]:
    setup = write_remote_config(
        tmp_path_factory.mktemp("flood"),
        realm,
        sasl={"mechanisms": ["SCRAM-SHA-256"]},
        other_sections={"limits": {"max_streams_per_caller": STREAMS}},
    )
    with running_remote_daemon(setup) as daemon:
        yield setup, daemon


@contextlib.contextmanager
def idle_connections(port: int, count: int) -> Iterator[list[socket.socket]]:
    held = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind((FLOODER, 0))
            sock.connect(("127.0.0.1", port))
            held.append(sock)
        yield held
    finally:
        for sock in held:
            sock.close()


def _refusal(sock: socket.socket) -> bytes | None:
    """The SASL listener's first frame to a connection: a FAILURE's text, or None for a greeting."""
    sock.settimeout(10)
    data = b""
    while len(data) < 4 or len(data) < 4 + int.from_bytes(data[:4], "big"):
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    kind, body = wire.split_kind(data[4:])
    return body if kind == wire.FAILURE else None


def test_20_idle_connections_of_one_host_leave_sasl_logins_to_others(
    served: tuple[RemoteSetup, DaemonProcess],
) -> None:
    setup, daemon = served
    with idle_connections(setup.sasl_port, 20) as flood:
        refusals = [_refusal(sock) for sock in flood]
        assert refusals.count(None) == PER_SOURCE_LOGINS
        assert all(
            r
            == f"too many clients logging in from {FLOODER} ({PER_SOURCE_LOGINS} at once); "
            "close some, or try again later".encode()
            for r in refusals[PER_SOURCE_LOGINS:]
        )
        listed = ovzsh(setup.scram_uri(), "list")
        assert listed.returncode == 0, listed.stderr
    assert daemon.process.poll() is None


async def test_the_client_says_the_server_is_busy(
    served: tuple[RemoteSetup, DaemonProcess],
) -> None:
    setup, _ = served
    silent = [
        await asyncio.open_connection("127.0.0.1", setup.sasl_port)
        for _ in range(PER_SOURCE_LOGINS)
    ]
    try:
        for reader, _ in silent:  # each got its greeting: all four places are taken
            assert await asyncio.wait_for(wire.read_frame(reader, wire.MAX_HANDSHAKE_FRAME), 10)
        params = {"auth": "sasl.scram-sha-256", "password_file": str(setup.password_file)}
        with pytest.raises(
            ServerBusy, match=re.escape("127.0.0.1 is busy: too many clients logging in")
        ):
            async with channel_through(
                SaslTunnel("127.0.0.1", setup.sasl_port, "admin", params)
            ) as channel:
                await get_version(channel)
        listed = await asyncio.to_thread(ovzsh, setup.scram_uri(), "list")
        assert listed.returncode != 0 and "busy" in listed.stderr
        assert "does not speak" not in listed.stderr
    finally:
        for _, writer in silent:
            writer.close()


def test_200_idle_connections_of_one_host_leave_tls_to_others(
    served: tuple[RemoteSetup, DaemonProcess],
) -> None:
    setup, daemon = served
    with idle_connections(setup.tls_port, 200) as flood:
        # Past its per-source cap each is closed at once; the rest at handshake_timeout.
        over = flood[TLS_PER_SOURCE:]
        assert all(closed_by_peer(sock, within=10) for sock in over)
        assert tls_handshake_succeeds(setup)
        assert ovzsh(setup.tls_uri(), "hostname").returncode == 0
    assert daemon.process.poll() is None


@pytest.mark.parametrize("transport", ["SASL", "TLS"])
async def test_remote_callers_are_known_by_name(
    transport: str, served: tuple[RemoteSetup, DaemonProcess], tmp_path: Path
) -> None:
    """identity.caller_of names a SASL caller by its user and a TLS one by its DN:
    the stream cap counts by that name, and its refusal says whose it is."""
    setup, _ = served
    if transport == "SASL":
        params = {"auth": "sasl.scram-sha-256", "password_file": str(setup.password_file)}
        opened = channel_through(SaslTunnel("127.0.0.1", setup.sasl_port, "admin", params))
        who = "admin (sasl)"
    else:
        opened = open_tls_aio_channel(
            "127.0.0.1", setup.tls_port, {"pkipath": str(setup.admin_pki)}
        )
        who = "CN=admin,O=openvzd test (tls)"
    async with opened as channel:
        watch = events_pb2_grpc.EventsStub(channel).Watch
        held = [watch(events_pb2.WatchRequest(), timeout=30) for _ in range(STREAMS)]
        await asyncio.sleep(0.5)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            async for _ in watch(events_pb2.WatchRequest(), timeout=30):
                pass
        assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert f"too many streams from {who}" in (caught.value.details() or "")
        for call in held:
            call.cancel()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to flood as nobody")
def test_a_local_flood_does_not_lock_out_read_only_sasl_sessions(realm: Realm) -> None:
    """256 idle connections by one local uid on the read-only socket once locked
    out the remote read-only sessions relayed through it. SASL sessions now go
    to the daemon's private sockets as their own callers."""
    base = Path(tempfile.mkdtemp(prefix="openvzd-sasl-flood-"))
    base.chmod(0o755)  # nobody must reach the read-only socket
    try:
        setup = write_remote_config(base, realm, sasl={"mechanisms": ["SCRAM-SHA-256"]})
        with (
            running_remote_daemon(setup) as daemon,
            flooding(daemon, idle=256, watches=0, check_loops=0) as admitted,
        ):
            assert admitted["idle_admitted"] == 32
            listed = ovzsh(setup.scram_uri(read_only=True), "list")
            assert listed.returncode == 0, listed.stderr
    finally:
        shutil.rmtree(base, ignore_errors=True)
