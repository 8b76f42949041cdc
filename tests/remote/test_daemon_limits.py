"""The limits of the real openvzd's remote listeners, with small numbers set in
its openvzd.toml: connections that have not authenticated, calls in flight per
client, and keepalive."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import grpc
import pytest
from openvz.transport import SaslTunnel, ServerBusy, open_tls_aio_channel
from openvz.transport import sasl_wire as wire
from openvz.v1 import domains_pb2, domains_pb2_grpc, events_pb2, events_pb2_grpc

from tests.daemon_process import DaemonProcess
from tests.remote.realm import Realm
from tests.remote.served import (
    RemoteSetup,
    assert_calls_bounded,
    ovzsh,
    running_remote_daemon,
    write_remote_config,
)
from tests.remote.standin import channel_through, get_version

MAX_TLS_CLIENTS = 3
CALLS_PER_CLIENT = 2
MAX_UNAUTHENTICATED = 2
MAX_SASL_CLIENTS = 3
# Long enough for the checks made while the silent connections are held, on a busy machine.
HANDSHAKE_TIMEOUT = 3.0
MAX_MESSAGE_BYTES = 64 * 1024


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, realm: Realm
) -> Iterator[tuple[RemoteSetup, DaemonProcess]]:
    setup = write_remote_config(
        tmp_path_factory.mktemp("limits"),
        realm,
        tls={
            "max_clients": MAX_TLS_CLIENTS,
            "max_calls_per_client": CALLS_PER_CLIENT,
            "handshake_timeout": HANDSHAKE_TIMEOUT,
            "keepalive_interval": 1.0,
            "keepalive_timeout": 1.0,
        },
        sasl={
            "mechanisms": ["SCRAM-SHA-256"],
            "max_unauthenticated": MAX_UNAUTHENTICATED,
            "max_clients": MAX_SASL_CLIENTS,
            "auth_timeout": HANDSHAKE_TIMEOUT,
        },
        other_sections={"limits": {"max_message_bytes": MAX_MESSAGE_BYTES}},
    )
    with running_remote_daemon(setup) as daemon:
        yield setup, daemon


def tls_handshake_succeeds(setup: RemoteSetup) -> bool:
    """A complete mutual-TLS handshake as the admin client, with Python's ssl."""
    context = ssl.create_default_context(cafile=setup.admin_pki / "cacert.pem")
    context.load_cert_chain(setup.admin_pki / "clientcert.pem", setup.admin_pki / "clientkey.pem")
    try:
        with (
            socket.create_connection(("127.0.0.1", setup.tls_port), 10) as raw,
            context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
        ):
            return tls.version() is not None
    except (ssl.SSLError, ConnectionError, TimeoutError):
        return False


def closed_by_peer(sock: socket.socket, within: float = 60.0) -> bool:
    sock.settimeout(within)
    try:
        return sock.recv(4096) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_tls_connections_are_bounded_and_silent_ones_cut_off(
    served: tuple[RemoteSetup, DaemonProcess],
) -> None:
    setup, daemon = served
    silent = [socket.create_connection(("127.0.0.1", setup.tls_port), 10)]
    try:
        # grpc counts a connection once it has accepted it; until then a client still gets in.
        refused = False
        for _ in range(50):
            if len(silent) < MAX_TLS_CLIENTS:
                silent.append(socket.create_connection(("127.0.0.1", setup.tls_port), 10))
                continue
            if not tls_handshake_succeeds(setup):
                refused = True
                break
            time.sleep(0.1)
        assert refused, f"{MAX_TLS_CLIENTS} silent connections did not fill [tls] max_clients"
        # The daemon ends each silent connection at handshake_timeout, freeing the places.
        assert all(closed_by_peer(sock) for sock in silent)
        assert tls_handshake_succeeds(setup)
        assert ovzsh(setup.tls_uri(), "hostname").returncode == 0
    finally:
        for sock in silent:
            sock.close()
    assert daemon.process.poll() is None


@asynccontextmanager
async def tls_channel(setup: RemoteSetup) -> AsyncIterator[grpc.aio.Channel]:
    async with open_tls_aio_channel(
        "127.0.0.1", setup.tls_port, {"pkipath": str(setup.admin_pki)}
    ) as channel:
        yield channel


async def test_tls_in_flight_calls_of_one_client_are_bounded(
    served: tuple[RemoteSetup, DaemonProcess],
) -> None:
    setup, _ = served
    async with tls_channel(setup) as busy, tls_channel(setup) as other:
        await assert_calls_bounded(busy, other, CALLS_PER_CLIENT)


class FreezingProxy:
    """Relays TCP to the daemon until freeze(); then swallows both directions, as
    a client whose network went away would, and notes when the daemon hangs up."""

    def __init__(self, target_port: int) -> None:
        self._target_port = target_port
        self._frozen = False
        self.daemon_hung_up = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accepted, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def freeze(self) -> None:
        self._frozen = True

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.get_running_loop().create_task(self._relay(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self._target_port)

        async def copy(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            while data := await source.read(65536):
                if not self._frozen:
                    sink.write(data)
                    await sink.drain()

        try:
            await asyncio.gather(copy(reader, up_writer), self._watch_daemon(up_reader, writer))
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            for each in (writer, up_writer):
                each.close()

    async def _watch_daemon(
        self, up_reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await up_reader.read(65536):
                if not self._frozen:
                    writer.write(data)
                    await writer.drain()
        if self._frozen:
            self.daemon_hung_up.set()


@pytest.mark.parametrize("open_stream", [True, False], ids=["watching", "idle"])
async def test_tls_keepalive_drops_a_client_that_stopped_answering(
    open_stream: bool, served: tuple[RemoteSetup, DaemonProcess]
) -> None:
    """A client that vanished, idle or with an event stream open: the daemon's
    keepalive pings go unanswered and it closes the connection ([tls] keepalive_*)."""
    setup, _ = served
    proxy = FreezingProxy(setup.tls_port)
    await proxy.start()
    try:
        async with open_tls_aio_channel(
            "127.0.0.1", proxy.port, {"pkipath": str(setup.admin_pki)}
        ) as channel:
            await get_version(channel)
            watch = None
            if open_stream:
                watch = events_pb2_grpc.EventsStub(channel).Watch(events_pb2.WatchRequest())
            proxy.freeze()
            try:
                await asyncio.wait_for(proxy.daemon_hung_up.wait(), 60)
            finally:
                if watch is not None:
                    watch.cancel()
    finally:
        await proxy.stop()


async def _greeting(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    frame = await asyncio.wait_for(wire.read_frame(reader, wire.MAX_HANDSHAKE_FRAME), 30)
    assert frame is not None
    return reader, writer, frame


async def test_sasl_connections_that_have_not_logged_in_are_bounded(
    served: tuple[RemoteSetup, DaemonProcess], tmp_path: Path
) -> None:
    setup, daemon = served
    silent = [await _greeting(setup.sasl_port) for _ in range(MAX_UNAUTHENTICATED)]
    try:
        for _, _, frame in silent:
            assert wire.parse_greeting(frame) == [wire.SCRAM_SHA_256]
        _, extra_writer, refusal = await _greeting(setup.sasl_port)
        extra_writer.close()
        kind, message = wire.split_kind(refusal)
        assert kind == wire.FAILURE and b"too many clients are logging in" in message
        # Each silent client is told off at auth_timeout and disconnected.
        for reader, _, _ in silent:
            told = await asyncio.wait_for(wire.read_frame(reader, wire.MAX_HANDSHAKE_FRAME), 60)
            assert told is not None
            assert wire.split_kind(told) == (wire.FAILURE, b"authentication took too long")
            assert await asyncio.wait_for(reader.read(), 30) == b""
    finally:
        for _, writer, _ in silent:
            writer.close()
    listed = await asyncio.to_thread(ovzsh, setup.scram_uri(), "list")
    assert listed.returncode == 0, listed.stderr
    assert daemon.process.poll() is None


@asynccontextmanager
async def scram_channel(setup: RemoteSetup) -> AsyncIterator[grpc.aio.Channel]:
    params = {"auth": "sasl.scram-sha-256", "password_file": str(setup.password_file)}
    async with channel_through(SaslTunnel("127.0.0.1", setup.sasl_port, "admin", params)) as ch:
        yield ch


@pytest.mark.parametrize("transport", ["TLS", "SASL"])
async def test_a_message_over_max_message_bytes_is_refused(
    transport: str, served: tuple[RemoteSetup, DaemonProcess]
) -> None:
    """[limits] max_message_bytes holds on the TLS listener and, for SASL (and SSH),
    on the unix socket the session is joined to."""
    setup, daemon = served
    opener = tls_channel if transport == "TLS" else scram_channel
    async with opener(setup) as channel:
        define = domains_pb2_grpc.DomainsStub(channel).Define
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await define(domains_pb2.DefineRequest(xml="x" * MAX_MESSAGE_BYTES), timeout=10)
        assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        # The connection goes on serving calls of a permitted size.
        assert await get_version(channel)
    assert daemon.process.poll() is None


async def test_sasl_clients_at_once_are_bounded(served: tuple[RemoteSetup, DaemonProcess]) -> None:
    setup, _ = served
    async with contextlib.AsyncExitStack() as stack:
        for _ in range(MAX_SASL_CLIENTS):
            channel = await stack.enter_async_context(scram_channel(setup))
            assert await get_version(channel)
        _, writer, refusal = await _greeting(setup.sasl_port)
        writer.close()
        assert wire.split_kind(refusal) == (wire.FAILURE, b"too many clients; try again later")
    # Places are given back as clients leave (the daemon notices within moments).
    for _ in range(100):
        try:
            async with scram_channel(setup) as channel:
                assert await get_version(channel)
            break
        except ServerBusy as err:
            assert "too many clients" in str(err)
            await asyncio.sleep(0.1)
    else:
        pytest.fail("the SASL places were not given back")
