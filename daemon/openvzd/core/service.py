"""The Core: what every front-end calls (CoreFacade, facade.py).

It owns the host model (Runtime), the job queue and the event bus. Reads answer
from the host model and /proc/vz and never queue; a change is an Operation,
checked at submit by its executor (core/executors.py), journaled as intent with
its caller and run on its container's lane. Nothing here knows gRPC: every
refusal is an OpenvzError, which each front-end maps to its wire in one place.
"""

from __future__ import annotations

import logging
import platform
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from lxml import etree

from openvzd import __version__
from openvzd.config import Config
from openvzd.core import ops
from openvzd.core.caller import Caller
from openvzd.core.executors import Executors
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
from openvzd.core.recovery import recover_job
from openvzd.domxml import format_domain
from openvzd.events import Event, EventBus
from openvzd.jobs import Job, JobContext, JobQueue, JobState
from openvzd.runtime import Runtime
from openvzd.sessions import ConsoleSession, ExecSession, ExecSpec, SessionManager, SessionRecords
from openvzd.vz.errors import ErrorKind, OpenvzError
from openvzd.vz.proc import (
    ALL_CPUS,
    BeanCounter,
    CpuTime,
    CpuTimes,
    InterfaceCounters,
    NodeInfo,
    read_beancounters,
    read_cpu_times,
    read_net_dev,
    read_vestat,
    read_vzquota,
)
from openvzd.vz.spec import ContainerSpec, spec_from_config

log = logging.getLogger(__name__)

PAGE_KIB = 4
LIST_CACHE_ENTRIES = 16
# How long info() answers from one read of /proc/vz/vestat and user_beancounters.
# A client's listAllDomains() and then info() of each would otherwise re-read and
# re-parse both files, which grow with the host, once per domain: quadratic in the
# number of containers. Short enough that CPU-time sampling (virt-top, exporters,
# every second or more) sees fresh counters; a change to the host model (a start
# or stop) also ends the snapshot.
PROC_SNAPSHOT_SECONDS = 0.5
EVENT_SEQ_MARGIN = 100_000
DEFAULT_JOB_PAGE = 100
MAX_JOB_PAGE = 1000
# A page of jobs stays well below the smallest max_message_bytes one would set,
# however long the jobs' error texts are.
MAX_JOB_PAGE_BYTES = 1 << 20
JOB_FIXED_BYTES = 256

ALL_DOMAINS = ListFilter()


@dataclass(frozen=True, slots=True)
class _ProcSnapshot:
    taken: float
    model_version: int
    vestat: dict[int, CpuTime]
    beancounters: dict[int, list[BeanCounter]]


class Core:
    def __init__(
        self, runtime: Runtime, queue: JobQueue, events: EventBus, sessions: SessionManager
    ) -> None:
        self.runtime = runtime
        self.queue = queue
        self.bus = events
        self.executors = Executors(runtime, events, queue.busy_lanes)
        queue.on_change = self.executors.job_changed
        # Exec and console: never queued; recorded beside the jobs, without their data.
        self.sessions = sessions
        self._list_cache: dict[tuple[ListFilter, int], list[DomainView]] = {}
        self._proc_snapshot: _ProcSnapshot | None = None

    @classmethod
    async def open(cls, config: Config) -> Core:
        """Read the host and the journal, and recover: each job a crash interrupted
        ends as its container shows it, or runs again once (core/recovery.py);
        queued jobs whose secret was never stored end INTERRUPTED. Nothing runs
        until start()."""
        runtime = await Runtime.create(config)
        # The queue takes its executor before the core exists, and the core's
        # event bus takes its first number from the queue's journal.
        core_holder: list[Core] = []

        async def execute(job: Job, ctx: JobContext) -> dict[str, Any] | None:
            return await core_holder[0].executors.execute(job, ctx)

        queue = JobQueue(
            config.journal_path,
            execute,
            max_workers=config.jobs.max_workers,
            history_limit=config.jobs.history_limit,
            max_queued_per_lane=config.jobs.max_queued_per_lane,
            max_queued=config.jobs.max_queued,
            archive_max_jobs=config.jobs.archive_max_jobs,
            archive_max_age_days=config.jobs.archive_max_age_days,
        )
        last_seq = int(queue.meta("last_event_seq") or 0)
        # Past anything a client of the previous run may have seen, even after a crash.
        events = EventBus(first_seq=last_seq + EVENT_SEQ_MARGIN + 1)
        sessions = SessionManager(
            lambda: runtime.config.tools.vzctl,
            SessionRecords(config.journal_path),
            runtime.state_of,
        )
        core = cls(runtime, queue, events, sessions)
        core_holder.append(core)
        await runtime.host.refresh()
        await core._recover()
        return core

    async def _recover(self) -> None:
        runtime, queue = self.runtime, self.queue
        # Each interrupted job ends as what the host shows, or runs again once
        # (core/recovery.py); retried jobs join the queued ones below.
        for job in await queue.load():
            log.warning(
                "job %s (%s) was interrupted by a daemon stop; reading the container back",
                job.id,
                job.operation,
                extra={"veid": job.veid, "job_id": job.id},
            )
            await recover_job(self.executors, queue, runtime, job)
        for job in queue.queued_from_journal():
            try:
                ops.from_record(job.operation, job.veid, job.params)
            except ops.NotReplayable as why:
                log.warning(
                    "queued job %s (%s) cannot run after the restart: %s",
                    job.id,
                    job.operation,
                    why,
                    extra={"veid": job.veid, "job_id": job.id},
                )
                queue.abandon(job.id, f"openvzd stopped before this job ran, and {why}")

    def start(self) -> None:
        """Start running queued jobs and accepting new ones."""
        self.queue.run()

    async def stop(self, grace: float) -> None:
        self.queue.set_meta("last_event_seq", str(self.bus.last_seq))
        await self.queue.stop(grace)

    # -- host -----------------------------------------------------------------

    def version(self) -> VersionInfo:
        version = self.runtime.vzctl_version
        return VersionInfo(
            daemon=__version__,
            vzctl=version.text,
            vzctl_flavour=version.flavour,
            simulated=self.runtime.config.simulated,
        )

    def hostname(self) -> str:
        return self.runtime.hostname

    def node_info(self) -> NodeInfo:
        return self.runtime.node

    def node_cpu_stats(self, cpu: int | None = None) -> CpuTimes:
        times = read_cpu_times(self.runtime.paths.proc)
        if not times:
            raise OpenvzError(
                ErrorKind.NOT_SUPPORTED,
                f"{self.runtime.paths.proc / 'stat'} has no CPU times this daemon can read",
            )
        found = times.get(ALL_CPUS if cpu is None else cpu)
        if found is None:
            numbers = sorted(n for n in times if n != ALL_CPUS)
            known = f"0-{numbers[-1]}" if numbers else "none"
            raise OpenvzError(
                ErrorKind.BAD_ARGUMENT,
                f"no CPU {cpu} on this host (its CPUs: {known}); leave it out for all CPUs",
            )
        return found

    def capabilities_xml(self) -> str:
        root = etree.Element("capabilities")
        host = etree.SubElement(root, "host")
        cpu = etree.SubElement(host, "cpu")
        etree.SubElement(cpu, "arch").text = platform.machine() or "x86_64"
        guest = etree.SubElement(root, "guest")
        etree.SubElement(guest, "os_type").text = "exe"
        arch = etree.SubElement(guest, "arch", name=platform.machine() or "x86_64")
        etree.SubElement(arch, "wordsize").text = "64"
        etree.SubElement(arch, "emulator").text = str(self.runtime.config.tools.vzctl)
        etree.SubElement(arch, "domain", type="openvz")
        return etree.tostring(root, pretty_print=True, encoding="unicode")

    # -- domains: reads ---------------------------------------------------------

    def list_domains(self, which: ListFilter = ALL_DOMAINS) -> list[DomainView]:
        """The same list object while the model is unchanged: listing is the hot read,
        and a front-end may cache its encoding by it."""
        host = self.runtime.host
        key = (which, host.version)
        cached = self._list_cache.get(key)
        if cached is not None:
            return cached
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
        if len(self._list_cache) >= LIST_CACHE_ENTRIES:
            self._list_cache.clear()
        self._list_cache[key] = found
        return found

    def resolve(self, ref: DomainRef) -> int:
        host = self.runtime.host
        if ref.id is not None:
            if ref.id in host.containers:
                return ref.id
            raise OpenvzError(
                ErrorKind.NOT_FOUND, f"no container with ID {ref.id}; `ovzsh list --all` lists them"
            )
        if ref.name is not None:
            container = host.find(ref.name)
            if container is not None:
                return container.veid
            raise OpenvzError(
                ErrorKind.NOT_FOUND,
                f"no container named {ref.name!r}; `ovzsh list --all` lists them",
            )
        if ref.uuid is not None:
            for veid in host.containers:
                if self.runtime.uuid_of(veid) == ref.uuid.lower():
                    return veid
            raise OpenvzError(ErrorKind.NOT_FOUND, f"no container with UUID {ref.uuid}")
        raise OpenvzError(ErrorKind.BAD_ARGUMENT, "name the container by id, name or uuid")

    def _known(self, veid: int) -> None:
        if veid not in self.runtime.host.containers:
            raise OpenvzError(
                ErrorKind.NOT_FOUND, f"no container with ID {veid}; `ovzsh list --all` lists them"
            )

    def domain(self, veid: int) -> DomainView:
        self._known(veid)
        runtime = self.runtime
        container = runtime.host.containers[veid]
        state = runtime.state_of(veid)
        return DomainView(
            veid=veid,
            id=veid if state in ("running", "paused") else -1,
            name=str(veid),
            uuid=runtime.uuid_of(veid),
            vz_name=container.vz_name,
            state=state,
            state_reason=runtime.state_reason(veid),
            autostart=container.autostart,
            persistent=True,
            hostname=container.hostname,
            title=container.config.title,
            ip_addresses=tuple(container.ip_addresses),
            ostemplate=container.values.get("OSTEMPLATE", ""),
        )

    def _spec(self, veid: int) -> ContainerSpec:
        self._known(veid)
        container = self.runtime.host.containers[veid]
        return spec_from_config(
            container.values, veid, self.runtime.uuid_of(veid), container.config.title
        )

    def _proc_counters(self) -> _ProcSnapshot:
        now = time.monotonic()
        version = self.runtime.host.version
        snapshot = self._proc_snapshot
        if (
            snapshot is None
            or snapshot.model_version != version
            or now - snapshot.taken >= PROC_SNAPSHOT_SECONDS
        ):
            proc = self.runtime.paths.proc
            snapshot = _ProcSnapshot(now, version, read_vestat(proc), read_beancounters(proc))
            self._proc_snapshot = snapshot
        return snapshot

    def info(self, veid: int) -> DomainInfo:
        spec = self._spec(veid)
        counters = self._proc_counters()
        cpu = counters.vestat.get(veid)
        used = 0
        for counter in counters.beancounters.get(veid, []):
            if counter.resource == "physpages":
                used = counter.held * PAGE_KIB
        return DomainInfo(
            domain=self.domain(veid),
            max_memory_kib=spec.memory_kib,
            memory_kib=used or spec.memory_kib,
            vcpus=spec.vcpus or self.runtime.node.cpus,
            cpu_time_ns=cpu.total_ns if cpu else 0,
            os_type="exe",
            has_managed_save=self.runtime.state_of(veid) == "suspended",
        )

    def xml(self, veid: int, *, inactive: bool = False) -> str:
        spec = self._spec(veid)
        running = not inactive and self.runtime.state_of(veid) in ("running", "paused")
        return format_domain(spec, running=running, domain_id=veid)

    def stats(self, veids: Sequence[int] = (), *, active_only: bool = False) -> list[DomainStats]:
        runtime = self.runtime
        for veid in veids:
            self._known(veid)
        wanted = list(veids) or sorted(runtime.host.containers)
        proc = runtime.paths.proc
        vestat = read_vestat(proc)
        counters = read_beancounters(proc)
        quotas = read_vzquota(proc)
        devices = read_net_dev(proc)
        found = []
        for veid in wanted:
            if active_only and runtime.host.containers[veid].status != "running":
                continue
            cpu = vestat.get(veid)
            spec = self._spec(veid)
            quota = quotas.get(veid)
            beancounters = tuple(counters.get(veid, []))
            memory_used = next(
                (c.held * PAGE_KIB for c in beancounters if c.resource == "physpages"), 0
            )
            found.append(
                DomainStats(
                    domain=self.domain(veid),
                    cpu_time_ns=cpu.total_ns if cpu else 0,
                    cpu_user_ns=cpu.user_ns + cpu.nice_ns if cpu else 0,
                    cpu_system_ns=cpu.system_ns if cpu else 0,
                    uptime_seconds=cpu.uptime_seconds if cpu else 0.0,
                    memory_used_kib=memory_used,
                    memory_limit_kib=spec.memory_kib,
                    disk_used_kib=quota.used_kib if quota is not None else 0,
                    disk_soft_limit_kib=spec.disk_soft_kib,
                    disk_hard_limit_kib=spec.disk_hard_kib,
                    beancounters=beancounters,
                    interfaces=_interface_stats(veid, spec, devices),
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

    # -- changes --------------------------------------------------------------------

    def submit(
        self, operation: ops.Operation, caller: Caller, *, idempotency_key: str | None = None
    ) -> Job:
        try:
            if not isinstance(operation, ops.Define):
                self._known(operation.veid)
            checked = self.executors.check(operation)
        except OpenvzError:
            # A retry whose answer was lost (a daemon restart, a dropped connection)
            # finds the job it made, though that job's own work may now fail the
            # checks: a destroy retried finds the container stopped, by itself.
            if idempotency_key:
                earlier = self.queue.job_of_key(
                    idempotency_key, operation.job_name, operation.veid, operation.params()
                )
                if earlier is not None:
                    return earlier
            raise
        picks_veid = isinstance(checked, ops.Define) and checked.pick_veid
        job = self.queue.submit(
            checked.job_name,
            checked.veid,
            checked.params(),
            caller=caller,
            idempotency_key=idempotency_key,
            # Identical unnamed defines make two containers, so they never merge.
            mergeable=checked.MERGEABLE and not picks_veid,
            intent=checked,
        )
        log.debug(
            "job %s (%s on lane %d) for %s",
            job.id,
            job.operation,
            job.veid,
            caller.describe(),
            extra={"veid": job.veid, "job_id": job.id},
        )
        return job

    async def wait(self, job_id: str, timeout: float | None = None) -> Job:
        return await self.queue.wait(job_id, timeout)

    # -- jobs -----------------------------------------------------------------------

    def job(self, job_id: str) -> Job:
        job = self.queue.get(job_id)
        if job is None:
            raise OpenvzError(
                ErrorKind.NOT_FOUND,
                f"no job {job_id!r}; `ovzsh jobs` lists the jobs this daemon knows",
            )
        return job

    def jobs(
        self,
        *,
        veid: int | None = None,
        states: Sequence[JobState] = (),
        limit: int = 0,
        page_token: str = "",
    ) -> JobPage:
        if veid is not None and veid < 0:
            raise OpenvzError(
                ErrorKind.BAD_ARGUMENT, "veid must be 0 (every lane) or a container ID"
            )
        size = min(limit or DEFAULT_JOB_PAGE, MAX_JOB_PAGE)
        found = self.queue.list(
            veid=veid or None, states=states or None, limit=size, after=page_token
        )
        page: list[Job] = []
        budget = MAX_JOB_PAGE_BYTES
        for job in found:
            budget -= _wire_size(job)
            if page and budget < 0:
                break
            page.append(job)
        more = len(page) < len(found) or len(found) == size
        return JobPage(jobs=page, next_page_token=page[-1].id if more and page else "")

    def watch_job(self, job_id: str, timeout: float | None = None) -> AsyncIterator[Job]:
        self.job(job_id)
        return self.queue.watch(job_id, timeout)

    async def cancel(self, job_id: str, caller: Caller) -> Job:
        job = await self.queue.cancel(job_id)
        log.info(
            "job %s (%s) cancel asked by %s",
            job.id,
            job.operation,
            caller.describe(),
            extra={"veid": job.veid, "job_id": job.id},
        )
        return job

    # -- events ---------------------------------------------------------------------

    def events(
        self,
        after_seq: int = 0,
        *,
        include_jobs: bool = False,
        veids: frozenset[int] | None = None,
    ) -> AsyncIterator[Event]:
        if veids is not None and any(veid <= 0 for veid in veids):
            raise OpenvzError(
                ErrorKind.BAD_ARGUMENT, "veids must be container IDs (positive numbers)"
            )
        return self.bus.subscribe(after_seq, include_jobs=include_jobs, veids=veids)

    # -- sessions -----------------------------------------------------------------

    async def exec_session(self, veid: int, spec: ExecSpec, caller: Caller) -> ExecSession:
        self._known(veid)
        return await self.sessions.exec_session(veid, spec, caller)

    async def console_session(
        self, veid: int, caller: Caller, *, force: bool = False
    ) -> ConsoleSession:
        self._known(veid)
        return await self.sessions.console_session(veid, caller, force=force)


def _wire_size(job: Job) -> int:
    """About what a job takes on the wire (its params are not sent)."""
    error = len(job.error.message) + len(job.error.tool) if job.error else 0
    texts = (job.progress_step, job.caller.name, job.idempotency_key or "", job.operation)
    return JOB_FIXED_BYTES + error + sum(len(text) for text in texts)


def _interface_stats(
    veid: int, spec: ContainerSpec, devices: dict[str, InterfaceCounters]
) -> tuple[InterfaceStats, ...]:
    """The container's veths as the guest counts them, named by their host device
    (vethCTID.N, what `virsh domifstat` takes). venet has no per-container device
    on the host: a venet-only container has no entry rather than made-up numbers."""
    found = []
    for interface in spec.interfaces:
        host_dev = interface.host_dev or default_host_dev(veid, interface.guest_dev)
        counters = devices.get(host_dev)
        if counters is not None:  # None: not running, or the veth is not up
            found.append(guest_interface(host_dev, counters))
    return tuple(found)


def guest_interface(device: str, host_end: InterfaceCounters) -> InterfaceStats:
    """A veth's counters as the guest counts them: the host end's rx is the guest's tx."""
    return InterfaceStats(device, rx=host_end.tx, tx=host_end.rx)


def default_host_dev(veid: int, guest_dev: str) -> str:
    """vzctl's host-side name when NETIF has no host_ifname: vethCTID.N (openvz-tools.md §6.1)."""
    digits = len(guest_dev) - len(guest_dev.rstrip("0123456789"))
    return f"veth{veid}.{guest_dev[-digits:] if digits else 0}"
