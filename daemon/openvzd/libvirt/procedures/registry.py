"""The procedure table and what every procedure module shares: flag checks,
libvirt's constants, the domain state in libvirt's numbers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from openvzd.core.facade import DomainView
from openvzd.libvirt.errors import LibvirtError, OpenvzError, from_kind
from openvzd.libvirt.numbers import (
    REASON_BY_STATE_AND_WORD,
    STATE_BY_WORD,
    DomainState,
    ErrorCode,
    Feature,
    Proc,
)
from openvzd.libvirt.session import Session
from openvzd.libvirt.xdr import Packer, Unpacker

if TYPE_CHECKING:
    from openvzd.libvirt.streams import ConsoleStream

# A handler that opens a stream returns it; the server starts it after the reply.
Handler = Callable[[Session, Unpacker, Packer], Awaitable["ConsoleStream | None"]]

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


def flags_of(args: Unpacker, known: int, what: str) -> int:
    flags = args.u32()
    if flags & ~known:
        raise LibvirtError(
            ErrorCode.INVALID_ARG, f"{what}: unsupported flags (0x{flags & ~known:x})"
        )
    return flags


def no_flags(args: Unpacker, what: str) -> None:
    flags_of(args, 0, what)


def state_of(view: DomainView) -> tuple[int, int]:
    state = STATE_BY_WORD.get(view.state, DomainState.NOSTATE)
    return state, REASON_BY_STATE_AND_WORD.get((state, view.state_reason), 0)


def guarded(call: Callable[[], object]) -> object:
    try:
        return call()
    except OpenvzError as err:
        raise from_kind(err.kind, err.message) from None


# virTypedParameterType: the value's XDR form follows its type number.
TYPED_INT, TYPED_UINT, TYPED_LLONG, TYPED_ULLONG, TYPED_DOUBLE, TYPED_BOOLEAN, TYPED_STRING = range(
    1, 8
)
TypedParam = tuple[str, int, int | float | str]


def pack_typed_params(ret: Packer, params: list[TypedParam]) -> None:
    """remote_typed_param params<>: {string field, int type, the value by type}."""
    ret.u32(len(params))
    for name, kind, value in params:
        ret.string(name)
        ret.i32(kind)
        if kind in (TYPED_INT, TYPED_BOOLEAN):
            ret.i32(int(value))
        elif kind == TYPED_UINT:
            ret.u32(int(value))
        elif kind == TYPED_LLONG:
            ret.i64(int(value))
        elif kind == TYPED_ULLONG:
            ret.u64(int(value))
        elif kind == TYPED_DOUBLE:
            ret.f64(float(value))
        else:
            ret.string(str(value))
