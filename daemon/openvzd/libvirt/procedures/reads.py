"""Domain lists, lookups and reads: answered from the core's queries, never queued."""

from __future__ import annotations

import uuid

from openvzd.core.facade import DomainRef, DomainStats, DomainView, ListFilter
from openvzd.libvirt.errors import LibvirtError, OpenvzError
from openvzd.libvirt.numbers import (
    DOMAIN_LIST_MAX,
    DomainState,
    ErrorCode,
    Proc,
)
from openvzd.libvirt.procedures.registry import (
    LIST_ACTIVE,
    LIST_AUTOSTART,
    LIST_HAS_CHECKPOINT,
    LIST_HAS_SNAPSHOT,
    LIST_INACTIVE,
    LIST_KNOWN_FLAGS,
    LIST_MANAGEDSAVE,
    LIST_NO_AUTOSTART,
    LIST_NO_CHECKPOINT,
    LIST_NO_MANAGEDSAVE,
    LIST_NO_SNAPSHOT,
    LIST_OTHER,
    LIST_PAUSED,
    LIST_PERSISTENT,
    LIST_RUNNING,
    LIST_SHUTOFF,
    LIST_TRANSIENT,
    MEMORY_UNLIMITED,
    MODIFY_CONFIG,
    MODIFY_LIVE,
    TYPED_INT,
    TYPED_PARAM_ULLONG,
    TYPED_STRING,
    TYPED_UINT,
    TYPED_ULLONG,
    VCPU_MAXIMUM,
    XML_INACTIVE,
    TypedParam,
    flags_of,
    guarded,
    no_flags,
    pack_typed_params,
    procedure,
    state_of,
)
from openvzd.libvirt.session import NAME_MAX, DomainKey, Session
from openvzd.libvirt.xdr import Packer, Unpacker

# -- lists -------------------------------------------------------------------------


def _matches(view: DomainView, flags: int) -> bool:
    active = view.id != -1
    state, _ = state_of(view)
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
    flags = flags_of(args, LIST_KNOWN_FLAGS, "virConnectListAllDomains")
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
    except OpenvzError:
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
    except OpenvzError:
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
    no_flags(args, "virDomainGetState")
    state, reason = state_of(session.view(key))
    ret.i32(state)
    ret.i32(reason)


@procedure(Proc.DOMAIN_GET_INFO)
async def get_info(session: Session, args: Unpacker, ret: Packer) -> None:
    """dom -> unsigned char state, unsigned hyper maxMem, memory (KiB),
    unsigned short nrVirtCpu, unsigned hyper cpuTime (ns); char and short take 4 bytes."""
    veid = session.resolve(DomainKey.unpack(args))
    info = session.core.info(veid)
    ret.u32(state_of(info.domain)[0])
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
    flags = flags_of(args, MODIFY_LIVE | MODIFY_CONFIG | VCPU_MAXIMUM, "virDomainGetVcpusFlags")
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
    no_flags(args, "virDomainHasManagedSaveImage")
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
    flags = flags_of(args, 1 | XML_INACTIVE | 4 | 8, "virDomainGetXMLDesc")
    ret.string(str(guarded(lambda: session.core.xml(veid, inactive=bool(flags & XML_INACTIVE)))))


@procedure(Proc.DOMAIN_GET_MEMORY_PARAMETERS)
async def get_memory_parameters(session: Session, args: Unpacker, ret: Packer) -> None:
    """dom, int nparams, unsigned flags -> remote_typed_param params<>, int nparams.
    nparams 0 asks how many there are."""
    veid = session.resolve(DomainKey.unpack(args))
    nparams = args.i32()
    flags_of(args, MODIFY_LIVE | MODIFY_CONFIG, "virDomainGetMemoryParameters")
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


# -- statistics ---------------------------------------------------------------------

STATS_STATE, STATS_CPU, STATS_BALLOON, STATS_VCPU, STATS_INTERFACE = 1, 2, 4, 8, 16
STATS_SERVED = STATS_STATE | STATS_CPU | STATS_BALLOON | STATS_VCPU | STATS_INTERFACE
STATS_ENFORCE = 1 << 31
STATS_KNOWN_FLAGS = (
    LIST_ACTIVE
    | LIST_INACTIVE
    | LIST_PERSISTENT
    | LIST_TRANSIENT
    | LIST_RUNNING
    | LIST_PAUSED
    | LIST_SHUTOFF
    | LIST_OTHER
    | 1 << 29
    | 1 << 30
    | STATS_ENFORCE
)
STATS_LIST_FLAGS = 0xFF
# virDomainMemoryStatTags, of what a container has.
MEMORY_STAT_AVAILABLE, MEMORY_STAT_ACTUAL_BALLOON, MEMORY_STAT_RSS = 5, 6, 7
MEMORY_STATS_MAX = 1024


def _stats_params(stats: DomainStats, vcpus: int, groups: int) -> list[TypedParam]:
    params: list[TypedParam] = []
    if groups & STATS_STATE:
        state, reason = state_of(stats.domain)
        params += [("state.state", TYPED_INT, state), ("state.reason", TYPED_INT, reason)]
    if groups & STATS_CPU:
        params += [
            ("cpu.time", TYPED_ULLONG, stats.cpu_time_ns),
            ("cpu.user", TYPED_ULLONG, stats.cpu_user_ns),
            ("cpu.system", TYPED_ULLONG, stats.cpu_system_ns),
        ]
    if groups & STATS_BALLOON:
        params += [
            ("balloon.current", TYPED_ULLONG, stats.memory_limit_kib),
            ("balloon.maximum", TYPED_ULLONG, stats.memory_limit_kib),
            ("balloon.rss", TYPED_ULLONG, stats.memory_used_kib),
        ]
    if groups & STATS_VCPU:
        params += [("vcpu.current", TYPED_UINT, vcpus), ("vcpu.maximum", TYPED_UINT, vcpus)]
    if groups & STATS_INTERFACE:
        params.append(("net.count", TYPED_UINT, len(stats.interfaces)))
        for number, interface in enumerate(stats.interfaces):
            params.append((f"net.{number}.name", TYPED_STRING, interface.device))
            for direction, counters in (("rx", interface.rx), ("tx", interface.tx)):
                for what, value in zip(("bytes", "pkts", "errs", "drop"), counters, strict=True):
                    params.append((f"net.{number}.{direction}.{what}", TYPED_ULLONG, value))
    return params


@procedure(Proc.CONNECT_GET_ALL_DOMAIN_STATS)
async def get_all_domain_stats(session: Session, args: Unpacker, ret: Packer) -> None:
    """remote_nonnull_domain doms<>, unsigned stats, unsigned flags ->
    remote_domain_stats_record retStats<> (virsh domstats; virt-manager polls it)."""
    keys = args.array(lambda: DomainKey.unpack(args), DOMAIN_LIST_MAX)
    groups = args.u32()
    flags = flags_of(args, STATS_KNOWN_FLAGS, "virConnectGetAllDomainStats")
    if groups & ~STATS_SERVED and flags & STATS_ENFORCE:
        raise LibvirtError(
            ErrorCode.NO_SUPPORT,
            f"statistics 0x{groups & ~STATS_SERVED:x} are not kept for containers",
        )
    groups = groups & STATS_SERVED or STATS_SERVED
    if keys:
        veids = [session.resolve(key) for key in keys]
    else:
        listed = session.core.list_domains()
        veids = [v.veid for v in listed if _matches(v, flags & STATS_LIST_FLAGS)]
    records = session.core.stats(veids) if veids else []
    ret.u32(len(records))
    for stats in records:
        DomainKey.of(stats.domain).pack(ret)
        vcpus = session.core.info(stats.domain.veid).vcpus if groups & STATS_VCPU else 0
        pack_typed_params(ret, _stats_params(stats, vcpus, groups))


@procedure(Proc.DOMAIN_MEMORY_STATS)
async def memory_stats(session: Session, args: Unpacker, ret: Packer) -> None:
    """dom, unsigned maxStats, unsigned flags -> remote_domain_memory_stat stats<>
    ({int tag, unsigned hyper val}, KiB) (virsh dommemstat)."""
    veid = session.resolve(DomainKey.unpack(args))
    most = args.u32()
    no_flags(args, "virDomainMemoryStats")
    if most > MEMORY_STATS_MAX:
        raise LibvirtError(ErrorCode.RPC, f"maxStats must be at most {MEMORY_STATS_MAX}")
    (stats,) = session.core.stats([veid])
    values = [
        (MEMORY_STAT_ACTUAL_BALLOON, stats.memory_limit_kib),
        (MEMORY_STAT_AVAILABLE, stats.memory_limit_kib),
        (MEMORY_STAT_RSS, stats.memory_used_kib),
    ][:most]
    ret.u32(len(values))
    for tag, kib in values:
        ret.i32(tag)
        ret.u64(kib)


@procedure(Proc.DOMAIN_INTERFACE_STATS)
async def interface_stats(session: Session, args: Unpacker, ret: Packer) -> None:
    """dom, remote_nonnull_string device -> rx bytes, packets, errs, drop, tx the same
    (hyper each), as the guest counts them (virsh domifstat DOMAIN vethCTID.N)."""
    veid = session.resolve(DomainKey.unpack(args))
    device = args.string(NAME_MAX)
    (stats,) = session.core.stats([veid])
    for interface in stats.interfaces:
        if interface.device == device:
            for value in (*interface.rx, *interface.tx):
                ret.i64(value)
            return
    raise LibvirtError(
        ErrorCode.INVALID_ARG,
        f"invalid path, '{device}' is not a known interface of a running container {veid}",
    )
