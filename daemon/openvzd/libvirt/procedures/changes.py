"""Domain changes (each an Operation submitted to the core and waited for) and
event registrations."""

from __future__ import annotations

from openvzd.core import ops
from openvzd.libvirt.errors import LibvirtError, not_supported
from openvzd.libvirt.numbers import (
    ErrorCode,
    Proc,
)
from openvzd.libvirt.procedures.registry import (
    EVENT_ID_LIFECYCLE,
    MEM_MAXIMUM,
    MEMORY_PARAM_MAX,
    MEMORY_UNLIMITED,
    MODIFY_CONFIG,
    MODIFY_LIVE,
    TYPED_PARAM_FIELD_MAX,
    TYPED_PARAM_ULLONG,
    UNDEFINE_KNOWN_FLAGS,
    VCPU_MAXIMUM,
    XML_MAX,
    flags_of,
    no_flags,
    procedure,
)
from openvzd.libvirt.session import DomainKey, Registration, Session
from openvzd.libvirt.xdr import Packer, Unpacker

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
    flags_of(args, 1, "virDomainDefineXMLFlags")
    (await _define(session, xml, ops.Define)).pack(ret)


@procedure(Proc.DOMAIN_CREATE_XML, mutating=True)
async def create_xml(session: Session, args: Unpacker, ret: Packer) -> None:
    """xml, unsigned flags -> dom. The container stays defined afterwards: OpenVZ has
    no transient containers, as with libvirt's own driver."""
    xml = args.string(XML_MAX)
    no_flags(args, "virDomainCreateXML")
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
    flags = flags_of(args, 1, "virDomainCreateWithFlags")
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
    no_flags(args, "virDomainShutdownFlags")
    await _act(session, key, ops.Shutdown)


@procedure(Proc.DOMAIN_DESTROY, mutating=True)
async def destroy(session: Session, args: Unpacker, ret: Packer) -> None:
    await _act(session, DomainKey.unpack(args), ops.Destroy)


@procedure(Proc.DOMAIN_DESTROY_FLAGS, mutating=True)
async def destroy_flags(session: Session, args: Unpacker, ret: Packer) -> None:
    key = DomainKey.unpack(args)
    flags_of(args, 1, "virDomainDestroyFlags")  # GRACEFUL: vzctl stop --fast either way
    await _act(session, key, ops.Destroy)


@procedure(Proc.DOMAIN_REBOOT, mutating=True)
async def reboot(session: Session, args: Unpacker, ret: Packer) -> None:
    key = DomainKey.unpack(args)
    no_flags(args, "virDomainReboot")
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
    flags_of(args, UNDEFINE_KNOWN_FLAGS, "virDomainUndefineFlags")
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
    flags = flags_of(args, MODIFY_LIVE | MODIFY_CONFIG | VCPU_MAXIMUM, "virDomainSetVcpusFlags")
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
    flags = flags_of(args, MODIFY_LIVE | MODIFY_CONFIG | MEM_MAXIMUM, "virDomainSetMemoryFlags")
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
    flags_of(args, MODIFY_LIVE | MODIFY_CONFIG, "virDomainSetMemoryParameters")
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
