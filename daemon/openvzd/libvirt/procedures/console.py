"""virDomainOpenConsole: the container's console as a libvirt stream (see streams.py)."""

from __future__ import annotations

from openvzd.libvirt.errors import LibvirtError
from openvzd.libvirt.numbers import ErrorCode, Proc
from openvzd.libvirt.procedures.registry import flags_of, procedure
from openvzd.libvirt.session import NAME_MAX, DomainKey, Session
from openvzd.libvirt.streams import ConsoleStream
from openvzd.libvirt.xdr import Packer, Unpacker

CONSOLE_FORCE = 1
# "Only a console that takes one client at a time": openvzd's always does.
CONSOLE_SAFE = 2
# libvirt's name for a domain's first console; a container has that one.
CONSOLE_DEVICE = "console0"


@procedure(Proc.DOMAIN_OPEN_CONSOLE, mutating=True)
async def open_console(session: Session, args: Unpacker, ret: Packer) -> ConsoleStream:
    """dom, remote_string dev_name, unsigned flags -> void, then the stream. A console
    in use is refused with RESOURCE_BUSY unless FORCE takes it over."""
    key = DomainKey.unpack(args)
    device = args.optional(lambda: args.string(NAME_MAX))
    flags = flags_of(args, CONSOLE_FORCE | CONSOLE_SAFE, "virDomainOpenConsole")
    if device not in (None, CONSOLE_DEVICE):
        raise LibvirtError(
            ErrorCode.INVALID_ARG,
            f"a container has one console, {CONSOLE_DEVICE}; there is no device {device!r}",
        )
    veid = session.resolve(key)
    console = await session.core.console_session(
        veid, session.caller, force=bool(flags & CONSOLE_FORCE)
    )
    return ConsoleStream(console, session.send, session.drain)
