"""The one facade every front-end calls (gRPC in api/, libvirt's protocol in
libvirt/): the queries, one submit for every operation, the jobs and the events.

This Protocol is the contract between the core and its front-ends; `Core`
(core/service.py) implements it and mypy checks that it does. A front-end
decodes its request, authorizes it (access level from its socket or identity),
builds a Caller and, for a change, an Operation (core/ops.py), calls the core,
and encodes the answer. It knows nothing of vzctl, config files or the journal.

Every failure is an OpenvzError (its kind is one of common.proto's ErrorKind
names) raised from these methods; each front-end maps kinds to its own wire
errors in one place.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from openvzd.core.caller import Caller
from openvzd.core.ops import Operation
from openvzd.events import Event
from openvzd.jobs import Job, JobState

# Re-exported: front-ends type against them without importing vz/.
from openvzd.vz.proc import BeanCounter as BeanCounter
from openvzd.vz.proc import NodeInfo as NodeInfo


@dataclass(frozen=True, slots=True)
class DomainRef:
    """A container by exactly one of its identities (id, libvirt name = the
    CTID in decimal or the OpenVZ NAME, or UUID)."""

    id: int | None = None
    name: str | None = None
    uuid: str | None = None


@dataclass(frozen=True, slots=True)
class DomainView:
    veid: int
    # -1 when not active, as libvirt's virDomainGetID.
    id: int
    name: str
    uuid: str
    vz_name: str
    # running, paused, stopped, mounted, suspended
    state: str
    # libvirt's reason word for the state: booted, unpaused, user, shutdown, destroyed, saved, ...
    state_reason: str
    autostart: bool
    persistent: bool
    hostname: str = ""
    title: str = ""
    ip_addresses: tuple[str, ...] = ()
    ostemplate: str = ""


@dataclass(frozen=True, slots=True)
class DomainInfo:
    domain: DomainView
    max_memory_kib: int
    memory_kib: int
    vcpus: int
    cpu_time_ns: int
    os_type: str
    has_managed_save: bool


@dataclass(frozen=True, slots=True)
class InterfaceStats:
    device: str
    rx: tuple[int, int, int, int]  # bytes, packets, errs, drop, as the guest counts them
    tx: tuple[int, int, int, int]


@dataclass(frozen=True, slots=True)
class DomainStats:
    domain: DomainView
    cpu_time_ns: int = 0
    cpu_user_ns: int = 0
    cpu_system_ns: int = 0
    uptime_seconds: float = 0.0
    memory_used_kib: int = 0
    memory_limit_kib: int = 0
    disk_used_kib: int = 0
    disk_soft_limit_kib: int = 0
    disk_hard_limit_kib: int = 0
    beancounters: tuple[BeanCounter, ...] = ()
    interfaces: tuple[InterfaceStats, ...] = ()


@dataclass(frozen=True, slots=True)
class MemoryParameters:
    # 0 = unlimited / unset, as in virsh memtune.
    hard_limit_kib: int = 0
    soft_limit_kib: int = 0
    swap_hard_limit_kib: int = 0
    min_guarantee_kib: int = 0


@dataclass(frozen=True, slots=True)
class ListFilter:
    """As virsh combines them: neither active nor inactive = both."""

    active: bool = False
    inactive: bool = False
    autostart: bool = False
    no_autostart: bool = False


@dataclass(frozen=True, slots=True)
class VersionInfo:
    daemon: str
    vzctl: str
    vzctl_flavour: str
    simulated: bool


@dataclass(frozen=True, slots=True)
class JobPage:
    jobs: list[Job] = field(default_factory=list)
    # Empty when this is the last page.
    next_page_token: str = ""


class CoreFacade(Protocol):
    # -- host ---------------------------------------------------------------
    def version(self) -> VersionInfo: ...
    def hostname(self) -> str: ...
    def node_info(self) -> NodeInfo: ...
    def capabilities_xml(self) -> str: ...

    # -- domains: reads never queue ------------------------------------------
    def list_domains(self, which: ListFilter = ListFilter()) -> list[DomainView]: ...
    def resolve(self, ref: DomainRef) -> int:
        """The VEID; OpenvzError NOT_FOUND names what was looked for."""
        ...

    def domain(self, veid: int) -> DomainView: ...
    def info(self, veid: int) -> DomainInfo: ...
    def xml(self, veid: int, *, inactive: bool = False) -> str: ...
    def stats(
        self, veids: Sequence[int] = (), *, active_only: bool = False
    ) -> list[DomainStats]: ...
    def memory_parameters(self, veid: int) -> MemoryParameters: ...

    # -- changes: one submit for every operation -----------------------------
    def submit(
        self, operation: Operation, caller: Caller, *, idempotency_key: str | None = None
    ) -> Job:
        """Check what can be checked now (grammar, the container exists, what the
        host cannot honour), journal the operation as intent and queue it on its
        lane; the job is planned and run when it reaches the front."""
        ...

    async def wait(self, job_id: str, timeout: float | None = None) -> Job: ...

    # -- jobs -----------------------------------------------------------------
    def job(self, job_id: str) -> Job: ...
    def jobs(
        self,
        *,
        veid: int | None = None,
        states: Sequence[JobState] = (),
        limit: int = 0,
        page_token: str = "",
    ) -> JobPage: ...
    def watch_job(self, job_id: str, timeout: float | None = None) -> AsyncIterator[Job]: ...
    async def cancel(self, job_id: str, caller: Caller) -> Job: ...

    # -- events ---------------------------------------------------------------
    def events(
        self,
        after_seq: int = 0,
        *,
        include_jobs: bool = False,
        veids: frozenset[int] | None = None,
    ) -> AsyncIterator[Event]: ...
