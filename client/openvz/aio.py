"""The asyncio face of the client: the same surface as openvz.Connection, Domain and
Job, with coroutines and async iterators, over the same calls (openvz.calls).

    conn = await openvz.aio.open("openvz:///system")
    dom = await conn.lookup_by_name("101")
    await dom.create()

Domain.id() and Domain.is_active() are coroutines here: they ask the daemon.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import grpc

from openvz import calls
from openvz.calls import (
    ACTIVE_STATES,
    LIST_ACTIVE,
    LIST_INACTIVE,
    STATE_NAMES,
    Call,
    DomainView,
    JobView,
    domain_call,
)
from openvz.connection import LOCAL_CHANNEL_OPTIONS, RECONNECT_DELAYS
from openvz.errors import AuthenticationFailed, Timeout, Unavailable, from_rpc_error
from openvz.service import Service
from openvz.uri import URI, parse_uri
from openvz.v1 import common_pb2, domains_pb2, events_pb2, host_pb2, jobs_pb2

if TYPE_CHECKING:
    from openvz.sessions import AsyncConsoleSession, AsyncExecSession

T = TypeVar("T")


async def open(uri: str | None = None) -> Connection:
    """Raises Unavailable at once when the daemon cannot be reached."""
    return await (await Connection.connect(parse_uri(uri), read_only=False)).probe()


async def open_read_only(uri: str | None = None) -> Connection:
    return await (await Connection.connect(parse_uri(uri), read_only=True)).probe()


class Connection:
    def __init__(
        self,
        uri: URI,
        channel: grpc.aio.Channel,
        target: str,
        endpoint: Any,
        read_only: bool = False,
    ) -> None:
        self.uri = uri
        self.target = target
        self.read_only = read_only
        self._channel = channel
        self._endpoint = endpoint
        self._closed = False
        self._services = {name: Service(channel, name) for name in ("Domains", "Jobs", "Host")}
        # The services' calls, for streams that are no openvz.calls call (Jobs.Wait).
        self.domains_stub = self._services["Domains"]
        self.jobs_stub = self._services["Jobs"]

    @classmethod
    async def connect(cls, uri: URI, read_only: bool) -> Connection:
        read_only = read_only or uri.read_only
        if uri.transport == "unix":
            target = f"unix:{uri.socket_path(read_only)}"
            channel = grpc.aio.insecure_channel(target, options=LOCAL_CHANNEL_OPTIONS)
            return cls(uri, channel, target, None, read_only)
        from openvz.transport import AuthenticationFailed as TransportAuthFailed
        from openvz.transport import TransportError, open_remote_async

        params = dict(uri.params)
        if read_only:
            params["readonly"] = "1"
        try:
            endpoint = await open_remote_async(
                uri.transport, uri.host or "", uri.port, uri.user, params
            )
        except TransportAuthFailed as err:
            raise AuthenticationFailed(
                f"{uri.text} refused the login: {err}", grpc.StatusCode.UNAUTHENTICATED
            ) from None
        except TransportError as err:
            raise Unavailable(f"cannot reach {uri.text}: {err}") from None
        return cls(uri, endpoint.aio_channel(), uri.text, endpoint, read_only)

    async def probe(self) -> Connection:
        """Ask the daemon once, so an unreachable one fails here; closes on failure."""
        try:
            await self.version()
        except BaseException:
            await self.close()
            raise
        return self

    async def close(self) -> None:
        self._closed = True
        await self._channel.close()
        if self._endpoint is not None:
            self._endpoint.close()

    async def __aenter__(self) -> Connection:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def run(self, call: Call[T]) -> T:
        """Run one call of openvz.calls: each Rpc it yields, made and answered in turn."""
        rpc = next(call)
        while True:
            method = getattr(self._services[rpc.service], rpc.method)
            try:
                reply = await method(rpc.request, timeout=rpc.timeout)
            except grpc.aio.AioRpcError as err:
                raise from_rpc_error(err, self.target) from None
            try:
                rpc = call.send(reply)
            except StopIteration as finished:
                result: T = finished.value
                return result

    # -- the connection and the host ------------------------------------------------

    def get_uri(self) -> str:
        return self.uri.text

    def is_read_only(self) -> bool:
        return self.read_only

    async def version(self) -> host_pb2.Version:
        version: host_pb2.Version = await self.run(calls.host_call("GetVersion"))
        return version

    async def hostname(self) -> str:
        return await self.run(calls.hostname())

    async def node_info(self) -> host_pb2.NodeInfo:
        node: host_pb2.NodeInfo = await self.run(calls.host_call("GetNodeInfo"))
        return node

    async def node_cpu_stats(self, cpu: int | None = None) -> host_pb2.NodeCPUStats:
        """The host's CPU times since boot in ns (virsh nodecpustats): one CPU's,
        or with no cpu all CPUs' summed."""
        return await self.run(calls.node_cpu_stats(cpu))

    async def capabilities(self) -> str:
        return await self.run(calls.capabilities())

    async def host_check(self) -> list[host_pb2.HostCheck]:
        return await self.run(calls.host_check())

    # -- domains -----------------------------------------------------------------

    async def list_all_domains(self, flags: int = 0, names_only: bool = False) -> list[Domain]:
        return [Domain(self, d) for d in await self.run(calls.list_domains(flags, names_only))]

    async def list_domains_id(self) -> list[int]:
        return [d.message.id for d in await self.list_all_domains(LIST_ACTIVE)]

    async def list_defined_domains(self) -> list[str]:
        return [d.name() for d in await self.list_all_domains(LIST_INACTIVE)]

    async def num_of_domains(self) -> int:
        return len(await self.list_all_domains(LIST_ACTIVE, names_only=True))

    async def num_of_defined_domains(self) -> int:
        return len(await self.list_all_domains(LIST_INACTIVE, names_only=True))

    async def _lookup(self, ref: common_pb2.DomainRef) -> Domain:
        return Domain(self, await self.run(calls.lookup(ref)))

    async def lookup_by_name(self, name: str) -> Domain:
        return await self._lookup(common_pb2.DomainRef(name=name))

    async def lookup_by_id(self, veid: int) -> Domain:
        return await self._lookup(common_pb2.DomainRef(id=veid))

    async def lookup_by_uuid(self, uuid: str) -> Domain:
        return await self._lookup(common_pb2.DomainRef(uuid=uuid))

    lookup_by_uuid_string = lookup_by_uuid

    async def lookup(self, text: str) -> Domain:
        return await self._lookup(calls.ref_of(text))

    async def define_xml(self, xml: str, wait: bool = True) -> Domain | Job:
        return await self._define("Define", xml, wait)

    async def create_xml(self, xml: str, wait: bool = True) -> Domain | Job:
        return await self._define("Create", xml, wait)

    async def _define(self, method: str, xml: str, wait: bool) -> Domain | Job:
        result = await self.run(calls.define(method, xml, wait))
        if isinstance(result, domains_pb2.Domain):
            return Domain(self, result)
        return Job(self, result)

    async def get_all_domain_stats(
        self, active_only: bool = False
    ) -> list[domains_pb2.DomainStats]:
        return await self.run(calls.stats([], active_only))

    all_domain_stats = get_all_domain_stats

    async def domain_list_get_stats(self, domains: list[Domain]) -> list[domains_pb2.DomainStats]:
        return await self.run(calls.stats([d._ref() for d in domains]))

    # -- jobs and events -----------------------------------------------------------

    async def list_jobs(self, veid: int = 0, limit: int = 0) -> list[Job]:
        return [Job(self, j) for j in await self.run(calls.list_jobs(veid, limit))]

    async def job(self, job_id: str) -> Job:
        return Job(self, await self.run(calls.job("Get", job_id)))

    def domain_of(self, event: events_pb2.Event) -> Domain | None:
        """The Domain a lifecycle event is about, as the daemon sent it with the event."""
        if not event.HasField("lifecycle") or not event.lifecycle.HasField("domain"):
            return None
        return Domain(self, event.lifecycle.domain)

    async def events(
        self,
        after_seq: int = 0,
        include_jobs: bool = False,
        veids: list[int] | None = None,
        reconnect: bool = True,
    ) -> AsyncIterator[events_pb2.Event]:
        """Events as they come; reconnects and resumes after the last one seen;
        close() ends the iteration without an error."""
        stub = Service(self._channel, "Events")
        last = after_seq
        failures = 0
        while not self._closed:
            request = events_pb2.WatchRequest(
                after_seq=last, include_jobs=include_jobs, veids=veids or []
            )
            try:
                async for event in stub.Watch(request):
                    failures = 0
                    last = max(last, event.seq)
                    yield event
            except (grpc.aio.AioRpcError, asyncio.CancelledError, grpc.aio.UsageError) as err:
                if self._closed:
                    return
                if not isinstance(err, grpc.aio.AioRpcError):
                    raise
                if not reconnect or err.code() is not grpc.StatusCode.UNAVAILABLE:
                    raise from_rpc_error(err, self.target) from None
            if not reconnect:
                return
            await asyncio.sleep(RECONNECT_DELAYS[min(failures, len(RECONNECT_DELAYS) - 1)])
            failures += 1


class Job(JobView):
    def __init__(self, conn: Connection, message: common_pb2.Job) -> None:
        self._conn = conn
        self.message = message

    async def refresh(self) -> Job:
        self.message = await self._conn.run(calls.job("Get", self.id))
        return self

    async def watch(self, timeout: float | None = None) -> AsyncIterator[Job]:
        request = jobs_pb2.WaitJobRequest(id=self.id, timeout_seconds=timeout or 0)
        try:
            async for message in self._conn.jobs_stub.Wait(request):
                self.message = message
                yield self
        except grpc.aio.AioRpcError as err:
            raise from_rpc_error(err, self._conn.target) from None

    async def wait(self, timeout: float | None = None) -> Job:
        async for _ in self.watch(timeout):
            pass
        if not self.done:
            message = calls.job_timeout_message(self.message, timeout)
            raise Timeout(message, grpc.StatusCode.DEADLINE_EXCEEDED, self.id)
        error = self.error
        if error is not None:
            raise error
        return self

    async def cancel(self) -> Job:
        self.message = await self._conn.run(calls.job("Cancel", self.id))
        return self


class Domain(DomainView):
    def __init__(self, conn: Connection, message: domains_pb2.Domain) -> None:
        self._conn = conn
        self.message = message

    def connect(self) -> Connection:
        return self._conn

    async def exec(self, argv: Sequence[str] = (), **options: Any) -> AsyncExecSession:
        """argv in the container (openvz.sessions); options: env, cwd, pty, size=(rows, cols)."""
        from openvz.sessions import AsyncExecSession

        return await AsyncExecSession.start(self._conn, self._ref(), argv, **options)

    async def console(self, force: bool = False) -> AsyncConsoleSession:
        from openvz.sessions import AsyncConsoleSession

        return await AsyncConsoleSession.attach(self._conn, self._ref(), force)

    async def refresh(self) -> Domain:
        self.message = await self._conn.run(calls.lookup(self._ref()))
        return self

    async def id(self) -> int:
        """The CTID while running or paused, else -1, as the daemon has it now."""
        return (await self.refresh()).message.id

    async def is_active(self) -> bool:
        return (await self.refresh()).message.state in ACTIVE_STATES

    async def state(self) -> tuple[str, str]:
        await self.refresh()
        return STATE_NAMES.get(self.message.state, "no state"), self.message.state_reason

    async def info(self) -> domains_pb2.DomainInfo:
        info = await self._conn.run(calls.info(self._ref()))
        self.message = info.domain
        return info

    async def os_type(self) -> str:
        return (await self.info()).os_type

    async def max_memory(self) -> int:
        return (await self.info()).max_memory_kib

    async def has_managed_save_image(self) -> bool:
        return (await self.info()).has_managed_save

    async def hostname(self) -> str:
        return (await self.refresh()).message.hostname

    async def autostart(self) -> bool:
        return bool((await self.refresh()).message.autostart)

    async def xml_desc(self, inactive: bool = False) -> str:
        return await self._conn.run(calls.xml_desc(self._ref(), inactive))

    async def stats(self) -> domains_pb2.DomainStats:
        return (await self._conn.run(calls.stats([self._ref()])))[0]

    async def interface_stats(self, device: str) -> domains_pb2.InterfaceStats:
        return await self._conn.run(calls.interface_stats(self.name(), self._ref(), device))

    async def memory_parameters(self) -> domains_pb2.MemoryParameters:
        return await self._conn.run(calls.memory_parameters(self._ref()))

    async def _change(self, method: str, request: Any, wait: bool) -> Job | None:
        job, domain = await self._conn.run(calls.change(method, request, wait))
        if domain is not None:
            self.message = domain
        return None if wait else Job(self._conn, job)

    async def create(self, wait: bool = True) -> Job | None:
        return await self._change("Start", domain_call(self._ref()), wait)

    async def destroy(self, wait: bool = True) -> Job | None:
        return await self._change("Destroy", domain_call(self._ref()), wait)

    async def reboot(self, wait: bool = True) -> Job | None:
        return await self._change("Reboot", domain_call(self._ref()), wait)

    async def suspend(self, wait: bool = True) -> Job | None:
        return await self._change("Suspend", domain_call(self._ref()), wait)

    async def resume(self, wait: bool = True) -> Job | None:
        return await self._change("Resume", domain_call(self._ref()), wait)

    async def shutdown(self, timeout: int = 0, wait: bool = True) -> Job | None:
        request = domains_pb2.ShutdownRequest(domain=self._ref(), timeout_seconds=timeout)
        return await self._change("Shutdown", request, wait)

    async def undefine(self, keep_storage: bool = False, wait: bool = True) -> Job | None:
        request = domains_pb2.UndefineRequest(domain=self._ref(), keep_storage=keep_storage)
        return await self._change("Undefine", request, wait)

    async def set_autostart(self, autostart: bool, wait: bool = True) -> Job | None:
        request = domains_pb2.SetAutostartRequest(domain=self._ref(), autostart=autostart)
        return await self._change("SetAutostart", request, wait)

    async def set_vcpus(self, vcpus: int, wait: bool = True) -> Job | None:
        request = domains_pb2.SetVcpusRequest(domain=self._ref(), vcpus=vcpus)
        return await self._change("SetVcpus", request, wait)

    async def set_memory(self, memory_kib: int, wait: bool = True) -> Job | None:
        request = domains_pb2.SetMemoryRequest(domain=self._ref(), memory_kib=memory_kib)
        return await self._change("SetMemory", request, wait)

    async def set_memory_parameters(self, wait: bool = True, **kib: int) -> Job | None:
        request = calls.memory_parameters_request(self._ref(), kib)
        return await self._change("SetMemoryParameters", request, wait)

    async def set_hostname(self, hostname: str, wait: bool = True) -> Job | None:
        request = domains_pb2.SetHostnameRequest(domain=self._ref(), hostname=hostname)
        return await self._change("SetHostname", request, wait)

    async def set_nameservers(
        self, nameservers: list[str], search_domains: list[str] | None = None, wait: bool = True
    ) -> Job | None:
        request = domains_pb2.SetNameserversRequest(
            domain=self._ref(), nameservers=nameservers, search_domains=search_domains or []
        )
        return await self._change("SetNameservers", request, wait)

    async def set_user_password(self, user: str, password: str, wait: bool = True) -> Job | None:
        request = domains_pb2.SetUserPasswordRequest(
            domain=self._ref(), user=user, password=password
        )
        return await self._change("SetUserPassword", request, wait)

    async def attach_device(self, xml: str, wait: bool = True) -> Job | None:
        request = domains_pb2.DeviceRequest(domain=self._ref(), device_xml=xml)
        return await self._change("AttachDevice", request, wait)

    async def detach_device(self, xml: str, wait: bool = True) -> Job | None:
        request = domains_pb2.DeviceRequest(domain=self._ref(), device_xml=xml)
        return await self._change("DetachDevice", request, wait)

    async def update_device(self, xml: str, wait: bool = True) -> Job | None:
        request = domains_pb2.DeviceRequest(domain=self._ref(), device_xml=xml)
        return await self._change("UpdateDevice", request, wait)

    async def migrate(
        self, destination: str, online: bool = False, keep_source: bool = False, wait: bool = True
    ) -> Job | None:
        request = domains_pb2.MigrateRequest(
            domain=self._ref(),
            destination=calls.migration_host(destination),
            online=online,
            keep_source=keep_source,
        )
        return await self._change("Migrate", request, wait)
