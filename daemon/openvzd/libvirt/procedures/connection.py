"""Connection, authentication and host procedures."""

from __future__ import annotations

import re

from openvzd.access import Level
from openvzd.libvirt.errors import LibvirtError, not_supported
from openvzd.libvirt.numbers import (
    AUTH_TYPE_NONE,
    AUTH_TYPE_SASL,
    ErrorCode,
    Feature,
    Proc,
)
from openvzd.libvirt.procedures.registry import (
    LIB_VERSION,
    NODE_MODEL_SIZE,
    SASL_DATA_MAX,
    SASL_MECHANISM_MAX,
    SUPPORTED_FEATURES,
    procedure,
)
from openvzd.libvirt.sasl import MECHANISM as SASL_MECHANISM
from openvzd.libvirt.sasl import SaslLogin
from openvzd.libvirt.session import VIR_CONNECT_RO, Session
from openvzd.libvirt.xdr import Packer, Unpacker

# -- connection ------------------------------------------------------------------


@procedure(Proc.AUTH_LIST, before_open=True, before_auth=True)
async def auth_list(session: Session, args: Unpacker, ret: Packer) -> None:
    """void -> remote_auth_type types<>: SASL on the SASL listener; elsewhere none,
    the peer being known by its credentials or certificate."""
    ret.array([AUTH_TYPE_SASL if session.login is not None else AUTH_TYPE_NONE], ret.i32)


def _login(session: Session) -> SaslLogin:
    if session.login is None:
        raise LibvirtError(ErrorCode.AUTH_FAILED, "SASL is not offered on this connection")
    return session.login


def _sasl_reply(
    session: Session, login: SaslLogin, answer: tuple[bool, bytes], ret: Packer
) -> None:
    """int complete, int nil, char data<> (4 bytes per byte)"""
    complete, data = answer
    ret.i32(1 if complete else 0)
    ret.i32(0)
    ret.char_array(data)
    if complete:
        session.finish_login(login.identity, login.level is Level.READ_ONLY)


@procedure(Proc.AUTH_SASL_INIT, before_open=True, before_auth=True)
async def sasl_init(session: Session, args: Unpacker, ret: Packer) -> None:
    """void -> remote_nonnull_string mechlist"""
    _login(session)
    ret.string(SASL_MECHANISM)


@procedure(Proc.AUTH_SASL_START, before_open=True, before_auth=True)
async def sasl_start(session: Session, args: Unpacker, ret: Packer) -> None:
    """remote_nonnull_string mech, int nil, char data<> -> complete, nil, data"""
    login = _login(session)
    mechanism = args.string(SASL_MECHANISM_MAX)
    args.i32()
    token = args.char_array(SASL_DATA_MAX)
    _sasl_reply(session, login, login.start(mechanism, token), ret)


@procedure(Proc.AUTH_SASL_STEP, before_open=True, before_auth=True)
async def sasl_step(session: Session, args: Unpacker, ret: Packer) -> None:
    """int nil, char data<> -> complete, nil, data"""
    login = _login(session)
    args.i32()
    token = args.char_array(SASL_DATA_MAX)
    _sasl_reply(session, login, login.step(token), ret)


@procedure(Proc.CONNECT_SUPPORTS_FEATURE, before_open=True)
async def supports_feature(session: Session, args: Unpacker, ret: Packer) -> None:
    """int feature -> int supported"""
    feature = args.i32()
    if feature == Feature.PROGRAM_KEEPALIVE:
        session.speaks_keepalive = True
    ret.i32(1 if feature in SUPPORTED_FEATURES else 0)


@procedure(Proc.CONNECT_OPEN, before_open=True)
async def connect_open(session: Session, args: Unpacker, ret: Packer) -> None:
    """remote_string name, unsigned flags -> void. The client strips the transport
    and socket from the URI: openvz+unix:///system arrives as openvz:///system."""
    name = args.optional(args.string)
    flags = args.u32()
    if name is not None and name and not re.match(r"openvz(\+[a-z]+)?://", name):
        raise LibvirtError(
            ErrorCode.INVALID_ARG,
            f"this server is openvzd and serves only openvz:/// URIs, not {name!r}",
        )
    session.opened = True
    session.open_read_only = bool(flags & VIR_CONNECT_RO)


@procedure(Proc.CONNECT_CLOSE, before_open=True)
async def connect_close(session: Session, args: Unpacker, ret: Packer) -> None:
    session.registrations.clear()
    session.opened = False


@procedure(Proc.CONNECT_REGISTER_CLOSE_CALLBACK)
async def register_close_callback(session: Session, args: Unpacker, ret: Packer) -> None:
    """The client's own bookkeeping: nothing to keep on this side."""


@procedure(Proc.CONNECT_UNREGISTER_CLOSE_CALLBACK)
async def unregister_close_callback(session: Session, args: Unpacker, ret: Packer) -> None:
    """The client's own bookkeeping: nothing to keep on this side."""


# -- host ------------------------------------------------------------------------


@procedure(Proc.CONNECT_GET_TYPE)
async def get_type(session: Session, args: Unpacker, ret: Packer) -> None:
    ret.string("OpenVZ")


def _version_number(text: str) -> int:
    """libvirt's major*1,000,000 + minor*1,000 + release from a version text."""
    parts = [int(p) for p in re.findall(r"\d+", text)[:3]] + [0, 0, 0]
    return parts[0] * 1_000_000 + min(parts[1], 999) * 1_000 + min(parts[2], 999)


@procedure(Proc.CONNECT_GET_VERSION)
async def get_version(session: Session, args: Unpacker, ret: Packer) -> None:
    """void -> unsigned hyper hv_ver: vzctl's version, as libvirt's driver reports it."""
    ret.u64(_version_number(session.core.version().vzctl))


@procedure(Proc.CONNECT_GET_LIB_VERSION)
async def get_lib_version(session: Session, args: Unpacker, ret: Packer) -> None:
    ret.u64(LIB_VERSION)


@procedure(Proc.CONNECT_GET_HOSTNAME)
async def get_hostname(session: Session, args: Unpacker, ret: Packer) -> None:
    ret.string(session.core.hostname())


@procedure(Proc.CONNECT_GET_URI)
async def get_uri(session: Session, args: Unpacker, ret: Packer) -> None:
    ret.string("openvz:///system")


@procedure(Proc.CONNECT_IS_SECURE)
async def is_secure(session: Session, args: Unpacker, ret: Packer) -> None:
    ret.i32(1 if session.secure else 0)


@procedure(Proc.CONNECT_GET_MAX_VCPUS)
async def get_max_vcpus(session: Session, args: Unpacker, ret: Packer) -> None:
    """remote_string type -> int max_vcpus: a container may use every host CPU."""
    args.optional(args.string)
    ret.i32(session.core.node_info().cpus)


@procedure(Proc.NODE_GET_INFO)
async def node_get_info(session: Session, args: Unpacker, ret: Packer) -> None:
    """void -> char model[32] (4 bytes per char), unsigned hyper memory (KiB), int cpus,
    mhz, nodes, sockets, cores, threads"""
    node = session.core.node_info()
    model = node.model.encode("utf-8", "replace")[: NODE_MODEL_SIZE - 1]
    ret.fixed_char_array(model, NODE_MODEL_SIZE)
    ret.u64(node.memory_kib)
    for value in (node.cpus, node.mhz, 1, node.sockets, node.cores, node.threads):
        ret.i32(value)


@procedure(Proc.NODE_GET_FREE_MEMORY)
async def node_get_free_memory(session: Session, args: Unpacker, ret: Packer) -> None:
    """void -> unsigned hyper bytes"""
    ret.u64(session.core.node_info().free_memory_kib * 1024)


@procedure(Proc.CONNECT_GET_CAPABILITIES)
async def get_capabilities(session: Session, args: Unpacker, ret: Packer) -> None:
    ret.string(session.core.capabilities_xml())


@procedure(Proc.NODE_GET_SECURITY_MODEL)
async def node_get_security_model(session: Session, args: Unpacker, ret: Packer) -> None:
    """void -> char model<>, char doi<>: no security driver, as libvirt's OpenVZ driver."""
    ret.char_array(b"")
    ret.char_array(b"")


@procedure(Proc.CONNECT_GET_SYSINFO)
async def get_sysinfo(session: Session, args: Unpacker, ret: Packer) -> None:
    raise not_supported("virConnectGetSysinfo: openvzd reads no SMBIOS data")
