"""The libvirt front-end's decoder against the real daemon: every procedure it
serves (and unknown ones) with random and near-valid arguments, and random or
truncated byte streams in place of packets. A call is always answered (never
with INTERNAL_ERROR, which would mean a handler tripped over its input), a
broken stream is answered or closed, nothing hangs, and the daemon serves on."""

from __future__ import annotations

import struct
from collections.abc import Iterator

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from openvzd.libvirt.numbers import ErrorCode, Proc
from openvzd.libvirt.procedures import PROCEDURES
from openvzd.libvirt.protocol import REMOTE_PROGRAM, Header, MessageType, Status, encode_packet
from openvzd.libvirt.session import DomainKey
from openvzd.libvirt.xdr import Packer

from tests.daemon_process import DaemonProcess, running_daemon
from tests.fuzz.profiles import fuzz, no_hang
from tests.libvirt.conftest import libvirt_sockets, prepare_host
from tests.libvirt.wire import WireClient

# Closing and re-opening the connection is part of the input space, so these two
# are not fuzzed as calls (CONNECT_CLOSE would end every later example's session).
SERVED = sorted(set(PROCEDURES) - {Proc.CONNECT_CLOSE, Proc.CONNECT_OPEN})


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    sim_dir = tmp_path_factory.mktemp("fuzz-libvirt")
    prepare_host(sim_dir)
    with running_daemon(sim_dir) as process:
        yield process


def _domain(name: str, uuid: bytes, id_: int) -> bytes:
    packer = Packer()
    DomainKey(name, uuid, id_).pack(packer)
    return packer.data()


# Arguments that look like what procedures take: a domain (existing-looking or not)
# followed by ints and strings, or raw bytes.
WORD = st.integers(-(2**31), 2**31 - 1).map(lambda v: struct.pack(">i", v))
TEXT = st.text(max_size=30).map(lambda t: _string(t))
DOMAIN = st.builds(
    _domain,
    st.sampled_from(["101", "0", "-1", "", "x" * 300]),
    st.binary(min_size=16, max_size=16),
    st.integers(-1, 2**31 - 1),
)
ARGUMENTS = st.one_of(
    st.binary(max_size=200),
    st.lists(st.one_of(WORD, TEXT, DOMAIN), max_size=5).map(b"".join),
)


def _string(text: str) -> bytes:
    packer = Packer()
    packer.string(text)
    return packer.data()


@fuzz(0.3)
@given(
    procedure=st.one_of(
        st.sampled_from(SERVED),
        st.integers(-(2**31), 2**31 - 1).filter(
            lambda p: p not in (Proc.CONNECT_CLOSE, Proc.CONNECT_OPEN)
        ),
    ),
    arguments=ARGUMENTS,
)
@example(procedure=Proc.DOMAIN_GET_XML_DESC, arguments=b"\xff\xff\xff\xff")
@example(procedure=Proc.CONNECT_LIST_ALL_DOMAINS, arguments=b"\0\0\0\1\xff\xff\xff\xff")
@example(procedure=Proc.DOMAIN_SET_MEMORY_PARAMETERS, arguments=b"")
def test_every_call_is_answered(daemon: DaemonProcess, procedure: int, arguments: bytes) -> None:
    # The read-write socket, so mutating procedures' decoders are reached too: the
    # host has no containers, so only a define could change it, and random XML is refused.
    with no_hang(), WireClient(libvirt_sockets(daemon)[0]) as client:
        client.open()
        reply = client.call(procedure, arguments)
        assert reply.header.status in (Status.OK, Status.ERROR)
        assert reply.error_code != ErrorCode.INTERNAL_ERROR, reply.error_message
        assert client.call(Proc.CONNECT_GET_HOSTNAME).error_code is None


@fuzz(0.2)
@given(stream=st.binary(max_size=300), cut=st.integers(0, 60))
@example(stream=struct.pack(">I", 28) + b"\0" * 24, cut=0)
def test_random_and_truncated_streams(daemon: DaemonProcess, stream: bytes, cut: int) -> None:
    valid = encode_packet(Header(REMOTE_PROGRAM, 1, Proc.AUTH_LIST, MessageType.CALL, 0, Status.OK))
    with no_hang():
        for data in (stream, valid[: min(cut, len(valid) - 1)], valid + stream):
            with WireClient(libvirt_sockets(daemon)[0]) as client:
                client.send_raw(data)
                client.sock.shutdown(1)  # SHUT_WR: the server sees the end of input
                while client.receive() is not None:
                    pass
        with WireClient(libvirt_sockets(daemon)[0]) as client:
            client.open()
            assert client.call(Proc.CONNECT_GET_HOSTNAME).error_code is None
