"""Operations: what a job is asked to do, as intent rather than argv.

Each operation is a small frozen dataclass with its parameters, after Ganeti's
opcodes. A front-end builds one from its request (decoding and checking the
values' grammar); the core journals it as `name` plus `params()`, and its
executor plans vzctl's arguments only when the job reaches the front of its
container's lane, against the container as it is then. So two queued changes
compose: each applies to the result of the one before.

`veid` is the lane: 0 (HOST_LANE) for host-wide work, such as a define that
picks the next free ID.

A job is named by `job_name` (NAME, or for a device operation the verb and the
device's kind: attach-interface, detach-ip, update-filesystem), in the API and
the journal; `from_record` rebuilds the operation from that name and params().
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar

from openvzd.core.secret import MARKER, Secret


@dataclass(frozen=True, slots=True)
class Operation:
    NAME: ClassVar[str] = ""
    # Whether a submit identical to the job last in line may return that job.
    MERGEABLE: ClassVar[bool] = True
    veid: int

    def params(self) -> dict[str, Any]:
        """The journaled form: every field but veid; a Secret becomes the marker."""
        return {
            f.name: MARKER if isinstance(value, Secret) else value
            for f in dataclasses.fields(self)
            if f.name != "veid"
            for value in [getattr(self, f.name)]
        }

    @property
    def holds_secret(self) -> bool:
        return any(isinstance(getattr(self, f.name), Secret) for f in dataclasses.fields(self))

    @property
    def job_name(self) -> str:
        return self.NAME

    @property
    def secrets(self) -> tuple[Secret, ...]:
        return tuple(
            value
            for f in dataclasses.fields(self)
            if isinstance(value := getattr(self, f.name), Secret)
        )


@dataclass(frozen=True, slots=True)
class Define(Operation):
    NAME: ClassVar[str] = "define"
    xml: str = ""
    # No <name>: the job runs on the host lane and picks the next free ID.
    pick_veid: bool = False


@dataclass(frozen=True, slots=True)
class Create(Define):
    NAME: ClassVar[str] = "create"


@dataclass(frozen=True, slots=True)
class Undefine(Operation):
    NAME: ClassVar[str] = "undefine"
    keep_storage: bool = False


@dataclass(frozen=True, slots=True)
class Start(Operation):
    NAME: ClassVar[str] = "start"


@dataclass(frozen=True, slots=True)
class Shutdown(Operation):
    NAME: ClassVar[str] = "shutdown"
    # 0: the host's STOP_TIMEOUT; otherwise past it the container is killed.
    timeout_seconds: int = 0


@dataclass(frozen=True, slots=True)
class Destroy(Operation):
    NAME: ClassVar[str] = "destroy"


@dataclass(frozen=True, slots=True)
class Reboot(Operation):
    NAME: ClassVar[str] = "reboot"


@dataclass(frozen=True, slots=True)
class Suspend(Operation):
    NAME: ClassVar[str] = "suspend"


@dataclass(frozen=True, slots=True)
class Resume(Operation):
    NAME: ClassVar[str] = "resume"


@dataclass(frozen=True, slots=True)
class SetAutostart(Operation):
    NAME: ClassVar[str] = "set-autostart"
    MERGEABLE: ClassVar[bool] = False
    autostart: bool = False


@dataclass(frozen=True, slots=True)
class SetVcpus(Operation):
    NAME: ClassVar[str] = "set-vcpus"
    MERGEABLE: ClassVar[bool] = False
    vcpus: int = 1


@dataclass(frozen=True, slots=True)
class SetMemory(Operation):
    """The memory hard limit (libvirt's <memory>, virsh setmem)."""

    NAME: ClassVar[str] = "set-memory"
    MERGEABLE: ClassVar[bool] = False
    memory_kib: int = 0


@dataclass(frozen=True, slots=True)
class SetMemoryParameters(Operation):
    """virsh memtune: only the parameters given (not None) change."""

    NAME: ClassVar[str] = "set-memory-parameters"
    MERGEABLE: ClassVar[bool] = False
    hard_limit_kib: int | None = None
    soft_limit_kib: int | None = None
    swap_hard_limit_kib: int | None = None
    min_guarantee_kib: int | None = None


@dataclass(frozen=True, slots=True)
class SetHostname(Operation):
    NAME: ClassVar[str] = "set-hostname"
    MERGEABLE: ClassVar[bool] = False
    hostname: str = ""


@dataclass(frozen=True, slots=True)
class SetNameservers(Operation):
    NAME: ClassVar[str] = "set-nameservers"
    MERGEABLE: ClassVar[bool] = False
    nameservers: tuple[str, ...] = ()
    search_domains: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SetUserPassword(Operation):
    NAME: ClassVar[str] = "set-user-password"
    MERGEABLE: ClassVar[bool] = False
    user: str = ""
    password: Secret = field(default_factory=lambda: Secret(""))


@dataclass(frozen=True, slots=True)
class AttachDevice(Operation):
    """A device given as libvirt device XML, checked at submit and planned at
    run time; the job is named by what the XML attaches (attach-interface,
    attach-ip, attach-filesystem), see `name`."""

    NAME: ClassVar[str] = "attach-device"
    VERB: ClassVar[str] = "attach"
    MERGEABLE: ClassVar[bool] = False
    device_xml: str = ""
    # "interface" (a veth on a bridge), "ip" (venet addresses), "filesystem" (the
    # root's limits): the job is attach-<kind>. Set by the core's submit from the XML.
    kind: str = ""

    @property
    def job_name(self) -> str:
        return f"{self.VERB}-{self.kind}" if self.kind else self.NAME


@dataclass(frozen=True, slots=True)
class DetachDevice(AttachDevice):
    NAME: ClassVar[str] = "detach-device"
    VERB: ClassVar[str] = "detach"


@dataclass(frozen=True, slots=True)
class UpdateDevice(AttachDevice):
    NAME: ClassVar[str] = "update-device"
    VERB: ClassVar[str] = "update"


@dataclass(frozen=True, slots=True)
class Migrate(Operation):
    NAME: ClassVar[str] = "migrate"
    destination: str = ""
    online: bool = False
    keep_source: bool = False


DEVICE_KINDS = ("interface", "ip", "filesystem")
_TUPLE_FIELDS = frozenset({"nameservers", "search_domains"})


# Listed rather than found through __subclasses__(): dataclass(slots=True)
# replaces each class, and the replaced one lingers among the subclasses.
ALL_OPERATIONS: tuple[type[Operation], ...] = (
    Define,
    Create,
    Undefine,
    Start,
    Shutdown,
    Destroy,
    Reboot,
    Suspend,
    Resume,
    SetAutostart,
    SetVcpus,
    SetMemory,
    SetMemoryParameters,
    SetHostname,
    SetNameservers,
    SetUserPassword,
    AttachDevice,
    DetachDevice,
    UpdateDevice,
    Migrate,
)


def _by_job_name() -> dict[str, type[Operation]]:
    found: dict[str, type[Operation]] = {}
    for cls in ALL_OPERATIONS:
        found[cls.NAME] = cls
        if issubclass(cls, AttachDevice):
            for kind in DEVICE_KINDS:
                found[f"{cls.VERB}-{kind}"] = cls
    return found


_BY_JOB_NAME = _by_job_name()


class NotReplayable(ValueError):
    """A journaled job that cannot be rebuilt: its secret was never stored, or its
    name is no operation of this openvzd."""


def from_record(name: str, veid: int, params: dict[str, Any]) -> Operation:
    """The operation a journaled job (job_name, veid, params()) was submitted as."""
    cls = _BY_JOB_NAME.get(name)
    if cls is None:
        raise NotReplayable(
            f"{name!r} is no operation of this openvzd (a job journaled by an older version "
            "as vzctl arguments); submit the change again"
        )
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    for key, value in params.items():
        if key not in fields:
            raise NotReplayable(f"{name} has no parameter {key!r}; submit the change again")
        if value == MARKER and fields[key].type in ("Secret", Secret):
            raise NotReplayable(
                f"its {key} was never stored (a secret is kept in memory only); submit it again"
            )
        values[key] = tuple(value) if key in _TUPLE_FIELDS else value
    return cls(veid=veid, **values)
