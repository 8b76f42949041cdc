"""The libvirt front-end's wire pieces: XDR primitives, the header, the error
body and the procedure numbers, checked against bytes Debian's libvirt 9.0
client sent and accepted (the hex below is from such an exchange)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from openvzd.core.errors import ErrorKind
from openvzd.libvirt.errors import CODE_BY_KIND, from_kind
from openvzd.libvirt.numbers import ErrorCode, Proc
from openvzd.libvirt.protocol import (
    PACKET_MAX,
    REMOTE_PROGRAM,
    FramingError,
    Header,
    MessageType,
    Status,
    encode_packet,
    pack_error,
    packet_length,
    parse_header,
    reply_header,
)
from openvzd.libvirt.session import DomainKey
from openvzd.libvirt.xdr import STRING_MAX, Packer, Unpacker, XdrError

DATA = Path(__file__).parent.parent / "data" / "libvirt"


def test_every_procedure_number_is_libvirts() -> None:
    """remote-procedures.json is libvirt's own table (remote_protocol.x, 453 entries)."""
    table = {
        int(k): v for k, v in json.loads((DATA / "remote-procedures.json").read_text()).items()
    }
    assert len(table) > 400
    for proc in Proc:
        assert table[proc.value] == f"REMOTE_PROC_{proc.name}", proc


def test_every_core_error_kind_has_a_libvirt_code() -> None:
    assert set(CODE_BY_KIND) == set(ErrorKind)
    assert from_kind(ErrorKind.NOT_FOUND, "gone").code is ErrorCode.NO_DOMAIN
    assert from_kind(ErrorKind.ALREADY_EXISTS, "taken").code is ErrorCode.DOM_EXIST
    # A define that names a missing template did not miss a domain.
    missing = from_kind(ErrorKind.NOT_FOUND, "no template", making_domain=True)
    assert missing.code is ErrorCode.OPERATION_FAILED and missing.message == "no template"


def test_primitives_round_trip() -> None:
    packer = Packer()
    packer.i32(-5)
    packer.u32(0xFFFFFFFF)
    packer.i64(-(2**40))
    packer.u64(2**63)
    packer.string("ct101")
    packer.optional(None, packer.string)
    packer.optional("x", packer.string)
    packer.opaque(b"\x01\x02\x03")
    data = packer.data()
    assert len(data) % 4 == 0
    unpacker = Unpacker(data)
    assert unpacker.i32() == -5
    assert unpacker.u32() == 0xFFFFFFFF
    assert unpacker.i64() == -(2**40)
    assert unpacker.u64() == 2**63
    assert unpacker.string() == "ct101"
    assert unpacker.optional(unpacker.string) is None
    assert unpacker.optional(unpacker.string) == "x"
    assert unpacker.opaque() == b"\x01\x02\x03"
    unpacker.done()


def test_char_arrays_take_four_bytes_per_element() -> None:
    packer = Packer()
    packer.fixed_char_array(b"Xe", 4)
    packer.char_array(b"ab")
    assert packer.data().hex() == ("00000058000000650000000000000000000000020000006100000062")
    unpacker = Unpacker(packer.data()[16:])
    assert unpacker.char_array(8) == b"ab"


def test_domain_as_the_client_sent_it() -> None:
    # DOMAIN_GET_STATE's arguments from the 9.0 client: ct101, its UUID, id 101, flags 0.
    raw = bytes.fromhex("000000056374313031000000b3977a0d0fd056b996ddf26f53cec5f20000006500000000")
    unpacker = Unpacker(raw)
    key = DomainKey.unpack(unpacker)
    assert (key.name, key.uuid.hex(), key.id) == ("ct101", "b3977a0d0fd056b996ddf26f53cec5f2", 101)
    assert unpacker.u32() == 0
    unpacker.done()
    packer = Packer()
    key.pack(packer)
    assert packer.data() == raw[:-4]


def test_error_body_is_byte_for_byte_libvirtds() -> None:
    """The refusal of an unknown procedure the 9.0 client accepted (and turned into
    VIR_ERR_NO_SUPPORT)."""
    expected = (
        "00000027000000070000000100000016756e6b6e6f776e2070726f6365647572653a20343236"
        "00000000000200000000000000000000000000000000000000000000000000000000"
    )
    assert pack_error(39, 7, "unknown procedure: 426").hex() == expected


def test_header_round_trip_and_reply() -> None:
    call = Header(REMOTE_PROGRAM, 1, 212, MessageType.CALL, 7, Status.OK)
    packet = encode_packet(call, b"\0\0\0\1")
    assert packet_length(packet[:4]) == len(packet) == 32
    assert parse_header(packet[4:]) == call
    reply = reply_header(call, Status.ERROR)
    assert (reply.procedure, reply.serial, reply.type, reply.status) == (212, 7, 1, 1)


@pytest.mark.parametrize("length", [0, 4, 27, PACKET_MAX + 1, 0xFFFFFFFF])
def test_impossible_lengths_are_refused(length: int) -> None:
    with pytest.raises(FramingError):
        packet_length(length.to_bytes(4, "big"))


def test_hostile_lengths_never_allocate() -> None:
    with pytest.raises(XdrError, match="over the limit"):
        Unpacker((STRING_MAX + 1).to_bytes(4, "big")).string()
    with pytest.raises(XdrError, match="more bytes"):
        Unpacker((100).to_bytes(4, "big") + b"ab").string()
    with pytest.raises(XdrError, match="cannot fit"):
        Unpacker((1000).to_bytes(4, "big")).array(lambda: 0, 16384)
    with pytest.raises(XdrError, match="over the limit"):
        Unpacker((20000).to_bytes(4, "big")).array(lambda: 0, 16384)
    with pytest.raises(XdrError, match="present flag"):
        Unpacker((7).to_bytes(4, "big")).optional(lambda: 0)
    with pytest.raises(XdrError):
        Unpacker(b"\0\0\0\2\xff\xfe\0\0").string()
