"""INTERIM: a CoreFacade over today's Runtime, JobQueue and Operations, so the
libvirt front-end can run end to end before the core helper's `Core` lands.

It is replaced by `Core` at merge and deleted then; nothing may import it but
daemon.py. It is only as complete as the libvirt front-end needs: each
Operation is translated into today's `queue.submit(name, veid, params)` (a
set-* operation becomes today's "set" with plan_update's arguments), and the
queries repeat what api/ computes today. Methods the libvirt front-end does not
call (job paging, watch, cancel) answer NOT_SUPPORTED.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from openvzd import __version__
from openvzd.api.convert import REASON_BY_WORD
from openvzd.api.domains import default_host_dev
from openvzd.api.host import capabilities_xml
from openvzd.core import ops
from openvzd.core.caller import Caller
from openvzd.core.facade import (
    DomainInfo,
    DomainRef,
    DomainStats,
    DomainView,
    InterfaceStats,
    JobPage,
    ListFilter,
    MemoryParameters,
    VersionInfo,
)
from openvzd.domxml import format_domain, parse_domain
from openvzd.events import Event, EventBus
from openvzd.jobs import HOST_LANE, Job, JobQueue, JobState, ShuttingDown, UnknownJob
from openvzd.runtime import Runtime
from openvzd.vz.errors import ErrorKind, VzError
from openvzd.vz.host import FIRST_FREE_VEID
from openvzd.vz.plan import plan_define, plan_update, with_memory
from openvzd.vz.proc import (
    NodeInfo,
    read_beancounters,
    read_net_dev,
    read_vestat,
    read_vzquota,
)
from openvzd.vz.spec import spec_from_config

PAGE_KIB = 4
EVERY_DOMAIN = ListFilter()
MAX_VCPUS = 4096


def _unsupported(what: str) -> VzError:
    return VzError(ErrorKind.NOT_SUPPORTED, f"{what} is not offered by the interim core")


class InterimCore:
    def __init__(self, runtime: Runtime, queue: JobQueue, events: EventBus) -> None:
        self._runtime = runtime
        self._queue = queue
        self._events = events

    # -- host -----------------------------------------------------------------
    def version(self) -> VersionInfo:
        vzctl = self._runtime.vzctl_version
        return VersionInfo(__version__, vzctl.text, vzctl.flavour, self._runtime.config.simulated)

    def hostname(self) -> str:
        return self._runtime.hostname

    def node_info(self) -> NodeInfo:
        return self._runtime.node

    def capabilities_xml(self) -> str:
        return capabilities_xml(self._runtime)

    # -- domains ----------------------------------------------------------------
    def list_domains(self, which: ListFilter = EVERY_DOMAIN) -> list[DomainView]:
        host = self._runtime.host
        both = which.active == which.inactive
        found = []
        for veid in sorted(host.containers):
            container = host.containers[veid]
            if not both and (container.status == "running") != which.active:
                continue
            if which.autostart and not container.autostart:
                continue
            if which.no_autostart and container.autostart:
                continue
            found.append(self.domain(veid))
        return found

    def resolve(self, ref: DomainRef) -> int:
        host = self._runtime.host
        if ref.id is not None:
            if ref.id in host.containers:
                return ref.id
            raise VzError(ErrorKind.NOT_FOUND, f"no container with ID {ref.id}")
        if ref.name is not None:
            container = host.find(ref.name)
            if container is not None:
                return container.veid
            raise VzError(ErrorKind.NOT_FOUND, f"no container named {ref.name!r}")
        if ref.uuid is not None:
            wanted = ref.uuid.lower()
            for veid in host.containers:
                if self._runtime.uuid_of(veid) == wanted:
                    return veid
            raise VzError(ErrorKind.NOT_FOUND, f"no container with UUID {ref.uuid}")
        raise VzError(ErrorKind.BAD_ARGUMENT, "name the container by id, name or uuid")

    def _known(self, veid: int) -> None:
        if veid not in self._runtime.host.containers:
            raise VzError(ErrorKind.NOT_FOUND, f"no container with ID {veid}")

    def domain(self, veid: int) -> DomainView:
        self._known(veid)
        runtime = self._runtime
        container = runtime.host.containers[veid]
        word = runtime.state_of(veid)
        return DomainView(
            veid=veid,
            id=veid if word in ("running", "paused") else -1,
            name=str(veid),
            uuid=runtime.uuid_of(veid),
            vz_name=container.vz_name,
            state=word,
            state_reason=REASON_BY_WORD.get(word, ""),
            autostart=container.autostart,
            persistent=True,
        )

    def _spec(self, veid: int) -> Any:
        self._known(veid)
        container = self._runtime.host.containers[veid]
        return spec_from_config(
            container.values, veid, self._runtime.uuid_of(veid), container.config.title
        )

    def info(self, veid: int) -> DomainInfo:
        spec = self._spec(veid)
        proc = self._runtime.paths.proc
        cpu = read_vestat(proc).get(veid)
        used = 0
        for counter in read_beancounters(proc).get(veid, []):
            if counter.resource == "physpages":
                used = counter.held * PAGE_KIB
        view = self.domain(veid)
        return DomainInfo(
            domain=view,
            max_memory_kib=spec.memory_kib,
            memory_kib=used or spec.memory_kib,
            vcpus=spec.vcpus or self._runtime.node.cpus,
            cpu_time_ns=cpu.total_ns if cpu else 0,
            os_type="exe",
            has_managed_save=view.state == "suspended",
        )

    def xml(self, veid: int, *, inactive: bool = False) -> str:
        running = not inactive and self._runtime.state_of(veid) in ("running", "paused")
        return format_domain(self._spec(veid), running=running, domain_id=veid)

    def stats(self, veids: Sequence[int] = (), *, active_only: bool = False) -> list[DomainStats]:
        """As api/domains.py's GetStats computes them today."""
        runtime = self._runtime
        proc = runtime.paths.proc
        vestat, counters = read_vestat(proc), read_beancounters(proc)
        quotas, devices = read_vzquota(proc), read_net_dev(proc)
        found = []
        for veid in list(veids) or sorted(runtime.host.containers):
            view = self.domain(veid)
            if active_only and view.id == -1:
                continue
            spec = self._spec(veid)
            cpu = vestat.get(veid)
            quota = quotas.get(veid)
            interfaces = []
            for interface in spec.interfaces:
                host_dev = interface.host_dev or default_host_dev(veid, interface.guest_dev)
                host_end = devices.get(host_dev)
                if host_end is not None:  # the host end's rx is what the guest sent
                    interfaces.append(InterfaceStats(host_dev, rx=host_end.tx, tx=host_end.rx))
            own = counters.get(veid, [])
            used = next((c.held * PAGE_KIB for c in own if c.resource == "physpages"), 0)
            found.append(
                DomainStats(
                    domain=view,
                    cpu_time_ns=cpu.total_ns if cpu else 0,
                    cpu_user_ns=cpu.user_ns + cpu.nice_ns if cpu else 0,
                    cpu_system_ns=cpu.system_ns if cpu else 0,
                    uptime_seconds=cpu.uptime_seconds if cpu else 0.0,
                    memory_used_kib=used,
                    memory_limit_kib=spec.memory_kib,
                    disk_used_kib=quota.used_kib if quota else 0,
                    disk_soft_limit_kib=spec.disk_soft_kib,
                    disk_hard_limit_kib=spec.disk_hard_kib,
                    beancounters=tuple(own),
                    interfaces=tuple(interfaces),
                )
            )
        return found

    def memory_parameters(self, veid: int) -> MemoryParameters:
        spec = self._spec(veid)
        return MemoryParameters(
            hard_limit_kib=spec.memory_kib,
            soft_limit_kib=spec.memory_soft_kib,
            swap_hard_limit_kib=spec.swap_hard_limit_kib,
            min_guarantee_kib=spec.min_guarantee_kib,
        )

    # -- changes ------------------------------------------------------------------
    def submit(
        self, operation: ops.Operation, caller: Caller, *, idempotency_key: str | None = None
    ) -> Job:
        # Today's journal has no caller column: the interim core cannot record it.
        name, veid, params, mergeable = self._translate(operation)
        try:
            return self._queue.submit(
                name, veid, params, idempotency_key=idempotency_key, mergeable=mergeable
            )
        except ShuttingDown as err:
            raise VzError(ErrorKind.BUSY, str(err)) from None

    def _translate(self, operation: ops.Operation) -> tuple[str, int, dict[str, Any], bool]:
        if isinstance(operation, ops.Define):
            return self._translate_define(operation)
        if operation.veid != HOST_LANE:
            self._known(operation.veid)
        veid = operation.veid
        simple = (ops.Start, ops.Destroy, ops.Reboot, ops.Suspend, ops.Resume)
        if isinstance(operation, simple):
            return operation.NAME, veid, {}, True
        if isinstance(operation, ops.Shutdown):
            params = (
                {"timeout_seconds": operation.timeout_seconds} if operation.timeout_seconds else {}
            )
            return "shutdown", veid, params, True
        if isinstance(operation, ops.Undefine):
            return "undefine", veid, {"keep_storage": True} if operation.keep_storage else {}, True
        if isinstance(operation, ops.SetAutostart):
            return (
                "set",
                veid,
                {"args": ["--onboot", "yes" if operation.autostart else "no"]},
                False,
            )
        if isinstance(operation, ops.SetVcpus):
            if not 1 <= operation.vcpus <= MAX_VCPUS:
                raise VzError(
                    ErrorKind.BAD_ARGUMENT, f"vcpus must be 1..{MAX_VCPUS}, not {operation.vcpus}"
                )
            return "set", veid, {"args": ["--cpus", str(operation.vcpus)]}, False
        if isinstance(operation, ops.SetMemory | ops.SetMemoryParameters):
            current = self._spec(veid)
            if isinstance(operation, ops.SetMemory):
                wanted = with_memory(current, hard_kib=operation.memory_kib)
            else:
                wanted = with_memory(
                    current,
                    hard_kib=operation.hard_limit_kib,
                    soft_kib=operation.soft_limit_kib,
                    swap_hard_kib=operation.swap_hard_limit_kib,
                    min_guarantee_kib=operation.min_guarantee_kib,
                )
            args = plan_update(current, wanted, vswap=self._runtime.vswap)
            return "set", veid, {"args": args}, False
        raise _unsupported(f"the {operation.NAME} operation")

    def _translate_define(self, operation: ops.Define) -> tuple[str, int, dict[str, Any], bool]:
        unnamed: list[bool] = []

        def placeholder() -> int:
            unnamed.append(True)
            return FIRST_FREE_VEID

        spec = parse_domain(operation.xml, pick_veid=placeholder)
        plan_define(spec, vswap=self._runtime.vswap)
        if unnamed:
            return operation.NAME, HOST_LANE, {"xml": operation.xml, "pick_veid": True}, False
        if spec.veid in self._runtime.host.containers:
            raise VzError(
                ErrorKind.ALREADY_EXISTS,
                f"container {spec.veid} already exists; undefine it first or use another <name>",
            )
        return operation.NAME, spec.veid, {"xml": operation.xml}, True

    async def wait(self, job_id: str, timeout: float | None = None) -> Job:
        try:
            return await self._queue.wait(job_id, timeout)
        except UnknownJob:
            raise VzError(ErrorKind.NOT_FOUND, f"no job {job_id}") from None

    # -- jobs -----------------------------------------------------------------------
    def job(self, job_id: str) -> Job:
        job = self._queue.get(job_id)
        if job is None:
            raise VzError(ErrorKind.NOT_FOUND, f"no job {job_id}")
        return job

    def jobs(
        self,
        *,
        veid: int | None = None,
        states: Sequence[JobState] = (),
        limit: int = 0,
        page_token: str = "",
    ) -> JobPage:
        raise _unsupported("job listing")

    def watch_job(self, job_id: str, timeout: float | None = None) -> AsyncIterator[Job]:
        raise _unsupported("job watching")

    async def cancel(self, job_id: str, caller: Caller) -> Job:
        raise _unsupported("job cancelling")

    # -- events -----------------------------------------------------------------------
    def events(
        self,
        after_seq: int = 0,
        *,
        include_jobs: bool = False,
        veids: frozenset[int] | None = None,
    ) -> AsyncIterator[Event]:
        return self._events.subscribe(after_seq, include_jobs=include_jobs, veids=veids)
