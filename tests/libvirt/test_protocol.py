"""What only a hand-made client can send: keepalive, unknown programs and
procedures, calls before CONNECT_OPEN, a read-only open, impossible lengths,
overlapping calls, the per-uid connection cap. The connection answers or
closes; the daemon keeps serving."""

from __future__ import annotations

import contextlib
import os
import shutil
import struct
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from openvz.v1 import common_pb2, domains_pb2, domains_pb2_grpc
from openvzd.libvirt.numbers import ErrorCode, Proc
from openvzd.libvirt.protocol import (
    KEEPALIVE_PING,
    KEEPALIVE_PONG,
    KEEPALIVE_PROGRAM,
    PACKET_MAX,
    Header,
    MessageType,
    Status,
    encode_packet,
)
from openvzd.libvirt.xdr import Packer, Unpacker

from tests.daemon_process import DaemonProcess, running_daemon
from tests.libvirt.conftest import domain_xml, libvirt_sockets, prepare_host
from tests.libvirt.wire import WireClient


def still_serving(daemon: DaemonProcess) -> None:
    with WireClient(libvirt_sockets(daemon)[0]) as client:
        client.open()
        reply = client.call(Proc.CONNECT_GET_HOSTNAME)
        assert reply.error_code is None
        assert Unpacker(reply.body).string()


def test_keepalive_ping_gets_pong(libvirt_daemon: DaemonProcess) -> None:
    with WireClient(libvirt_sockets(libvirt_daemon)[0]) as client:
        ping = Header(KEEPALIVE_PROGRAM, 1, KEEPALIVE_PING, MessageType.MESSAGE, 0, Status.OK)
        client.send_raw(encode_packet(ping))
        pong = client.receive()
        assert pong is not None
        assert (pong.header.program, pong.header.procedure) == (KEEPALIVE_PROGRAM, KEEPALIVE_PONG)
        assert pong.header.type == MessageType.MESSAGE


def test_unknown_procedure_and_program_are_answered_and_the_connection_lives(
    libvirt_daemon: DaemonProcess,
) -> None:
    with WireClient(libvirt_sockets(libvirt_daemon)[0]) as client:
        client.open()
        unknown = client.call(426, b"\0" * 8)
        assert unknown.error_code == ErrorCode.RPC
        assert unknown.error_message == "unknown procedure: 426"
        serial = client.send_call(1, program=0x12345678)
        reply = client.receive()
        assert reply is not None and reply.header.serial == serial
        assert reply.error_code == ErrorCode.RPC
        assert client.call(Proc.CONNECT_GET_HOSTNAME).error_code is None


def test_calls_before_open_are_refused(libvirt_daemon: DaemonProcess) -> None:
    with WireClient(libvirt_sockets(libvirt_daemon)[0]) as client:
        reply = client.call(Proc.CONNECT_LIST_ALL_DOMAINS, b"\0\0\0\1\0\0\0\0")
        assert reply.error_code == ErrorCode.RPC
        assert "not open" in reply.error_message


def test_read_only_open_is_refused_by_the_server(libvirt_daemon: DaemonProcess) -> None:
    """The client library refuses first when it knows; the server must not rely on it."""
    body = Packer()
    body.string(domain_xml(150))
    with WireClient(libvirt_sockets(libvirt_daemon)[0]) as client:
        client.open(flags=1)
        reply = client.call(Proc.DOMAIN_DEFINE_XML, body.data())
        assert reply.error_code == ErrorCode.OPERATION_DENIED
        assert "read only access prevents" in reply.error_message
    with WireClient(libvirt_sockets(libvirt_daemon)[1]) as client:
        client.open(flags=0)
        assert client.call(Proc.DOMAIN_DEFINE_XML, body.data()).error_code == (
            ErrorCode.OPERATION_DENIED
        )


@pytest.mark.parametrize("length", [0, 8, PACKET_MAX + 1, 0xFFFFFFFF])
def test_impossible_lengths_close_the_connection(
    libvirt_daemon: DaemonProcess, length: int
) -> None:
    with WireClient(libvirt_sockets(libvirt_daemon)[0]) as client:
        client.send_raw(struct.pack(">I", length) + b"\0" * 24)
        assert client.receive() is None
    still_serving(libvirt_daemon)


def test_undecodable_arguments_get_an_error(libvirt_daemon: DaemonProcess) -> None:
    with WireClient(libvirt_sockets(libvirt_daemon)[0]) as client:
        client.open()
        reply = client.call(Proc.DOMAIN_LOOKUP_BY_NAME, b"\0\0\1\0abc")
        assert reply.error_code == ErrorCode.RPC
        assert "cannot decode" in reply.error_message
        assert client.call(Proc.CONNECT_GET_HOSTNAME).error_code is None


def test_calls_overlap_on_one_connection(libvirt_daemon: DaemonProcess) -> None:
    """A define (a job that runs vzctl) and a hostname sent right after it: the quick
    answer does not wait behind the slow one."""
    body = Packer()
    body.string(domain_xml(151))
    with WireClient(libvirt_sockets(libvirt_daemon)[0]) as client:
        client.open()
        define = client.send_call(Proc.DOMAIN_DEFINE_XML, body.data())
        hostname = client.send_call(Proc.CONNECT_GET_HOSTNAME)
        order = []
        while len(order) < 2:
            reply = client.receive()
            assert reply is not None
            if reply.header.type == MessageType.REPLY:
                assert reply.error_code is None, reply.error_message
                order.append(reply.header.serial)
        assert order == [hostname, define]
        domain = client.call(Proc.DOMAIN_LOOKUP_BY_NAME, name_argument("151"))
        assert domain.error_code is None
        assert client.call(Proc.DOMAIN_UNDEFINE, domain.body).error_code is None


def name_argument(text: str) -> bytes:
    packer = Packer()
    packer.string(text)
    return packer.data()


NOBODY_UID = 65534
VIR_CONNECT_RO = 1


@pytest.fixture
def capped_daemon() -> Iterator[DaemonProcess]:
    # Outside pytest's root-only tmp folders: nobody must reach the read-only socket.
    scratch = Path(tempfile.mkdtemp(prefix="openvzd-libvirt-capped-"))
    scratch.chmod(0o755)
    sim_dir = scratch / "sim"
    sim_dir.mkdir()
    prepare_host(sim_dir)
    (sim_dir / "openvzd.toml").write_text("[libvirt]\nmax_connections_per_uid = 2\n")
    try:
        with running_daemon(sim_dir) as daemon:
            yield daemon
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def connect_as(uid: int, socket_path: Path) -> WireClient:
    """A connection whose peer credentials (taken at connect) carry uid."""
    os.seteuid(uid)
    try:
        return WireClient(socket_path)
    finally:
        os.seteuid(0)


def test_connections_per_uid_are_capped(capped_daemon: DaemonProcess) -> None:
    """nobody's third connection is closed unanswered; root, which owns the daemon,
    is not capped, as on openvzd's own sockets."""
    socket_path = libvirt_sockets(capped_daemon)[1]
    first, second = connect_as(NOBODY_UID, socket_path), connect_as(NOBODY_UID, socket_path)
    roots = [WireClient(socket_path) for _ in range(3)]
    try:
        first.open(VIR_CONNECT_RO)
        second.open(VIR_CONNECT_RO)
        with connect_as(NOBODY_UID, socket_path) as third:
            # The refusal is the close, which may come before the call is sent.
            with contextlib.suppress(BrokenPipeError):
                third.send_call(Proc.AUTH_LIST)
            assert third.receive() is None
        for root in roots:
            root.open(VIR_CONNECT_RO)
    finally:
        for client in (first, second, *roots):
            client.close()
    still_serving(capped_daemon)


def _lifecycle_messages(client: WireClient, procedure: int, count: int) -> list[list[int]]:
    """The next `count` lifecycle messages of `procedure`, as [callback?, name, event, detail]."""
    found: list[list[int]] = []
    while len(found) < count:
        message = client.receive()
        assert message is not None, "the connection closed while waiting for events"
        if message.header.type != MessageType.MESSAGE or message.header.procedure != procedure:
            continue
        body = Unpacker(message.body)
        callback = [body.i32()] if procedure == Proc.DOMAIN_EVENT_CALLBACK_LIFECYCLE else []
        name = int(body.string())
        body.fixed_opaque(16)
        body.i32()
        found.append([*callback, name, body.i32(), body.i32()])
    return found


def test_events_for_callback_and_legacy_registrations(libvirt_daemon: DaemonProcess) -> None:
    rw = libvirt_sockets(libvirt_daemon)[0]
    with WireClient(rw) as modern, WireClient(rw) as legacy, WireClient(rw) as actor:
        modern.open()
        legacy.open()
        actor.open()
        register = Packer()
        register.i32(0)  # VIR_DOMAIN_EVENT_ID_LIFECYCLE
        register.i32(0)  # every domain
        reply = modern.call(Proc.CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY, register.data())
        assert reply.error_code is None
        callback_id = Unpacker(reply.body).i32()
        unsupported = Packer()
        unsupported.i32(5)  # graphics events: not served
        unsupported.i32(0)
        assert (
            modern.call(
                Proc.CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY, unsupported.data()
            ).error_code
            == ErrorCode.NO_SUPPORT
        )
        assert legacy.call(Proc.CONNECT_DOMAIN_EVENT_REGISTER).error_code is None

        define = Packer()
        define.string(domain_xml(152))
        defined = actor.call(Proc.DOMAIN_DEFINE_XML, define.data())
        assert defined.error_code is None
        # Started through the gRPC front-end: the same event bus feeds both.
        with libvirt_daemon.channel() as channel:
            domains_pb2_grpc.DomainsStub(channel).Start(
                domains_pb2.DomainCall(domain=common_pb2.DomainRef(id=152)), timeout=60
            )
        assert actor.call(Proc.DOMAIN_DESTROY, defined.body).error_code is None
        assert actor.call(Proc.DOMAIN_UNDEFINE, defined.body).error_code is None

        expected = [[152, 0, 0], [152, 2, 0], [152, 5, 1], [152, 1, 0]]
        modern_events = _lifecycle_messages(modern, Proc.DOMAIN_EVENT_CALLBACK_LIFECYCLE, 4)
        assert modern_events == [[callback_id, *e] for e in expected]
        assert _lifecycle_messages(legacy, Proc.DOMAIN_EVENT_LIFECYCLE, 4) == expected

        deregister = Packer()
        deregister.i32(callback_id)
        assert (
            modern.call(
                Proc.CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY, deregister.data()
            ).error_code
            is None
        )


@pytest.fixture
def impatient_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    sim_dir = tmp_path_factory.mktemp("libvirt-keepalive")
    prepare_host(sim_dir)
    (sim_dir / "openvzd.toml").write_text(
        "[libvirt]\nkeepalive_interval = 0.3\nkeepalive_count = 2\n"
    )
    with running_daemon(sim_dir) as daemon:
        yield daemon


def _asks_for_keepalive(client: WireClient) -> None:
    client.open()
    feature = Packer()
    feature.i32(10)  # VIR_DRV_FEATURE_PROGRAM_KEEPALIVE
    assert client.call(Proc.CONNECT_SUPPORTS_FEATURE, feature.data()).error_code is None


def _answer_pings(client: WireClient, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    pong = Header(KEEPALIVE_PROGRAM, 1, KEEPALIVE_PONG, MessageType.MESSAGE, 0, Status.OK)
    while time.monotonic() < deadline:
        ping = client.receive()
        assert ping is not None and ping.header.procedure == KEEPALIVE_PING
        client.send_raw(encode_packet(pong))


def test_a_silent_client_is_pinged_then_dropped(impatient_daemon: DaemonProcess) -> None:
    socket_path = libvirt_sockets(impatient_daemon)[0]
    with WireClient(socket_path) as silent, WireClient(socket_path) as alive:
        _asks_for_keepalive(silent)
        _asks_for_keepalive(alive)
        # The other client answers every PING meanwhile, and keeps its connection.
        answering = threading.Thread(target=_answer_pings, args=(alive, 2.0))
        answering.start()
        pings = 0
        while (message := silent.receive()) is not None:
            assert (message.header.program, message.header.procedure) == (
                KEEPALIVE_PROGRAM,
                KEEPALIVE_PING,
            )
            pings += 1
        answering.join(timeout=30)
        assert pings >= 1
        assert alive.call(Proc.CONNECT_GET_HOSTNAME).error_code is None
