"""The synchronous client: Connection, Domain and Job over the generated stubs."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import grpc

from openvz.errors import Error, InvalidArgument, Unavailable, from_rpc_error
from openvz.uri import URI, parse_uri
from openvz.v1 import common_pb2, domains_pb2, domains_pb2_grpc, jobs_pb2, jobs_pb2_grpc

T = TypeVar("T")

STATE_NAMES = {
    domains_pb2.DOMAIN_STATE_RUNNING: "running",
    domains_pb2.DOMAIN_STATE_PAUSED: "paused",
    domains_pb2.DOMAIN_STATE_SHUTOFF: "shut off",
    domains_pb2.DOMAIN_STATE_SUSPENDED: "suspended",
    domains_pb2.DOMAIN_STATE_MOUNTED: "mounted",
}
FINISHED = {
    common_pb2.JOB_STATE_SUCCEEDED,
    common_pb2.JOB_STATE_FAILED,
    common_pb2.JOB_STATE_CANCELLED,
    common_pb2.JOB_STATE_INTERRUPTED,
}
# libvirt-python's virConnectListAllDomains flags, by the same names.
LIST_ACTIVE = 1
LIST_INACTIVE = 2
LIST_AUTOSTART = 64
LIST_NO_AUTOSTART = 128


def open(uri: str | None = None) -> Connection:
    return Connection(parse_uri(uri))


def open_read_only(uri: str | None = None) -> Connection:
    return Connection(parse_uri(uri), read_only=True)


class Connection:
    def __init__(self, uri: URI, read_only: bool = False) -> None:
        self.uri = uri
        self.read_only = read_only or uri.read_only
        self._endpoint: Any = None
        if uri.transport == "unix":
            self.target = f"unix:{uri.socket_path(self.read_only)}"
            self._channel = grpc.insecure_channel(self.target)
        else:
            from openvz.errors import AuthenticationFailed
            from openvz.transport import AuthenticationFailed as TransportAuthFailed
            from openvz.transport import TransportError, open_remote

            params = dict(uri.params)
            if self.read_only:
                params["readonly"] = "1"
            self.target = uri.text
            try:
                self._endpoint = open_remote(
                    uri.transport, uri.host or "", uri.port, uri.user, params
                )
            except TransportAuthFailed as err:
                raise AuthenticationFailed(
                    f"{uri.text} refused the login: {err}", grpc.StatusCode.UNAUTHENTICATED
                ) from None
            except TransportError as err:
                raise Unavailable(f"cannot reach {uri.text}: {err}") from None
            self._channel = self._endpoint.channel()
        self._domains = domains_pb2_grpc.DomainsStub(self._channel)
        self._jobs = jobs_pb2_grpc.JobsStub(self._channel)

    def close(self) -> None:
        self._channel.close()
        if self._endpoint is not None:
            self._endpoint.close()

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(self, method: Callable[..., T], request: Any, timeout: float | None = 30.0) -> T:
        try:
            return method(request, timeout=timeout)
        except grpc.RpcError as err:
            raise from_rpc_error(err, self.target) from None

    @property
    def domains_stub(self) -> domains_pb2_grpc.DomainsStub:
        return self._domains

    # -- host --------------------------------------------------------------------

    def _host(self) -> Any:
        from openvz.v1 import host_pb2_grpc

        return host_pb2_grpc.HostStub(self._channel)

    def version(self) -> Any:
        from openvz.v1 import host_pb2

        return self.call(self._host().GetVersion, host_pb2.VersionRequest())

    def hostname(self) -> str:
        from openvz.v1 import host_pb2

        return str(self.call(self._host().GetHostname, host_pb2.HostnameRequest()).hostname)

    def node_info(self) -> Any:
        from openvz.v1 import host_pb2

        return self.call(self._host().GetNodeInfo, host_pb2.NodeInfoRequest())

    def capabilities(self) -> str:
        from openvz.v1 import host_pb2

        return str(self.call(self._host().GetCapabilities, host_pb2.CapabilitiesRequest()).xml)

    def host_check(self) -> Any:
        from openvz.v1 import host_pb2

        return self.call(self._host().Check, host_pb2.CheckRequest()).checks

    # -- domains -----------------------------------------------------------------

    def list_all_domains(self, flags: int = 0, names_only: bool = False) -> list[Domain]:
        request = domains_pb2.ListDomainsRequest(
            active=bool(flags & LIST_ACTIVE),
            inactive=bool(flags & LIST_INACTIVE),
            autostart=bool(flags & LIST_AUTOSTART),
            no_autostart=bool(flags & LIST_NO_AUTOSTART),
            names_only=names_only,
        )
        reply = self.call(self._domains.List, request)
        return [Domain(self, d) for d in reply.domains]

    def _lookup(self, ref: common_pb2.DomainRef) -> Domain:
        return Domain(self, self.call(self._domains.Lookup, ref))

    def lookup_by_name(self, name: str) -> Domain:
        return self._lookup(common_pb2.DomainRef(name=name))

    def lookup_by_id(self, veid: int) -> Domain:
        return self._lookup(common_pb2.DomainRef(id=veid))

    def lookup_by_uuid(self, uuid: str) -> Domain:
        return self._lookup(common_pb2.DomainRef(uuid=uuid))

    def lookup(self, text: str) -> Domain:
        """By ID, name or UUID, as virsh takes a domain argument."""
        if len(text) == 36 and text.count("-") == 4:
            return self.lookup_by_uuid(text)
        return self.lookup_by_name(text)

    def define_xml(self, xml: str, wait: bool = True) -> Domain | Job:
        return self._define(self._domains.Define, xml, wait)

    def create_xml(self, xml: str, wait: bool = True) -> Domain | Job:
        return self._define(self._domains.Create, xml, wait)

    def _define(self, method: Any, xml: str, wait: bool) -> Domain | Job:
        options = common_pb2.JobOptions(no_wait=not wait)
        reply = self.call(method, domains_pb2.DefineRequest(xml=xml, options=options), None)
        if not wait:
            return Job(self, reply.job)
        return self.lookup_by_id(reply.job.veid)

    def all_domain_stats(self) -> list[Any]:
        return list(self.call(self._domains.GetStats, domains_pb2.GetStatsRequest()).stats)

    # -- jobs and events -----------------------------------------------------------

    def list_jobs(self, veid: int = 0, limit: int = 0) -> list[Job]:
        reply = self.call(self._jobs.List, jobs_pb2.ListJobsRequest(veid=veid, limit=limit))
        return [Job(self, j) for j in reply.jobs]

    def job(self, job_id: str) -> Job:
        return Job(self, self.call(self._jobs.Get, jobs_pb2.JobRef(id=job_id)))

    def events(self, after_seq: int = 0, include_jobs: bool = False) -> Iterator[Any]:
        """Events as they come; reconnects and resumes after the last seen one."""
        from openvz.v1 import events_pb2, events_pb2_grpc

        stub = events_pb2_grpc.EventsStub(self._channel)
        last = after_seq
        while True:
            request = events_pb2.WatchRequest(after_seq=last, include_jobs=include_jobs)
            try:
                for event in stub.Watch(request):
                    last = max(last, event.seq)
                    yield event
                return
            except grpc.RpcError as err:
                if err.code() is not grpc.StatusCode.UNAVAILABLE:
                    raise from_rpc_error(err, self.target) from None
                time.sleep(1.0)


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

    def watch(self, timeout: float | None = None) -> Iterator[Job]:
        request = jobs_pb2.WaitJobRequest(id=self.id, timeout_seconds=timeout or 0)
        try:
            for message in self._conn._jobs.Wait(request):
                self.message = message
                yield self
        except grpc.RpcError as err:
            raise from_rpc_error(err, self._conn.target) from None

    def wait(self, timeout: float | None = None) -> Job:
        """Until the job ends (or timeout); raises the job's error if it failed."""
        for _ in self.watch(timeout):
            pass
        if self.message.state in FINISHED and self.message.state != common_pb2.JOB_STATE_SUCCEEDED:
            raise job_error(self.message)
        return self

    def cancel(self) -> Job:
        self.message = self._conn.call(self._conn._jobs.Cancel, jobs_pb2.JobRef(id=self.id))
        return self


def job_error(message: common_pb2.Job) -> Error:
    from openvz import errors

    kind = common_pb2.ErrorKind.Name(message.error.kind).removeprefix("ERROR_KIND_")
    cls: type[Error] = {
        "NOT_FOUND": errors.NotFound,
        "WRONG_STATE": errors.WrongState,
        "ALREADY_EXISTS": errors.AlreadyExists,
        "BUSY": errors.Busy,
        "BAD_ARGUMENT": errors.InvalidArgument,
        "TIMED_OUT": errors.Timeout,
        "CANCELLED": errors.Cancelled,
        "NOT_SUPPORTED": errors.NotSupported,
    }.get(kind, Error)
    return cls(message.error.message, job_id=message.id)


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

    def is_active(self) -> bool:
        return self.message.state in (
            domains_pb2.DOMAIN_STATE_RUNNING,
            domains_pb2.DOMAIN_STATE_PAUSED,
        )

    def refresh(self) -> Domain:
        self.message = self._conn.call(self._conn.domains_stub.Lookup, self._ref())
        return self

    def state(self) -> tuple[str, str]:
        self.refresh()
        return STATE_NAMES.get(self.message.state, "no state"), self.message.state_reason

    def info(self) -> Any:
        return self._conn.call(self._conn.domains_stub.GetInfo, self._ref())

    def xml_desc(self, inactive: bool = False) -> str:
        request = domains_pb2.GetXMLRequest(domain=self._ref(), inactive=inactive)
        return str(self._conn.call(self._conn.domains_stub.GetXML, request).xml)

    def stats(self) -> Any:
        request = domains_pb2.GetStatsRequest(domains=[self._ref()])
        return self._conn.call(self._conn.domains_stub.GetStats, request).stats[0]

    def interface_stats(self, device: str) -> domains_pb2.InterfaceStats:
        """Counters of one interface, by host device (vethCTID.N) or guest name (eth0),
        as the guest counts them; NotFound names the interfaces there are."""
        from openvz.interfaces import guest_to_host_devices, pick_interface

        interfaces = self.stats().interfaces
        if any(i.device == device for i in interfaces):
            guest_devices: dict[str, str] = {}
        else:
            guest_devices = guest_to_host_devices(self.xml_desc())
        return pick_interface(self.name(), interfaces, device, guest_devices)

    def memory_parameters(self) -> Any:
        return self._conn.call(self._conn.domains_stub.GetMemoryParameters, self._ref())

    def autostart(self) -> bool:
        return bool(self.refresh().message.autostart)

    def _job(self, method_name: str, request: Any, wait: bool) -> Job | None:
        request.options.CopyFrom(common_pb2.JobOptions(no_wait=not wait))
        method = getattr(self._conn.domains_stub, method_name)
        reply = self._conn.call(method, request, None)
        return None if wait else Job(self._conn, reply.job)

    def _call(self, method_name: str, wait: bool) -> Job | None:
        return self._job(method_name, domains_pb2.DomainCall(domain=self._ref()), wait)

    def create(self, wait: bool = True) -> Job | None:
        return self._call("Start", wait)

    def destroy(self, wait: bool = True) -> Job | None:
        return self._call("Destroy", wait)

    def reboot(self, wait: bool = True) -> Job | None:
        return self._call("Reboot", wait)

    def suspend(self, wait: bool = True) -> Job | None:
        return self._call("Suspend", wait)

    def resume(self, wait: bool = True) -> Job | None:
        return self._call("Resume", wait)

    def shutdown(self, timeout: int = 0, wait: bool = True) -> Job | None:
        request = domains_pb2.ShutdownRequest(domain=self._ref(), timeout_seconds=timeout)
        return self._job("Shutdown", request, wait)

    def undefine(self, keep_storage: bool = False, wait: bool = True) -> Job | None:
        request = domains_pb2.UndefineRequest(domain=self._ref(), keep_storage=keep_storage)
        return self._job("Undefine", request, wait)

    def set_autostart(self, autostart: bool, wait: bool = True) -> Job | None:
        request = domains_pb2.SetAutostartRequest(domain=self._ref(), autostart=autostart)
        return self._job("SetAutostart", request, wait)

    def set_vcpus(self, vcpus: int, wait: bool = True) -> Job | None:
        return self._job(
            "SetVcpus", domains_pb2.SetVcpusRequest(domain=self._ref(), vcpus=vcpus), wait
        )

    def set_memory(self, memory_kib: int, wait: bool = True) -> Job | None:
        request = domains_pb2.SetMemoryRequest(domain=self._ref(), memory_kib=memory_kib)
        return self._job("SetMemory", request, wait)

    def set_memory_parameters(self, wait: bool = True, **kib: int) -> Job | None:
        request = domains_pb2.SetMemoryParametersRequest(domain=self._ref())
        for key, value in kib.items():
            if key not in (
                "hard_limit_kib",
                "soft_limit_kib",
                "swap_hard_limit_kib",
                "min_guarantee_kib",
            ):
                raise InvalidArgument(f"unknown memory parameter {key!r}")
            setattr(request, key, value)
        return self._job("SetMemoryParameters", request, wait)

    def set_hostname(self, hostname: str, wait: bool = True) -> Job | None:
        request = domains_pb2.SetHostnameRequest(domain=self._ref(), hostname=hostname)
        return self._job("SetHostname", request, wait)

    def set_user_password(self, user: str, password: str, wait: bool = True) -> Job | None:
        request = domains_pb2.SetUserPasswordRequest(
            domain=self._ref(), user=user, password=password
        )
        return self._job("SetUserPassword", request, wait)

    def attach_device(self, xml: str, wait: bool = True) -> Job | None:
        return self._job(
            "AttachDevice", domains_pb2.DeviceRequest(domain=self._ref(), device_xml=xml), wait
        )

    def detach_device(self, xml: str, wait: bool = True) -> Job | None:
        return self._job(
            "DetachDevice", domains_pb2.DeviceRequest(domain=self._ref(), device_xml=xml), wait
        )

    def update_device(self, xml: str, wait: bool = True) -> Job | None:
        return self._job(
            "UpdateDevice", domains_pb2.DeviceRequest(domain=self._ref(), device_xml=xml), wait
        )

    def migrate(self, destination: str, online: bool = False, wait: bool = True) -> Job | None:
        request = domains_pb2.MigrateRequest(
            domain=self._ref(), destination=destination, online=online
        )
        return self._job("Migrate", request, wait)
