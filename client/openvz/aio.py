"""The asyncio flavour of the client: the same surface as openvz.Connection,
with coroutines and async iterators.

    conn = await openvz.aio.open("openvz:///system")
    dom = await conn.lookup_by_name("101")
    await dom.create()
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc

from openvz.connection import (
    FINISHED,
    LIST_ACTIVE,
    LIST_AUTOSTART,
    LIST_INACTIVE,
    LIST_NO_AUTOSTART,
    STATE_NAMES,
    job_error,
)
from openvz.errors import AuthenticationFailed, Unavailable, from_rpc_error
from openvz.uri import URI, parse_uri
from openvz.v1 import (
    common_pb2,
    domains_pb2,
    domains_pb2_grpc,
    events_pb2,
    events_pb2_grpc,
    host_pb2,
    host_pb2_grpc,
    jobs_pb2,
    jobs_pb2_grpc,
)


async def open(uri: str | None = None) -> Connection:
    return await Connection.connect(parse_uri(uri), read_only=False)


async def open_read_only(uri: str | None = None) -> Connection:
    return await Connection.connect(parse_uri(uri), read_only=True)


class Connection:
    def __init__(self, uri: URI, channel: grpc.aio.Channel, target: str, endpoint: Any) -> None:
        self.uri = uri
        self.target = target
        self._channel = channel
        self._endpoint = endpoint
        self.domains_stub = domains_pb2_grpc.DomainsStub(channel)
        self.jobs_stub = jobs_pb2_grpc.JobsStub(channel)
        self._host = host_pb2_grpc.HostStub(channel)

    @classmethod
    async def connect(cls, uri: URI, read_only: bool) -> Connection:
        read_only = read_only or uri.read_only
        if uri.transport == "unix":
            target = f"unix:{uri.socket_path(read_only)}"
            return cls(uri, grpc.aio.insecure_channel(target), target, None)
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
        return cls(uri, endpoint.aio_channel(), uri.text, endpoint)

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

    async def list_all_domains(self, flags: int = 0) -> list[Domain]:
        request = domains_pb2.ListDomainsRequest(
            active=bool(flags & LIST_ACTIVE),
            inactive=bool(flags & LIST_INACTIVE),
            autostart=bool(flags & LIST_AUTOSTART),
            no_autostart=bool(flags & LIST_NO_AUTOSTART),
        )
        reply = await self.call(self.domains_stub.List, request)
        return [Domain(self, d) for d in reply.domains]

    async def _lookup(self, ref: common_pb2.DomainRef) -> Domain:
        return Domain(self, await self.call(self.domains_stub.Lookup, ref))

    async def lookup_by_name(self, name: str) -> Domain:
        return await self._lookup(common_pb2.DomainRef(name=name))

    async def lookup_by_id(self, veid: int) -> Domain:
        return await self._lookup(common_pb2.DomainRef(id=veid))

    async def lookup_by_uuid(self, uuid: str) -> Domain:
        return await self._lookup(common_pb2.DomainRef(uuid=uuid))

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
        return await self.lookup_by_id(reply.job.veid)

    async def all_domain_stats(self) -> list[Any]:
        reply = await self.call(self.domains_stub.GetStats, domains_pb2.GetStatsRequest())
        return list(reply.stats)

    async def job(self, job_id: str) -> Job:
        return Job(self, await self.call(self.jobs_stub.Get, jobs_pb2.JobRef(id=job_id)))

    async def events(
        self, after_seq: int = 0, include_jobs: bool = False
    ) -> AsyncIterator[events_pb2.Event]:
        """Events as they come; reconnects and resumes after the last seen one."""
        stub = events_pb2_grpc.EventsStub(self._channel)
        last = after_seq
        while True:
            request = events_pb2.WatchRequest(after_seq=last, include_jobs=include_jobs)
            try:
                async for event in stub.Watch(request):
                    last = max(last, event.seq)
                    yield event
                return
            except grpc.aio.AioRpcError as err:
                if err.code() is not grpc.StatusCode.UNAVAILABLE:
                    raise from_rpc_error(err, self.target) from None
                await asyncio.sleep(1.0)


class Job:
    def __init__(self, conn: Connection, message: common_pb2.Job) -> None:
        self._conn = conn
        self.message = message

    @property
    def id(self) -> str:
        return self.message.id

    @property
    def state(self) -> str:
        return common_pb2.JobState.Name(self.message.state).removeprefix("JOB_STATE_").lower()

    @property
    def progress(self) -> tuple[int, str]:
        return self.message.progress_percent, self.message.progress_step

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
        if self.message.state in FINISHED and self.message.state != common_pb2.JOB_STATE_SUCCEEDED:
            raise job_error(self.message)
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

    def _ref(self) -> common_pb2.DomainRef:
        return common_pb2.DomainRef(id=int(self.message.name))

    def name(self) -> str:
        return self.message.name

    def id(self) -> int:
        return self.message.id

    def uuid_string(self) -> str:
        return self.message.uuid

    async def state(self) -> tuple[str, str]:
        self.message = await self._conn.call(self._conn.domains_stub.Lookup, self._ref())
        return STATE_NAMES.get(self.message.state, "no state"), self.message.state_reason

    async def info(self) -> domains_pb2.DomainInfo:
        return await self._conn.call(self._conn.domains_stub.GetInfo, self._ref())  # type: ignore[no-any-return]

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

    async def undefine(self, wait: bool = True) -> Job | None:
        return await self._job("Undefine", domains_pb2.UndefineRequest(domain=self._ref()), wait)

    async def set_autostart(self, autostart: bool, wait: bool = True) -> Job | None:
        request = domains_pb2.SetAutostartRequest(domain=self._ref(), autostart=autostart)
        return await self._job("SetAutostart", request, wait)

    async def set_vcpus(self, vcpus: int, wait: bool = True) -> Job | None:
        request = domains_pb2.SetVcpusRequest(domain=self._ref(), vcpus=vcpus)
        return await self._job("SetVcpus", request, wait)

    async def set_memory(self, memory_kib: int, wait: bool = True) -> Job | None:
        request = domains_pb2.SetMemoryRequest(domain=self._ref(), memory_kib=memory_kib)
        return await self._job("SetMemory", request, wait)

    async def attach_device(self, xml: str, wait: bool = True) -> Job | None:
        request = domains_pb2.DeviceRequest(domain=self._ref(), device_xml=xml)
        return await self._job("AttachDevice", request, wait)

    async def detach_device(self, xml: str, wait: bool = True) -> Job | None:
        request = domains_pb2.DeviceRequest(domain=self._ref(), device_xml=xml)
        return await self._job("DetachDevice", request, wait)
