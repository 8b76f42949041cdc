"""The Domains service: reads answer from the host model; changes are jobs.

Every request is validated here, before it becomes a job: a bad value gets
INVALID_ARGUMENT with what to change, an unknown container NOT_FOUND, and a
value never reaches a command line unchecked.
"""

from __future__ import annotations

import math
from typing import Any

import grpc
from openvz.v1 import common_pb2, domains_pb2, domains_pb2_grpc

from openvzd.api.convert import (
    beancounter_to_proto,
    domain_to_proto,
    guest_interface_to_proto,
    job_to_proto,
)
from openvzd.api.errors import ApiError, abort
from openvzd.domxml import device_args, format_domain, parse_domain, update_device_spec
from openvzd.jobs import HOST_LANE, JobConflict, JobQueue, JobState, ShuttingDown
from openvzd.runtime import Runtime
from openvzd.vz.errors import VzError
from openvzd.vz.host import FIRST_FREE_VEID
from openvzd.vz.plan import plan_define, plan_update, with_memory
from openvzd.vz.proc import (
    InterfaceCounters,
    read_beancounters,
    read_net_dev,
    read_vestat,
    read_vzquota,
)
from openvzd.vz.spec import (
    check_host_devs_free,
    check_new_container,
    host_dev_owners,
    spec_from_config,
    validate_hostname,
    validate_nameserver,
    validate_search_domain,
    validate_text,
    validate_user_name,
)

PAGE_KIB = 4
MAX_VCPUS = 4096
LIST_CACHE_ENTRIES = 16
MAX_SHUTDOWN_TIMEOUT = 86400


class DomainsService(domains_pb2_grpc.DomainsServicer):
    def __init__(self, runtime: Runtime, queue: JobQueue) -> None:
        self._runtime = runtime
        self._queue = queue
        self._list_cache: dict[tuple[bytes, int], domains_pb2.ListDomainsResponse] = {}

    # -- lookups ---------------------------------------------------------------

    def _resolve(self, ref: common_pb2.DomainRef) -> int:
        host = self._runtime.host
        which = ref.WhichOneof("ref")
        if which == "id":
            if ref.id in host.containers:
                return ref.id
            raise ApiError(
                "NOT_FOUND", f"no container with ID {ref.id}; `ovzsh list --all` lists them"
            )
        if which == "name":
            container = host.find(ref.name)
            if container is not None:
                return container.veid
            raise ApiError(
                "NOT_FOUND", f"no container named {ref.name!r}; `ovzsh list --all` lists them"
            )
        if which == "uuid":
            for veid in host.containers:
                if self._runtime.uuid_of(veid) == ref.uuid.lower():
                    return veid
            raise ApiError("NOT_FOUND", f"no container with UUID {ref.uuid}")
        raise ApiError("BAD_ARGUMENT", "name the container by id, name or uuid")

    async def _guard(self, context: grpc.aio.ServicerContext[Any, Any], call: Any) -> Any:
        try:
            return await call()
        except ApiError as err:
            await abort(context, err.kind, err.message)
        except VzError as err:
            await abort(context, err.kind, err.message)

    # -- reads -------------------------------------------------------------------

    async def List(
        self, request: domains_pb2.ListDomainsRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> domains_pb2.ListDomainsResponse:
        # The answer only changes when the model does; listing is the hot read.
        key = (request.SerializeToString(deterministic=True), self._runtime.host.version)
        cached = self._list_cache.get(key)
        if cached is not None:
            return cached
        runtime = self._runtime
        both = request.active == request.inactive
        found = []
        for veid in sorted(runtime.host.containers):
            container = runtime.host.containers[veid]
            active = container.status == "running"
            if not both and active != request.active:
                continue
            if request.autostart and not container.autostart:
                continue
            if request.no_autostart and container.autostart:
                continue
            found.append(domain_to_proto(runtime, veid, names_only=request.names_only))
        reply = domains_pb2.ListDomainsResponse(domains=found)
        if len(self._list_cache) >= LIST_CACHE_ENTRIES:
            self._list_cache.clear()
        self._list_cache[key] = reply
        return reply

    async def Lookup(
        self, request: common_pb2.DomainRef, context: grpc.aio.ServicerContext[Any, Any]
    ) -> domains_pb2.Domain:
        async def call() -> domains_pb2.Domain:
            return domain_to_proto(self._runtime, self._resolve(request))

        return await self._guard(context, call)  # type: ignore[no-any-return]

    def _spec(self, veid: int) -> Any:
        container = self._runtime.host.containers[veid]
        return spec_from_config(
            container.values, veid, self._runtime.uuid_of(veid), container.config.title
        )

    async def GetXML(
        self, request: domains_pb2.GetXMLRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> domains_pb2.DomainXML:
        async def call() -> domains_pb2.DomainXML:
            veid = self._resolve(request.domain)
            running = not request.inactive and self._runtime.state_of(veid) in ("running", "paused")
            xml = format_domain(self._spec(veid), running=running, domain_id=veid)
            return domains_pb2.DomainXML(xml=xml)

        return await self._guard(context, call)  # type: ignore[no-any-return]

    async def GetInfo(
        self, request: common_pb2.DomainRef, context: grpc.aio.ServicerContext[Any, Any]
    ) -> domains_pb2.DomainInfo:
        async def call() -> domains_pb2.DomainInfo:
            veid = self._resolve(request)
            spec = self._spec(veid)
            cpu = read_vestat(self._runtime.paths.proc).get(veid)
            used = 0
            for counter in read_beancounters(self._runtime.paths.proc).get(veid, []):
                if counter.resource == "physpages":
                    used = counter.held * PAGE_KIB
            return domains_pb2.DomainInfo(
                domain=domain_to_proto(self._runtime, veid),
                max_memory_kib=spec.memory_kib,
                memory_kib=used or spec.memory_kib,
                vcpus=spec.vcpus or self._runtime.node.cpus,
                cpu_time_ns=cpu.total_ns if cpu else 0,
                os_type="exe",
                has_managed_save=self._runtime.state_of(veid) == "suspended",
            )

        return await self._guard(context, call)  # type: ignore[no-any-return]

    async def GetStats(
        self, request: domains_pb2.GetStatsRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> domains_pb2.GetStatsResponse:
        async def call() -> domains_pb2.GetStatsResponse:
            runtime = self._runtime
            veids = [self._resolve(ref) for ref in request.domains] or sorted(
                runtime.host.containers
            )
            vestat = read_vestat(runtime.paths.proc)
            counters = read_beancounters(runtime.paths.proc)
            quotas = read_vzquota(runtime.paths.proc)
            devices = read_net_dev(runtime.paths.proc)
            stats = []
            for veid in veids:
                if request.active_only and runtime.host.containers[veid].status != "running":
                    continue
                cpu = vestat.get(veid)
                spec = self._spec(veid)
                entry = domains_pb2.DomainStats(
                    domain=domain_to_proto(runtime, veid),
                    cpu_time_ns=cpu.total_ns if cpu else 0,
                    cpu_user_ns=cpu.user_ns + cpu.nice_ns if cpu else 0,
                    cpu_system_ns=cpu.system_ns if cpu else 0,
                    uptime_seconds=cpu.uptime_seconds if cpu else 0.0,
                    memory_limit_kib=spec.memory_kib,
                    disk_soft_limit_kib=spec.disk_soft_kib,
                    disk_hard_limit_kib=spec.disk_hard_kib,
                    interfaces=_interface_stats(veid, spec, devices),
                )
                quota = quotas.get(veid)
                if quota is not None:
                    entry.disk_used_kib = quota.used_kib
                for counter in counters.get(veid, []):
                    entry.beancounters.append(beancounter_to_proto(counter))
                    if counter.resource == "physpages":
                        entry.memory_used_kib = counter.held * PAGE_KIB
                stats.append(entry)
            return domains_pb2.GetStatsResponse(stats=stats)

        return await self._guard(context, call)  # type: ignore[no-any-return]

    async def GetMemoryParameters(
        self, request: common_pb2.DomainRef, context: grpc.aio.ServicerContext[Any, Any]
    ) -> domains_pb2.MemoryParameters:
        async def call() -> domains_pb2.MemoryParameters:
            spec = self._spec(self._resolve(request))
            return domains_pb2.MemoryParameters(
                hard_limit_kib=spec.memory_kib,
                soft_limit_kib=spec.memory_soft_kib,
                swap_hard_limit_kib=spec.swap_hard_limit_kib,
                min_guarantee_kib=spec.min_guarantee_kib,
            )

        return await self._guard(context, call)  # type: ignore[no-any-return]

    # -- changes -----------------------------------------------------------------

    async def _submit(
        self,
        context: grpc.aio.ServicerContext[Any, Any],
        operation: str,
        veid: int,
        params: dict[str, Any],
        options: common_pb2.JobOptions,
        *,
        mergeable: bool = True,
    ) -> common_pb2.JobReply:
        if not 0 <= options.wait_timeout_seconds < math.inf:  # NaN fails this too
            raise ApiError(
                "BAD_ARGUMENT", "wait_timeout_seconds must be a number of seconds ≥ 0 (0: no bound)"
            )
        try:
            job = self._queue.submit(
                operation,
                veid,
                params,
                idempotency_key=options.idempotency_key or None,
                mergeable=mergeable,
            )
        except JobConflict as err:
            raise ApiError("ALREADY_EXISTS", str(err)) from None
        except ShuttingDown as err:
            await context.abort(grpc.StatusCode.UNAVAILABLE, str(err))
        if options.no_wait:
            return common_pb2.JobReply(job=job_to_proto(job))
        job = await self._queue.wait(job.id, options.wait_timeout_seconds or None)
        if job.state in (JobState.FAILED, JobState.CANCELLED, JobState.INTERRUPTED):
            context.set_trailing_metadata((("openvz-job-id", job.id),))
            assert job.error is not None
            raise ApiError(job.error.kind, job.error.message)
        return common_pb2.JobReply(job=job_to_proto(job))

    async def _job(
        self,
        context: grpc.aio.ServicerContext[Any, Any],
        operation: str,
        ref: common_pb2.DomainRef,
        options: common_pb2.JobOptions,
        params: dict[str, Any] | None = None,
        **flags: bool,
    ) -> common_pb2.JobReply:
        async def call() -> common_pb2.JobReply:
            veid = self._resolve(ref)
            return await self._submit(context, operation, veid, params or {}, options, **flags)

        return await self._guard(context, call)  # type: ignore[no-any-return]

    async def _define(
        self,
        request: domains_pb2.DefineRequest,
        context: grpc.aio.ServicerContext[Any, Any],
        operation: str,
    ) -> common_pb2.JobReply:
        async def call() -> common_pb2.JobReply:
            unnamed: list[bool] = []

            def placeholder() -> int:
                unnamed.append(True)
                return FIRST_FREE_VEID

            # Refuse bad XML before it is journaled.
            spec = parse_domain(request.xml, pick_veid=placeholder)
            plan_define(spec, vswap=self._runtime.vswap)  # and what this host cannot honour
            check_new_container(
                spec, {veid: self._runtime.uuid_of(veid) for veid in self._runtime.host.containers}
            )
            check_host_devs_free(
                spec, {v: c.values for v, c in self._runtime.host.containers.items()}
            )
            if unnamed:
                # The ID is picked when the job runs, on the host-wide lane, so two
                # defines at once never pick the same one; identical requests make
                # two containers, so they never merge.
                reply = await self._submit(
                    context,
                    operation,
                    HOST_LANE,
                    {"xml": request.xml, "pick_veid": True},
                    request.options,
                    mergeable=False,
                )
                return reply
            if spec.veid in self._runtime.host.containers:
                raise ApiError(
                    "ALREADY_EXISTS",
                    f"container {spec.veid} already exists; undefine it first"
                    " or use another <name>",
                )
            return await self._submit(
                context, operation, spec.veid, {"xml": request.xml}, request.options
            )

        return await self._guard(context, call)  # type: ignore[no-any-return]

    async def Define(
        self, request: domains_pb2.DefineRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> common_pb2.JobReply:
        return await self._define(request, context, "define")

    async def Create(
        self, request: domains_pb2.DefineRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> common_pb2.JobReply:
        return await self._define(request, context, "create")

    async def Undefine(
        self, request: domains_pb2.UndefineRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> common_pb2.JobReply:
        params = {"keep_storage": True} if request.keep_storage else {}
        return await self._job(context, "undefine", request.domain, request.options, params)

    async def Start(
        self, request: domains_pb2.DomainCall, context: grpc.aio.ServicerContext[Any, Any]
    ) -> common_pb2.JobReply:
        return await self._job(context, "start", request.domain, request.options)

    async def Shutdown(
        self, request: domains_pb2.ShutdownRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> common_pb2.JobReply:
        if request.timeout_seconds > MAX_SHUTDOWN_TIMEOUT:
            await abort(
                context,
                "BAD_ARGUMENT",
                f"timeout_seconds must be at most {MAX_SHUTDOWN_TIMEOUT} (a day), "
                f"not {request.timeout_seconds}; 0 uses the host's STOP_TIMEOUT",
            )
        params = {"timeout_seconds": request.timeout_seconds} if request.timeout_seconds else {}
        return await self._job(context, "shutdown", request.domain, request.options, params)

    async def Destroy(
        self, request: domains_pb2.DomainCall, context: grpc.aio.ServicerContext[Any, Any]
    ) -> common_pb2.JobReply:
        return await self._job(context, "destroy", request.domain, request.options)

    async def Reboot(
        self, request: domains_pb2.DomainCall, context: grpc.aio.ServicerContext[Any, Any]
    ) -> common_pb2.JobReply:
        return await self._job(context, "reboot", request.domain, request.options)

    async def Suspend(
        self, request: domains_pb2.DomainCall, context: grpc.aio.ServicerContext[Any, Any]
    ) -> common_pb2.JobReply:
        return await self._job(context, "suspend", request.domain, request.options)

    async def Resume(
        self, request: domains_pb2.DomainCall, context: grpc.aio.ServicerContext[Any, Any]
    ) -> common_pb2.JobReply:
        return await self._job(context, "resume", request.domain, request.options)

    async def _set(
        self,
        context: grpc.aio.ServicerContext[Any, Any],
        ref: common_pb2.DomainRef,
        options: common_pb2.JobOptions,
        build: Any,
    ) -> common_pb2.JobReply:
        async def call() -> common_pb2.JobReply:
            veid = self._resolve(ref)
            args: list[str] = build()
            return await self._submit(
                context, "set", veid, {"args": args}, options, mergeable=False
            )

        return await self._guard(context, call)  # type: ignore[no-any-return]

    async def SetAutostart(
        self, request: domains_pb2.SetAutostartRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> common_pb2.JobReply:
        return await self._set(
            context,
            request.domain,
            request.options,
            lambda: ["--onboot", "yes" if request.autostart else "no"],
        )

    async def SetVcpus(
        self, request: domains_pb2.SetVcpusRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> common_pb2.JobReply:
        def build() -> list[str]:
            if not 1 <= request.vcpus <= MAX_VCPUS:
                raise ApiError("BAD_ARGUMENT", f"vcpus must be 1..{MAX_VCPUS}, not {request.vcpus}")
            return ["--cpus", str(request.vcpus)]

        return await self._set(context, request.domain, request.options, build)

    async def SetMemory(
        self, request: domains_pb2.SetMemoryRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> common_pb2.JobReply:
        def build() -> list[str]:
            if request.memory_kib < 1024:
                raise ApiError("BAD_ARGUMENT", "memory must be at least 1024 KiB")
            # The same mapping as memtune: --ram on a VSwap host, --privvmpages on UBC.
            current = self._spec(self._resolve(request.domain))
            wanted = with_memory(current, hard_kib=request.memory_kib)
            return plan_update(current, wanted, vswap=self._runtime.vswap)

        return await self._set(context, request.domain, request.options, build)

    async def SetMemoryParameters(
        self,
        request: domains_pb2.SetMemoryParametersRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> common_pb2.JobReply:
        def build() -> list[str]:
            has = request.HasField
            if not any(
                (
                    has("hard_limit_kib"),
                    has("soft_limit_kib"),
                    has("swap_hard_limit_kib"),
                    has("min_guarantee_kib"),
                )
            ):
                raise ApiError("BAD_ARGUMENT", "give at least one memory parameter to change")
            if has("hard_limit_kib") and request.hard_limit_kib < 1024:
                raise ApiError("BAD_ARGUMENT", "the hard limit must be at least 1024 KiB")
            current = self._spec(self._resolve(request.domain))
            wanted = with_memory(
                current,
                hard_kib=request.hard_limit_kib if has("hard_limit_kib") else None,
                soft_kib=request.soft_limit_kib if has("soft_limit_kib") else None,
                swap_hard_kib=request.swap_hard_limit_kib if has("swap_hard_limit_kib") else None,
                min_guarantee_kib=request.min_guarantee_kib if has("min_guarantee_kib") else None,
            )
            return plan_update(current, wanted, vswap=self._runtime.vswap)

        return await self._set(context, request.domain, request.options, build)

    async def SetHostname(
        self, request: domains_pb2.SetHostnameRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> common_pb2.JobReply:
        return await self._set(
            context,
            request.domain,
            request.options,
            lambda: ["--hostname", validate_hostname(request.hostname)],
        )

    async def SetNameservers(
        self,
        request: domains_pb2.SetNameserversRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> common_pb2.JobReply:
        def build() -> list[str]:
            args: list[str] = []
            for server in request.nameservers:
                args += ["--nameserver", validate_nameserver(server)]
            for domain in request.search_domains:
                args += ["--searchdomain", validate_search_domain(domain)]
            if not args:
                raise ApiError("BAD_ARGUMENT", "give nameservers or search domains")
            return args

        return await self._set(context, request.domain, request.options, build)

    async def SetUserPassword(
        self,
        request: domains_pb2.SetUserPasswordRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> common_pb2.JobReply:
        def build() -> list[str]:
            user = validate_user_name(request.user)
            validate_text(request.password, "the password")
            if ":" in request.password or not request.password:
                raise ApiError("BAD_ARGUMENT", "the password must be non-empty and without ':'")
            return ["--userpasswd", f"{user}:{request.password}"]

        return await self._set(context, request.domain, request.options, build)

    async def AttachDevice(
        self, request: domains_pb2.DeviceRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> common_pb2.JobReply:
        return await self._device(context, request, attach=True)

    async def DetachDevice(
        self, request: domains_pb2.DeviceRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> common_pb2.JobReply:
        return await self._device(context, request, attach=False)

    async def UpdateDevice(
        self, request: domains_pb2.DeviceRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> common_pb2.JobReply:
        def build() -> list[str]:
            current = self._spec(self._resolve(request.domain))
            wanted = update_device_spec(request.device_xml, current)
            return plan_update(current, wanted, vswap=self._runtime.vswap)

        return await self._set(context, request.domain, request.options, build)

    async def _device(
        self,
        context: grpc.aio.ServicerContext[Any, Any],
        request: domains_pb2.DeviceRequest,
        attach: bool,
    ) -> common_pb2.JobReply:
        def build() -> list[str]:
            veid = self._resolve(request.domain)
            in_use = host_dev_owners(
                {v: c.values for v, c in self._runtime.host.containers.items()}
            )
            return device_args(
                request.device_xml, self._spec(veid), attach=attach, host_devs_in_use=in_use
            )

        return await self._set(context, request.domain, request.options, build)

    async def Migrate(
        self, request: domains_pb2.MigrateRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> common_pb2.JobReply:
        destination = request.destination
        if (
            not destination
            or destination.startswith("-")
            or not destination.isprintable()
            or any(c.isspace() for c in destination)
        ):
            await abort(
                context,
                "BAD_ARGUMENT",
                "destination must be a host name or address vzmigrate can reach",
            )
        params = {
            "destination": destination,
            "online": request.online,
            "keep_source": request.keep_source,
        }
        return await self._job(context, "migrate", request.domain, request.options, params)


def _interface_stats(
    veid: int, spec: Any, devices: dict[str, InterfaceCounters]
) -> list[domains_pb2.InterfaceStats]:
    """The container's veths as the guest counts them, named by their host device
    (vethCTID.N, what `virsh domifstat` takes). venet has no per-container device
    on the host: a venet-only container has no entry rather than made-up numbers."""
    found = []
    for interface in spec.interfaces:
        host_dev = interface.host_dev or default_host_dev(veid, interface.guest_dev)
        counters = devices.get(host_dev)
        if counters is not None:  # None: not running, or the veth is not up
            found.append(guest_interface_to_proto(host_dev, counters))
    return found


def default_host_dev(veid: int, guest_dev: str) -> str:
    """vzctl's host-side name when NETIF has no host_ifname: vethCTID.N (spec §6.1)."""
    digits = len(guest_dev) - len(guest_dev.rstrip("0123456789"))
    return f"veth{veid}.{guest_dev[-digits:] if digits else 0}"
