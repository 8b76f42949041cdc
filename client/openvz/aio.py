"""The asyncio flavour of the client: the same surface as openvz.Connection,
with coroutines and async iterators.

    conn = await openvz.aio.open("openvz:///system")
    dom = await conn.lookup_by_name("101")
    await dom.create()
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

import grpc

from openvz.connection import (
    FINISHED,
    LIST_ACTIVE,
    LIST_INACTIVE,
    LOCAL_CHANNEL_OPTIONS,
    RECONNECT_DELAYS,
    STATE_NAMES,
    is_uuid,
    job_state,
    list_request,
    memory_parameters_request,
    state_filter,
)
from openvz.errors import (
    AuthenticationFailed,
    Error,
    Timeout,
    Unavailable,
    from_rpc_error,
    job_error,
)
from openvz.service import Service
from openvz.uri import URI, parse_uri
from openvz.v1 import common_pb2, domains_pb2, events_pb2, host_pb2, jobs_pb2

if TYPE_CHECKING:
    from openvz.sessions import AsyncConsoleSession, AsyncExecSession


async def open(uri: str | None = None) -> Connection:
    return await Connection.connect(parse_uri(uri), read_only=False)


async def open_read_only(uri: str | None = None) -> Connection:
    return await Connection.connect(parse_uri(uri), read_only=True)


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
        self.domains_stub = Service(channel, "Domains")
        self.jobs_stub = Service(channel, "Jobs")
        self._host = Service(channel, "Host")

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

    async def close(self) -> None:
        await self._channel.close()
        if self._endpoint is not None:
            self._endpoint.close()

    async def __aenter__(self) -> Connection:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def call(self, method: Any, request: Any, timeout: float | None = 30.0) -> Any:
        try:
            return await method(request, timeout=timeout)
        except grpc.aio.AioRpcError as err:
            raise from_rpc_error(err, self.target) from None

    # -- the connection and the host ------------------------------------------------

    def get_uri(self) -> str:
        return self.uri.text

    def is_read_only(self) -> bool:
        return self.read_only

    async def version(self) -> host_pb2.Version:
        return await self.call(self._host.GetVersion, host_pb2.VersionRequest())  # type: ignore[no-any-return]

    async def hostname(self) -> str:
        reply = await self.call(self._host.GetHostname, host_pb2.HostnameRequest())
        return str(reply.hostname)

    async def node_info(self) -> host_pb2.NodeInfo:
        return await self.call(self._host.GetNodeInfo, host_pb2.NodeInfoRequest())  # type: ignore[no-any-return]

    async def capabilities(self) -> str:
        reply = await self.call(self._host.GetCapabilities, host_pb2.CapabilitiesRequest())
        return str(reply.xml)

    async def host_check(self) -> list[host_pb2.HostCheck]:
        return list((await self.call(self._host.Check, host_pb2.CheckRequest())).checks)

    # -- domains -----------------------------------------------------------------

    async def list_all_domains(self, flags: int = 0, names_only: bool = False) -> list[Domain]:
        reply = await self.call(self.domains_stub.List, list_request(flags, names_only))
        keep = state_filter(flags)
        return [Domain(self, d) for d in reply.domains if keep(d)]

    async def list_domains_id(self) -> list[int]:
        return [d.id() for d in await self.list_all_domains(LIST_ACTIVE)]

    async def list_defined_domains(self) -> list[str]:
        return [d.name() for d in await self.list_all_domains(LIST_INACTIVE)]

    async def num_of_domains(self) -> int:
        return len(await self.list_all_domains(LIST_ACTIVE, names_only=True))

    async def num_of_defined_domains(self) -> int:
        return len(await self.list_all_domains(LIST_INACTIVE, names_only=True))

    async def _lookup(self, ref: common_pb2.DomainRef) -> Domain:
        return Domain(self, await self.call(self.domains_stub.Lookup, ref))

    async def lookup_by_name(self, name: str) -> Domain:
        return await self._lookup(common_pb2.DomainRef(name=name))

    async def lookup_by_id(self, veid: int) -> Domain:
        return await self._lookup(common_pb2.DomainRef(id=veid))

    async def lookup_by_uuid(self, uuid: str) -> Domain:
        return await self._lookup(common_pb2.DomainRef(uuid=uuid))

    lookup_by_uuid_string = lookup_by_uuid

    async def lookup(self, text: str) -> Domain:
        if is_uuid(text):
            return await self.lookup_by_uuid(text)
        return await self.lookup_by_name(text)

    async def define_xml(self, xml: str, wait: bool = True) -> Domain | Job:
        return await self._define(self.domains_stub.Define, xml, wait)

    async def create_xml(self, xml: str, wait: bool = True) -> Domain | Job:
        return await self._define(self.domains_stub.Create, xml, wait)

    async def _define(self, method: Any, xml: str, wait: bool) -> Domain | Job:
        options = common_pb2.JobOptions(no_wait=not wait)
        request = domains_pb2.DefineRequest(xml=xml, options=options)
        reply = await self.call(method, request, None)
        if not wait:
            return Job(self, reply.job)
        return await self.lookup_by_id(reply.job.result_veid)

    async def get_all_domain_stats(
        self, active_only: bool = False
    ) -> list[domains_pb2.DomainStats]:
        request = domains_pb2.GetStatsRequest(active_only=active_only)
        return list((await self.call(self.domains_stub.GetStats, request)).stats)

    all_domain_stats = get_all_domain_stats

    async def domain_list_get_stats(self, domains: list[Domain]) -> list[domains_pb2.DomainStats]:
        request = domains_pb2.GetStatsRequest(domains=[d._ref() for d in domains])
        return list((await self.call(self.domains_stub.GetStats, request)).stats)

    # -- jobs and events -----------------------------------------------------------

    async def list_jobs(self, veid: int = 0, limit: int = 0) -> list[Job]:
        request = jobs_pb2.ListJobsRequest(veid=veid, limit=limit)
        reply = await self.call(self.jobs_stub.List, request)
        return [Job(self, j) for j in reply.jobs]

    async def job(self, job_id: str) -> Job:
        return Job(self, await self.call(self.jobs_stub.Get, jobs_pb2.JobRef(id=job_id)))

    async def events(
        self,
        after_seq: int = 0,
        include_jobs: bool = False,
        veids: list[int] | None = None,
        reconnect: bool = True,
    ) -> AsyncIterator[events_pb2.Event]:
        """Events as they come; reconnects and resumes after the last one seen."""
        stub = Service(self._channel, "Events")
        last = after_seq
        failures = 0
        while True:
            request = events_pb2.WatchRequest(
                after_seq=last, include_jobs=include_jobs, veids=veids or []
            )
            try:
                async for event in stub.Watch(request):
                    failures = 0
                    last = max(last, event.seq)
                    yield event
            except grpc.aio.AioRpcError as err:
                if not reconnect or err.code() is not grpc.StatusCode.UNAVAILABLE:
                    raise from_rpc_error(err, self.target) from None
            if not reconnect:
                return
            await asyncio.sleep(RECONNECT_DELAYS[min(failures, len(RECONNECT_DELAYS) - 1)])
            failures += 1


class Job:
    def __init__(self, conn: Connection, message: common_pb2.Job) -> None:
        self._conn = conn
        self.message = message

    def __repr__(self) -> str:
        return f"<openvz.aio.Job {self.id} {self.message.operation} {self.message.veid}>"

    @property
    def id(self) -> str:
        return self.message.id

    @property
    def state(self) -> str:
        return job_state(self.message)

    @property
    def done(self) -> bool:
        return self.message.state in FINISHED

    @property
    def progress(self) -> tuple[int, str]:
        return self.message.progress_percent, self.message.progress_step

    @property
    def error(self) -> Error | None:
        if not self.done or self.message.state == common_pb2.JOB_STATE_SUCCEEDED:
            return None
        return job_error(self.message)

    async def refresh(self) -> Job:
        request = jobs_pb2.JobRef(id=self.id)
        self.message = await self._conn.call(self._conn.jobs_stub.Get, request)
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
            raise Timeout(
                f"job {self.id} ({self.message.operation}) is still {self.state} after {timeout} s",
                grpc.StatusCode.DEADLINE_EXCEEDED,
                self.id,
            )
        error = self.error
        if error is not None:
            raise error
        return self

    async def cancel(self) -> Job:
        self.message = await self._conn.call(
            self._conn.jobs_stub.Cancel, jobs_pb2.JobRef(id=self.id)
        )
        return self


class Domain:
    def __init__(self, conn: Connection, message: domains_pb2.Domain) -> None:
        self._conn = conn
        self.message = message

    def __repr__(self) -> str:
        return f"<openvz.aio.Domain {self.message.name}>"

    def _ref(self) -> common_pb2.DomainRef:
        return common_pb2.DomainRef(id=int(self.message.name))

    def connect(self) -> Connection:
        return self._conn

    async def exec(self, argv: Sequence[str] = (), **options: Any) -> AsyncExecSession:
        """argv in the container (openvz.sessions); options: env, cwd, pty, size=(rows, cols)."""
        from openvz.sessions import AsyncExecSession

        return await AsyncExecSession.start(self._conn, self._ref(), argv, **options)

    async def console(self, force: bool = False) -> AsyncConsoleSession:
        from openvz.sessions import AsyncConsoleSession

        return await AsyncConsoleSession.attach(self._conn, self._ref(), force)

    def name(self) -> str:
        return self.message.name

    def id(self) -> int:
        return self.message.id

    def uuid_string(self) -> str:
        return self.message.uuid

    def is_active(self) -> bool:
        return self.message.state in (
            domains_pb2.DOMAIN_STATE_RUNNING,
            domains_pb2.DOMAIN_STATE_PAUSED,
        )

    def is_persistent(self) -> bool:
        return bool(self.message.persistent)

    async def refresh(self) -> Domain:
        self.message = await self._conn.call(self._conn.domains_stub.Lookup, self._ref())
        return self

    async def state(self) -> tuple[str, str]:
        await self.refresh()
        return STATE_NAMES.get(self.message.state, "no state"), self.message.state_reason

    async def info(self) -> domains_pb2.DomainInfo:
        return await self._conn.call(self._conn.domains_stub.GetInfo, self._ref())  # type: ignore[no-any-return]

    async def os_type(self) -> str:
        return (await self.info()).os_type

    async def max_memory(self) -> int:
        return (await self.info()).max_memory_kib

    async def has_managed_save_image(self) -> bool:
        return (await self.info()).has_managed_save

    async def hostname(self) -> str:
        return (await self.refresh()).message.hostname

    async def xml_desc(self, inactive: bool = False) -> str:
        request = domains_pb2.GetXMLRequest(domain=self._ref(), inactive=inactive)
        return str((await self._conn.call(self._conn.domains_stub.GetXML, request)).xml)

    async def interface_stats(self, device: str) -> domains_pb2.InterfaceStats:
        """Counters of one interface, by host device (vethCTID.N) or guest name (eth0),
        as the guest counts them; NotFound names the interfaces there are."""
        from openvz.interfaces import guest_to_host_devices, pick_interface

        request = domains_pb2.GetStatsRequest(domains=[self._ref()])
        interfaces = (
            (await self._conn.call(self._conn.domains_stub.GetStats, request)).stats[0].interfaces
        )
        if any(i.device == device for i in interfaces):
            guest_devices: dict[str, str] = {}
        else:
            guest_devices = guest_to_host_devices(await self.xml_desc())
        return pick_interface(self.name(), interfaces, device, guest_devices)

    async def stats(self) -> domains_pb2.DomainStats:
        request = domains_pb2.GetStatsRequest(domains=[self._ref()])
        reply = await self._conn.call(self._conn.domains_stub.GetStats, request)
        return reply.stats[0]  # type: ignore[no-any-return]

    async def memory_parameters(self) -> domains_pb2.MemoryParameters:
        return await self._conn.call(  # type: ignore[no-any-return]
            self._conn.domains_stub.GetMemoryParameters, self._ref()
        )

    async def autostart(self) -> bool:
        return bool((await self.refresh()).message.autostart)

    async def _job(self, method_name: str, request: Any, wait: bool) -> Job | None:
        request.options.CopyFrom(common_pb2.JobOptions(no_wait=not wait))
        reply = await self._conn.call(getattr(self._conn.domains_stub, method_name), request, None)
        return None if wait else Job(self._conn, reply.job)

    async def _call(self, method_name: str, wait: bool) -> Job | None:
        return await self._job(method_name, domains_pb2.DomainCall(domain=self._ref()), wait)

    async def create(self, wait: bool = True) -> Job | None:
        return await self._call("Start", wait)

    async def destroy(self, wait: bool = True) -> Job | None:
        return await self._call("Destroy", wait)

    async def reboot(self, wait: bool = True) -> Job | None:
        return await self._call("Reboot", wait)

    async def suspend(self, wait: bool = True) -> Job | None:
        return await self._call("Suspend", wait)

    async def resume(self, wait: bool = True) -> Job | None:
        return await self._call("Resume", wait)

    async def shutdown(self, timeout: int = 0, wait: bool = True) -> Job | None:
        request = domains_pb2.ShutdownRequest(domain=self._ref(), timeout_seconds=timeout)
        return await self._job("Shutdown", request, wait)

    async def undefine(self, keep_storage: bool = False, wait: bool = True) -> Job | None:
        request = domains_pb2.UndefineRequest(domain=self._ref(), keep_storage=keep_storage)
        return await self._job("Undefine", request, wait)

    async def set_autostart(self, autostart: bool, wait: bool = True) -> Job | None:
        request = domains_pb2.SetAutostartRequest(domain=self._ref(), autostart=autostart)
        return await self._job("SetAutostart", request, wait)

    async def set_vcpus(self, vcpus: int, wait: bool = True) -> Job | None:
        request = domains_pb2.SetVcpusRequest(domain=self._ref(), vcpus=vcpus)
        return await self._job("SetVcpus", request, wait)

    async def set_memory(self, memory_kib: int, wait: bool = True) -> Job | None:
        request = domains_pb2.SetMemoryRequest(domain=self._ref(), memory_kib=memory_kib)
        return await self._job("SetMemory", request, wait)

    async def set_memory_parameters(self, wait: bool = True, **kib: int) -> Job | None:
        request = memory_parameters_request(self._ref(), kib)
        return await self._job("SetMemoryParameters", request, wait)

    async def set_hostname(self, hostname: str, wait: bool = True) -> Job | None:
        request = domains_pb2.SetHostnameRequest(domain=self._ref(), hostname=hostname)
        return await self._job("SetHostname", request, wait)

    async def set_nameservers(
        self, nameservers: list[str], search_domains: list[str] | None = None, wait: bool = True
    ) -> Job | None:
        request = domains_pb2.SetNameserversRequest(
            domain=self._ref(), nameservers=nameservers, search_domains=search_domains or []
        )
        return await self._job("SetNameservers", request, wait)

    async def set_user_password(self, user: str, password: str, wait: bool = True) -> Job | None:
        request = domains_pb2.SetUserPasswordRequest(
            domain=self._ref(), user=user, password=password
        )
        return await self._job("SetUserPassword", request, wait)

    async def attach_device(self, xml: str, wait: bool = True) -> Job | None:
        request = domains_pb2.DeviceRequest(domain=self._ref(), device_xml=xml)
        return await self._job("AttachDevice", request, wait)

    async def detach_device(self, xml: str, wait: bool = True) -> Job | None:
        request = domains_pb2.DeviceRequest(domain=self._ref(), device_xml=xml)
        return await self._job("DetachDevice", request, wait)

    async def update_device(self, xml: str, wait: bool = True) -> Job | None:
        request = domains_pb2.DeviceRequest(domain=self._ref(), device_xml=xml)
        return await self._job("UpdateDevice", request, wait)

    async def migrate(
        self, destination: str, online: bool = False, keep_source: bool = False, wait: bool = True
    ) -> Job | None:
        request = domains_pb2.MigrateRequest(
            domain=self._ref(), destination=destination, online=online, keep_source=keep_source
        )
        return await self._job("Migrate", request, wait)
