"""The remote program's procedures: decode the arguments, call the core, encode
the reply. Argument and reply layouts are those of libvirt's remote_protocol.x
(named in each docstring as `args -> ret`).

Procedures not in PROCEDURES get libvirtd's own answer for a procedure it does
not know (see errors.unknown_procedure), and the connection stays open.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from openvzd.access import Level
from openvzd.core import ops
from openvzd.core.facade import DomainRef, DomainView, ListFilter
from openvzd.libvirt.errors import CoreError, LibvirtError, from_kind, not_supported
from openvzd.libvirt.numbers import (
    AUTH_TYPE_NONE,
    AUTH_TYPE_SASL,
    DOMAIN_LIST_MAX,
    REASON_BY_STATE_AND_WORD,
    STATE_BY_WORD,
    DomainState,
    ErrorCode,
    Feature,
    Proc,
)
from openvzd.libvirt.sasl import MECHANISM as SASL_MECHANISM
from openvzd.libvirt.sasl import SaslLogin
from openvzd.libvirt.session import VIR_CONNECT_RO, DomainKey, Registration, Session
from openvzd.libvirt.xdr import Packer, Unpacker

Handler = Callable[[Session, Unpacker, Packer], Awaitable[None]]

# libvirt 9.0.0, what virConnectGetLibVersion reports for the library we stand in for.
LIB_VERSION = 9_000_000
NODE_MODEL_SIZE = 32
XML_MAX = 4 * 1024 * 1024
EVENT_ID_LIFECYCLE = 0
# virsh memtune's "unlimited" (VIR_DOMAIN_MEMORY_PARAM_UNLIMITED).
MEMORY_UNLIMITED = 9007199254740991
MEMORY_PARAM_MAX = 16
TYPED_PARAM_ULLONG = 4
TYPED_PARAM_FIELD_MAX = 80
# REMOTE_AUTH_SASL_DATA_MAX, and a mechanism name's longest sensible length.
SASL_DATA_MAX = 65536
SASL_MECHANISM_MAX = 64

SUPPORTED_FEATURES = frozenset(
    {Feature.PROGRAM_KEEPALIVE, Feature.REMOTE_EVENT_CALLBACK, Feature.REMOTE_CLOSE_CALLBACK}
)

# virConnectListAllDomains' filter groups: in each group given, a domain must match one flag.
LIST_ACTIVE, LIST_INACTIVE = 1, 2
LIST_PERSISTENT, LIST_TRANSIENT = 4, 8
LIST_RUNNING, LIST_PAUSED, LIST_SHUTOFF, LIST_OTHER = 16, 32, 64, 128
LIST_MANAGEDSAVE, LIST_NO_MANAGEDSAVE = 256, 512
LIST_AUTOSTART, LIST_NO_AUTOSTART = 1024, 2048
LIST_HAS_SNAPSHOT, LIST_NO_SNAPSHOT = 4096, 8192
LIST_HAS_CHECKPOINT, LIST_NO_CHECKPOINT = 16384, 32768
LIST_KNOWN_FLAGS = (1 << 16) - 1

XML_INACTIVE = 2
UNDEFINE_KNOWN_FLAGS = 1 | 2 | 4 | 8 | 16  # managed save, snapshots, nvram: none exist here
MODIFY_LIVE, MODIFY_CONFIG = 1, 2
VCPU_MAXIMUM = 4
MEM_MAXIMUM = 4


@dataclass(frozen=True, slots=True)
class Procedure:
    handler: Handler
    # Refused on a read-only connection with VIR_ERR_OPERATION_DENIED.
    mutating: bool = False
    # Answered before CONNECT_OPEN (the client asks these first).
    before_open: bool = False
    # Answered before a SASL login completes.
    before_auth: bool = False


PROCEDURES: dict[int, Procedure] = {}


def procedure(
    number: Proc, *, mutating: bool = False, before_open: bool = False, before_auth: bool = False
) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        PROCEDURES[number] = Procedure(handler, mutating, before_open, before_auth)
        return handler

    return register


def _flags(args: Unpacker, known: int, what: str) -> int:
    flags = args.u32()
    if flags & ~known:
        raise LibvirtError(
            ErrorCode.INVALID_ARG, f"{what}: unsupported flags (0x{flags & ~known:x})"
        )
    return flags


def _no_flags(args: Unpacker, what: str) -> None:
    _flags(args, 0, what)


def _state(view: DomainView) -> tuple[int, int]:
    state = STATE_BY_WORD.get(view.state, DomainState.NOSTATE)
    return state, REASON_BY_STATE_AND_WORD.get((state, view.state_reason), 0)


def _guarded(call: Callable[[], object]) -> object:
    try:
        return call()
    except CoreError as err:
        raise from_kind(err.kind, err.message) from None


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
    ret.i32(1 if args.i32() in SUPPORTED_FEATURES else 0)


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


# -- lists -------------------------------------------------------------------------


def _matches(view: DomainView, flags: int) -> bool:
    active = view.id != -1
    state, _ = _state(view)
    groups = (
        (LIST_ACTIVE | LIST_INACTIVE, {LIST_ACTIVE: active, LIST_INACTIVE: not active}),
        (LIST_PERSISTENT | LIST_TRANSIENT, {LIST_PERSISTENT: True, LIST_TRANSIENT: False}),
        (
            LIST_RUNNING | LIST_PAUSED | LIST_SHUTOFF | LIST_OTHER,
            {
                LIST_RUNNING: state == DomainState.RUNNING,
                LIST_PAUSED: state == DomainState.PAUSED,
                LIST_SHUTOFF: state == DomainState.SHUTOFF,
                LIST_OTHER: state == DomainState.NOSTATE,
            },
        ),
        (
            LIST_MANAGEDSAVE | LIST_NO_MANAGEDSAVE,
            {
                LIST_MANAGEDSAVE: view.state == "suspended",
                LIST_NO_MANAGEDSAVE: view.state != "suspended",
            },
        ),
        (
            LIST_AUTOSTART | LIST_NO_AUTOSTART,
            {LIST_AUTOSTART: view.autostart, LIST_NO_AUTOSTART: not view.autostart},
        ),
        (LIST_HAS_SNAPSHOT | LIST_NO_SNAPSHOT, {LIST_HAS_SNAPSHOT: False, LIST_NO_SNAPSHOT: True}),
        (
            LIST_HAS_CHECKPOINT | LIST_NO_CHECKPOINT,
            {LIST_HAS_CHECKPOINT: False, LIST_NO_CHECKPOINT: True},
        ),
    )
    for mask, members in groups:
        if flags & mask and not any(flags & flag and ok for flag, ok in members.items()):
            return False
    return True


@procedure(Proc.CONNECT_LIST_ALL_DOMAINS)
async def list_all_domains(session: Session, args: Unpacker, ret: Packer) -> None:
    """int need_results, unsigned flags -> remote_nonnull_domain domains<>, unsigned ret"""
    need_results = args.i32()
    flags = _flags(args, LIST_KNOWN_FLAGS, "virConnectListAllDomains")
    found = [v for v in session.core.list_domains() if _matches(v, flags)]
    if len(found) > DOMAIN_LIST_MAX:
        raise LibvirtError(
            ErrorCode.INTERNAL_ERROR,
            f"{len(found)} domains is over the protocol's list limit of {DOMAIN_LIST_MAX}",
        )
    ret.array([DomainKey.of(v) for v in found] if need_results else [], lambda k: k.pack(ret))
    ret.u32(len(found))


@procedure(Proc.CONNECT_NUM_OF_DOMAINS)
async def num_of_domains(session: Session, args: Unpacker, ret: Packer) -> None:
    ret.i32(len(session.core.list_domains(ListFilter(active=True))))


@procedure(Proc.CONNECT_LIST_DOMAINS)
async def list_domains(session: Session, args: Unpacker, ret: Packer) -> None:
    """int maxids -> int ids<>"""
    maxids = args.i32()
    if not 0 <= maxids <= DOMAIN_LIST_MAX:
        raise LibvirtError(ErrorCode.RPC, f"maxids must be 0..{DOMAIN_LIST_MAX}, not {maxids}")
    ids = [v.id for v in session.core.list_domains(ListFilter(active=True))][:maxids]
    ret.array(ids, ret.i32)


@procedure(Proc.CONNECT_NUM_OF_DEFINED_DOMAINS)
async def num_of_defined_domains(session: Session, args: Unpacker, ret: Packer) -> None:
    ret.i32(len(session.core.list_domains(ListFilter(inactive=True))))


@procedure(Proc.CONNECT_LIST_DEFINED_DOMAINS)
async def list_defined_domains(session: Session, args: Unpacker, ret: Packer) -> None:
    """int maxnames -> remote_nonnull_string names<>"""
    maxnames = args.i32()
    if not 0 <= maxnames <= DOMAIN_LIST_MAX:
        raise LibvirtError(ErrorCode.RPC, f"maxnames must be 0..{DOMAIN_LIST_MAX}, not {maxnames}")
    names = [v.name for v in session.core.list_domains(ListFilter(inactive=True))][:maxnames]
    ret.array(names, ret.string)


# -- lookups and reads -------------------------------------------------------------


def _lookup(session: Session, ref: DomainRef, what: str) -> DomainKey:
    try:
        return DomainKey.of(session.core.domain(session.core.resolve(ref)))
    except CoreError:
        raise LibvirtError(ErrorCode.NO_DOMAIN, f"Domain not found: {what}") from None


@procedure(Proc.DOMAIN_LOOKUP_BY_NAME)
async def lookup_by_name(session: Session, args: Unpacker, ret: Packer) -> None:
    name = args.string()
    _lookup(session, DomainRef(name=name), f"no domain with matching name '{name}'").pack(ret)


@procedure(Proc.DOMAIN_LOOKUP_BY_UUID)
async def lookup_by_uuid(session: Session, args: Unpacker, ret: Packer) -> None:
    wanted = str(uuid.UUID(bytes=args.fixed_opaque(16)))
    _lookup(session, DomainRef(uuid=wanted), f"no domain with matching uuid '{wanted}'").pack(ret)


@procedure(Proc.DOMAIN_LOOKUP_BY_ID)
async def lookup_by_id(session: Session, args: Unpacker, ret: Packer) -> None:
    wanted = args.i32()
    try:
        view = session.core.domain(session.core.resolve(DomainRef(id=wanted)))
    except CoreError:
        view = None
    # A libvirt ID names a running domain only.
    if view is None or view.id != wanted:
        raise LibvirtError(
            ErrorCode.NO_DOMAIN, f"Domain not found: no domain with matching id {wanted}"
        )
    DomainKey.of(view).pack(ret)


@procedure(Proc.DOMAIN_GET_STATE)
async def get_state(session: Session, args: Unpacker, ret: Packer) -> None:
    """dom, unsigned flags -> int state, int reason"""
    key = DomainKey.unpack(args)
    _no_flags(args, "virDomainGetState")
    state, reason = _state(session.view(key))
    ret.i32(state)
    ret.i32(reason)


@procedure(Proc.DOMAIN_GET_INFO)
async def get_info(session: Session, args: Unpacker, ret: Packer) -> None:
    """dom -> unsigned char state, unsigned hyper maxMem, memory (KiB),
    unsigned short nrVirtCpu, unsigned hyper cpuTime (ns); char and short take 4 bytes."""
    veid = session.resolve(DomainKey.unpack(args))
    info = session.core.info(veid)
    ret.u32(_state(info.domain)[0])
    ret.u64(info.max_memory_kib)
    ret.u64(info.memory_kib)
    ret.u32(info.vcpus)
    ret.u64(info.cpu_time_ns)


@procedure(Proc.DOMAIN_GET_OS_TYPE)
async def get_os_type(session: Session, args: Unpacker, ret: Packer) -> None:
    session.resolve(DomainKey.unpack(args))
    ret.string("exe")


@procedure(Proc.DOMAIN_GET_MAX_MEMORY)
async def get_max_memory(session: Session, args: Unpacker, ret: Packer) -> None:
    ret.u64(session.core.info(session.resolve(DomainKey.unpack(args))).max_memory_kib)


@procedure(Proc.DOMAIN_GET_MAX_VCPUS)
async def get_max_vcpus_of(session: Session, args: Unpacker, ret: Packer) -> None:
    session.resolve(DomainKey.unpack(args))
    ret.i32(session.core.node_info().cpus)


@procedure(Proc.DOMAIN_GET_VCPUS_FLAGS)
async def get_vcpus_flags(session: Session, args: Unpacker, ret: Packer) -> None:
    """dom, unsigned flags -> int num; --maximum is every host CPU."""
    veid = session.resolve(DomainKey.unpack(args))
    flags = _flags(args, MODIFY_LIVE | MODIFY_CONFIG | VCPU_MAXIMUM, "virDomainGetVcpusFlags")
    if flags & VCPU_MAXIMUM:
        ret.i32(session.core.node_info().cpus)
    else:
        ret.i32(session.core.info(veid).vcpus)


@procedure(Proc.DOMAIN_IS_ACTIVE)
async def is_active(session: Session, args: Unpacker, ret: Packer) -> None:
    ret.i32(1 if session.view(DomainKey.unpack(args)).id != -1 else 0)


@procedure(Proc.DOMAIN_IS_PERSISTENT)
async def is_persistent(session: Session, args: Unpacker, ret: Packer) -> None:
    ret.i32(1 if session.view(DomainKey.unpack(args)).persistent else 0)


@procedure(Proc.DOMAIN_IS_UPDATED)
async def is_updated(session: Session, args: Unpacker, ret: Packer) -> None:
    """Container changes apply live and to the config at once: never pending."""
    session.resolve(DomainKey.unpack(args))
    ret.i32(0)


@procedure(Proc.DOMAIN_GET_AUTOSTART)
async def get_autostart(session: Session, args: Unpacker, ret: Packer) -> None:
    ret.i32(1 if session.view(DomainKey.unpack(args)).autostart else 0)


@procedure(Proc.DOMAIN_HAS_MANAGED_SAVE_IMAGE)
async def has_managed_save_image(session: Session, args: Unpacker, ret: Packer) -> None:
    key = DomainKey.unpack(args)
    _no_flags(args, "virDomainHasManagedSaveImage")
    ret.i32(1 if session.view(key).state == "suspended" else 0)


@procedure(Proc.DOMAIN_SNAPSHOT_NUM)
async def snapshot_num(session: Session, args: Unpacker, ret: Packer) -> None:
    """openvzd keeps no snapshots: every container has none."""
    session.resolve(DomainKey.unpack(args))
    args.u32()
    ret.i32(0)


@procedure(Proc.DOMAIN_GET_XML_DESC)
async def get_xml_desc(session: Session, args: Unpacker, ret: Packer) -> None:
    """dom, unsigned flags -> remote_nonnull_string xml"""
    veid = session.resolve(DomainKey.unpack(args))
    flags = _flags(args, 1 | XML_INACTIVE | 4 | 8, "virDomainGetXMLDesc")
    ret.string(str(_guarded(lambda: session.core.xml(veid, inactive=bool(flags & XML_INACTIVE)))))


@procedure(Proc.DOMAIN_GET_MEMORY_PARAMETERS)
async def get_memory_parameters(session: Session, args: Unpacker, ret: Packer) -> None:
    """dom, int nparams, unsigned flags -> remote_typed_param params<>, int nparams.
    nparams 0 asks how many there are."""
    veid = session.resolve(DomainKey.unpack(args))
    nparams = args.i32()
    _flags(args, MODIFY_LIVE | MODIFY_CONFIG, "virDomainGetMemoryParameters")
    params = session.core.memory_parameters(veid)
    values = [
        ("hard_limit", params.hard_limit_kib),
        ("soft_limit", params.soft_limit_kib),
        ("swap_hard_limit", params.swap_hard_limit_kib),
        ("min_guarantee", params.min_guarantee_kib),
    ]
    if nparams == 0:
        ret.u32(0)
        ret.i32(len(values))
        return
    chosen = values[: max(nparams, 0)]
    ret.u32(len(chosen))
    for name, kib in chosen:
        ret.string(name)
        ret.i32(TYPED_PARAM_ULLONG)
        ret.u64(kib or MEMORY_UNLIMITED)
    ret.i32(len(chosen))


# -- changes -------------------------------------------------------------------------


def _key_after(session: Session, veid: int) -> DomainKey:
    return DomainKey.of(session.core.domain(veid))


async def _define(session: Session, xml: str, operation: type[ops.Define]) -> DomainKey:
    veid = await session.change(operation(veid=0, xml=xml))
    return _key_after(session, veid)


@procedure(Proc.DOMAIN_DEFINE_XML, mutating=True)
async def define_xml(session: Session, args: Unpacker, ret: Packer) -> None:
    """remote_nonnull_string xml -> dom"""
    (await _define(session, args.string(XML_MAX), ops.Define)).pack(ret)


@procedure(Proc.DOMAIN_DEFINE_XML_FLAGS, mutating=True)
async def define_xml_flags(session: Session, args: Unpacker, ret: Packer) -> None:
    """xml, unsigned flags (VALIDATE: the core always validates) -> dom"""
    xml = args.string(XML_MAX)
    _flags(args, 1, "virDomainDefineXMLFlags")
    (await _define(session, xml, ops.Define)).pack(ret)


@procedure(Proc.DOMAIN_CREATE_XML, mutating=True)
async def create_xml(session: Session, args: Unpacker, ret: Packer) -> None:
    """xml, unsigned flags -> dom. The container stays defined afterwards: OpenVZ has
    no transient containers, as with libvirt's own driver."""
    xml = args.string(XML_MAX)
    _no_flags(args, "virDomainCreateXML")
    (await _define(session, xml, ops.Create)).pack(ret)


async def _act(session: Session, key: DomainKey, operation: type[ops.Operation]) -> int:
    veid = session.resolve(key)
    return await session.change(operation(veid=veid))


@procedure(Proc.DOMAIN_CREATE, mutating=True)
async def create(session: Session, args: Unpacker, ret: Packer) -> None:
    await _act(session, DomainKey.unpack(args), ops.Start)


@procedure(Proc.DOMAIN_CREATE_WITH_FLAGS, mutating=True)
async def create_with_flags(session: Session, args: Unpacker, ret: Packer) -> None:
    """dom, unsigned flags -> dom (with its new id). START_PAUSED (1) starts and then
    freezes the container, two jobs in a row on its lane."""
    key = DomainKey.unpack(args)
    flags = _flags(args, 1, "virDomainCreateWithFlags")
    veid = await _act(session, key, ops.Start)
    if flags & 1:
        await session.change(ops.Suspend(veid=veid))
    _key_after(session, veid).pack(ret)


@procedure(Proc.DOMAIN_SHUTDOWN, mutating=True)
async def shutdown(session: Session, args: Unpacker, ret: Packer) -> None:
    await _act(session, DomainKey.unpack(args), ops.Shutdown)


@procedure(Proc.DOMAIN_SHUTDOWN_FLAGS, mutating=True)
async def shutdown_flags(session: Session, args: Unpacker, ret: Packer) -> None:
    key = DomainKey.unpack(args)
    _no_flags(args, "virDomainShutdownFlags")
    await _act(session, key, ops.Shutdown)


@procedure(Proc.DOMAIN_DESTROY, mutating=True)
async def destroy(session: Session, args: Unpacker, ret: Packer) -> None:
    await _act(session, DomainKey.unpack(args), ops.Destroy)


@procedure(Proc.DOMAIN_DESTROY_FLAGS, mutating=True)
async def destroy_flags(session: Session, args: Unpacker, ret: Packer) -> None:
    key = DomainKey.unpack(args)
    _flags(args, 1, "virDomainDestroyFlags")  # GRACEFUL: vzctl stop --fast either way
    await _act(session, key, ops.Destroy)


@procedure(Proc.DOMAIN_REBOOT, mutating=True)
async def reboot(session: Session, args: Unpacker, ret: Packer) -> None:
    key = DomainKey.unpack(args)
    _no_flags(args, "virDomainReboot")
    await _act(session, key, ops.Reboot)


@procedure(Proc.DOMAIN_SUSPEND, mutating=True)
async def suspend(session: Session, args: Unpacker, ret: Packer) -> None:
    await _act(session, DomainKey.unpack(args), ops.Suspend)


@procedure(Proc.DOMAIN_RESUME, mutating=True)
async def resume(session: Session, args: Unpacker, ret: Packer) -> None:
    await _act(session, DomainKey.unpack(args), ops.Resume)


@procedure(Proc.DOMAIN_UNDEFINE, mutating=True)
async def undefine(session: Session, args: Unpacker, ret: Packer) -> None:
    await _act(session, DomainKey.unpack(args), ops.Undefine)


@procedure(Proc.DOMAIN_UNDEFINE_FLAGS, mutating=True)
async def undefine_flags(session: Session, args: Unpacker, ret: Packer) -> None:
    key = DomainKey.unpack(args)
    _flags(args, UNDEFINE_KNOWN_FLAGS, "virDomainUndefineFlags")
    await _act(session, key, ops.Undefine)


@procedure(Proc.DOMAIN_SET_AUTOSTART, mutating=True)
async def set_autostart(session: Session, args: Unpacker, ret: Packer) -> None:
    """dom, int autostart -> void"""
    veid = session.resolve(DomainKey.unpack(args))
    await session.change(ops.SetAutostart(veid=veid, autostart=args.i32() != 0))


async def _set_vcpus(session: Session, key: DomainKey, count: int, flags: int) -> None:
    veid = session.resolve(key)
    if flags & VCPU_MAXIMUM:
        raise LibvirtError(
            ErrorCode.INVALID_ARG,
            "a container's maximum is every host CPU; set the count without --maximum",
        )
    await session.change(ops.SetVcpus(veid=veid, vcpus=count))


@procedure(Proc.DOMAIN_SET_VCPUS, mutating=True)
async def set_vcpus(session: Session, args: Unpacker, ret: Packer) -> None:
    key = DomainKey.unpack(args)
    await _set_vcpus(session, key, args.u32(), 0)


@procedure(Proc.DOMAIN_SET_VCPUS_FLAGS, mutating=True)
async def set_vcpus_flags(session: Session, args: Unpacker, ret: Packer) -> None:
    """dom, unsigned nvcpus, unsigned flags -> void"""
    key = DomainKey.unpack(args)
    count = args.u32()
    flags = _flags(args, MODIFY_LIVE | MODIFY_CONFIG | VCPU_MAXIMUM, "virDomainSetVcpusFlags")
    await _set_vcpus(session, key, count, flags)


async def _set_memory(session: Session, key: DomainKey, kib: int, flags: int) -> None:
    veid = session.resolve(key)
    if kib < 1024:
        raise LibvirtError(ErrorCode.INVALID_ARG, f"memory must be at least 1024 KiB, not {kib}")
    # A container's memory and its maximum are one limit (libvirt's <memory>).
    del flags
    await session.change(ops.SetMemory(veid=veid, memory_kib=kib))


@procedure(Proc.DOMAIN_SET_MEMORY, mutating=True)
async def set_memory(session: Session, args: Unpacker, ret: Packer) -> None:
    key = DomainKey.unpack(args)
    await _set_memory(session, key, args.u64(), 0)


@procedure(Proc.DOMAIN_SET_MAX_MEMORY, mutating=True)
async def set_max_memory(session: Session, args: Unpacker, ret: Packer) -> None:
    key = DomainKey.unpack(args)
    await _set_memory(session, key, args.u64(), MEM_MAXIMUM)


@procedure(Proc.DOMAIN_SET_MEMORY_FLAGS, mutating=True)
async def set_memory_flags(session: Session, args: Unpacker, ret: Packer) -> None:
    """dom, unsigned hyper memory (KiB), unsigned flags -> void"""
    key = DomainKey.unpack(args)
    kib = args.u64()
    flags = _flags(args, MODIFY_LIVE | MODIFY_CONFIG | MEM_MAXIMUM, "virDomainSetMemoryFlags")
    await _set_memory(session, key, kib, flags)


@procedure(Proc.DOMAIN_SET_MEMORY_PARAMETERS, mutating=True)
async def set_memory_parameters(session: Session, args: Unpacker, ret: Packer) -> None:
    """dom, remote_typed_param params<>, unsigned flags -> void (virsh memtune)."""
    veid = session.resolve(DomainKey.unpack(args))
    given: dict[str, int | None] = {}

    def one() -> None:
        name = args.string(TYPED_PARAM_FIELD_MAX)
        kind = args.i32()
        if kind != TYPED_PARAM_ULLONG:
            raise LibvirtError(ErrorCode.INVALID_ARG, f"memory parameter {name} must be a ullong")
        value = args.u64()
        if name not in ("hard_limit", "soft_limit", "swap_hard_limit", "min_guarantee"):
            raise LibvirtError(ErrorCode.INVALID_ARG, f"unknown memory parameter {name!r}")
        given[name] = 0 if value >= MEMORY_UNLIMITED else value

    args.array(one, MEMORY_PARAM_MAX)
    _flags(args, MODIFY_LIVE | MODIFY_CONFIG, "virDomainSetMemoryParameters")
    if not given:
        raise LibvirtError(ErrorCode.INVALID_ARG, "give at least one memory parameter")
    await session.change(
        ops.SetMemoryParameters(
            veid=veid,
            hard_limit_kib=given.get("hard_limit"),
            soft_limit_kib=given.get("soft_limit"),
            swap_hard_limit_kib=given.get("swap_hard_limit"),
            min_guarantee_kib=given.get("min_guarantee"),
        )
    )


# -- events --------------------------------------------------------------------------


def _register(session: Session, event_id: int, only: bytes | None, legacy: bool) -> int:
    if event_id != EVENT_ID_LIFECYCLE:
        raise not_supported(f"event {event_id}")
    callback_id = session.next_callback_id
    session.next_callback_id += 1
    session.registrations[callback_id] = Registration(callback_id, event_id, only, legacy)
    return callback_id


@procedure(Proc.CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY)
async def callback_register_any(session: Session, args: Unpacker, ret: Packer) -> None:
    """int eventID, remote_domain dom (optional) -> int callbackID"""
    event_id = args.i32()
    key = args.optional(lambda: DomainKey.unpack(args))
    if key is not None:
        session.resolve(key)
    ret.i32(_register(session, event_id, key.uuid if key else None, legacy=False))


@procedure(Proc.CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY)
async def callback_deregister_any(session: Session, args: Unpacker, ret: Packer) -> None:
    callback_id = args.i32()
    if session.registrations.pop(callback_id, None) is None:
        raise LibvirtError(ErrorCode.INVALID_ARG, f"no event callback {callback_id} to remove")


def _legacy_ids(session: Session) -> list[int]:
    return [r.callback_id for r in session.registrations.values() if r.legacy]


@procedure(Proc.CONNECT_DOMAIN_EVENT_REGISTER)
async def event_register(session: Session, args: Unpacker, ret: Packer) -> None:
    """void -> int cb_registered: the oldest lifecycle registration."""
    if not _legacy_ids(session):
        _register(session, EVENT_ID_LIFECYCLE, None, legacy=True)
    ret.i32(1)


@procedure(Proc.CONNECT_DOMAIN_EVENT_DEREGISTER)
async def event_deregister(session: Session, args: Unpacker, ret: Packer) -> None:
    for callback_id in _legacy_ids(session):
        del session.registrations[callback_id]
    ret.i32(0)


@procedure(Proc.CONNECT_DOMAIN_EVENT_REGISTER_ANY)
async def event_register_any(session: Session, args: Unpacker, ret: Packer) -> None:
    """int eventID -> void: what a client uses when feature 14 is answered 0."""
    event_id = args.i32()
    if not _legacy_ids(session):
        _register(session, event_id, None, legacy=True)
    elif event_id != EVENT_ID_LIFECYCLE:
        raise not_supported(f"event {event_id}")


@procedure(Proc.CONNECT_DOMAIN_EVENT_DEREGISTER_ANY)
async def event_deregister_any(session: Session, args: Unpacker, ret: Packer) -> None:
    args.i32()
    for callback_id in _legacy_ids(session):
        del session.registrations[callback_id]
