"""The synchronous client: Connection, Domain and Job.

Names follow libvirt-python where a libvirt user would look for them
(listAllDomains -> list_all_domains, XMLDesc -> xml_desc). Every mutating call
waits for its job by default; with wait=False it returns the Job at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import grpc

from openvz.errors import Error, InvalidArgument, Timeout, Unavailable, from_rpc_error, job_error
from openvz.service import Service
from openvz.uri import URI, parse_uri
from openvz.v1 import common_pb2, domains_pb2

if TYPE_CHECKING:
    from collections.abc import Sequence

    from openvz.sessions import ConsoleSession, ExecSession
    from openvz.v1 import events_pb2, host_pb2

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
# libvirt-python's virConnectListAllDomains flags, by the same names and values.
LIST_ACTIVE = 1 << 0
LIST_INACTIVE = 1 << 1
LIST_PERSISTENT = 1 << 2
LIST_TRANSIENT = 1 << 3
LIST_RUNNING = 1 << 4
LIST_PAUSED = 1 << 5
LIST_SHUTOFF = 1 << 6
LIST_OTHER = 1 << 7
LIST_MANAGEDSAVE = 1 << 8
LIST_NO_MANAGEDSAVE = 1 << 9
LIST_AUTOSTART = 1 << 10
LIST_NO_AUTOSTART = 1 << 11
MEMORY_PARAMETERS = ("hard_limit_kib", "soft_limit_kib", "swap_hard_limit_kib", "min_guarantee_kib")
# Each connection its own subchannel: one shared with an older channel to a daemon that
# since restarted would fail at once (it waits out its reconnect backoff), not connect.
LOCAL_CHANNEL_OPTIONS = [("grpc.use_local_subchannel_pool", 1)]
# How long a reconnecting event stream sleeps between attempts: doubling up to the last.
RECONNECT_DELAYS = (0.2, 0.5, 1.0, 2.0, 5.0)


def open(uri: str | None = None) -> Connection:
    """A read-write connection; uri None means $OPENVZ_DEFAULT_URI or openvz:///system."""
    return Connection(parse_uri(uri))


def open_read_only(uri: str | None = None) -> Connection:
    return Connection(parse_uri(uri), read_only=True)


def list_request(flags: int, names_only: bool = False) -> domains_pb2.ListDomainsRequest:
    return domains_pb2.ListDomainsRequest(
        active=bool(flags & LIST_ACTIVE),
        inactive=bool(flags & LIST_INACTIVE),
        autostart=bool(flags & LIST_AUTOSTART),
        no_autostart=bool(flags & LIST_NO_AUTOSTART),
        names_only=names_only,
    )


def state_filter(flags: int) -> Callable[[domains_pb2.Domain], bool]:
    """The flags the daemon does not filter on, applied to each listed domain.

    Every OpenVZ container is persistent and none has a managed save image in
    libvirt's sense (a suspended one is its own state), as dominfo reports."""
    states: set[int] = set()
    if flags & LIST_RUNNING:
        states.add(domains_pb2.DOMAIN_STATE_RUNNING)
    if flags & LIST_PAUSED:
        states.add(domains_pb2.DOMAIN_STATE_PAUSED)
    if flags & LIST_SHUTOFF:
        states.add(domains_pb2.DOMAIN_STATE_SHUTOFF)
    if flags & LIST_OTHER:
        states.update((domains_pb2.DOMAIN_STATE_SUSPENDED, domains_pb2.DOMAIN_STATE_MOUNTED))
    none = bool(flags & LIST_TRANSIENT and not flags & LIST_PERSISTENT) or bool(
        flags & LIST_MANAGEDSAVE and not flags & LIST_NO_MANAGEDSAVE
    )
    return lambda d: not none and (not states or d.state in states)


def memory_parameters_request(
    ref: common_pb2.DomainRef, kib: dict[str, int]
) -> domains_pb2.SetMemoryParametersRequest:
    request = domains_pb2.SetMemoryParametersRequest(domain=ref)
    for key, value in kib.items():
        if key not in MEMORY_PARAMETERS:
            raise InvalidArgument(f"unknown memory parameter {key!r}; known: {MEMORY_PARAMETERS}")
        setattr(request, key, value)
    return request


def job_state(message: common_pb2.Job) -> str:
    """queued, running, succeeded, failed, cancelled or interrupted."""
    return common_pb2.JobState.Name(message.state).removeprefix("JOB_STATE_").lower()


def is_uuid(text: str) -> bool:
    return len(text) == 36 and text.count("-") == 4


class Connection:
    def __init__(self, uri: URI, read_only: bool = False) -> None:
        self.uri = uri
        self.read_only = read_only or uri.read_only
        self._endpoint: Any = None
        if uri.transport == "unix":
            self.target = f"unix:{uri.socket_path(self.read_only)}"
            self._channel = grpc.insecure_channel(self.target, options=LOCAL_CHANNEL_OPTIONS)
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
        self.domains_stub = Service(self._channel, "Domains")
        self.jobs_stub = Service(self._channel, "Jobs")
        self._host = Service(self._channel, "Host")

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

    # -- the connection and the host ------------------------------------------------

    def get_uri(self) -> str:
        return self.uri.text

    def is_read_only(self) -> bool:
        return self.read_only

    def version(self) -> host_pb2.Version:
        from openvz.v1 import host_pb2

        version: host_pb2.Version = self.call(self._host.GetVersion, host_pb2.VersionRequest())
        return version

    def hostname(self) -> str:
        from openvz.v1 import host_pb2

        return str(self.call(self._host.GetHostname, host_pb2.HostnameRequest()).hostname)

    def node_info(self) -> host_pb2.NodeInfo:
        from openvz.v1 import host_pb2

        node: host_pb2.NodeInfo = self.call(self._host.GetNodeInfo, host_pb2.NodeInfoRequest())
        return node

    def capabilities(self) -> str:
        from openvz.v1 import host_pb2

        return str(self.call(self._host.GetCapabilities, host_pb2.CapabilitiesRequest()).xml)

    def host_check(self) -> list[host_pb2.HostCheck]:
        """What `openvzd check` (virt-host-validate) reports, check by check."""
        from openvz.v1 import host_pb2

        return list(self.call(self._host.Check, host_pb2.CheckRequest()).checks)

    # -- domains -----------------------------------------------------------------

    def list_all_domains(self, flags: int = 0, names_only: bool = False) -> list[Domain]:
        """libvirt's listAllDomains: flags 0 = every container; LIST_* combine as there."""
        reply = self.call(self.domains_stub.List, list_request(flags, names_only))
        keep = state_filter(flags)
        return [Domain(self, d) for d in reply.domains if keep(d)]

    def list_domains_id(self) -> list[int]:
        return [d.id() for d in self.list_all_domains(LIST_ACTIVE)]

    def list_defined_domains(self) -> list[str]:
        return [d.name() for d in self.list_all_domains(LIST_INACTIVE)]

    def num_of_domains(self) -> int:
        return len(self.list_all_domains(LIST_ACTIVE, names_only=True))

    def num_of_defined_domains(self) -> int:
        return len(self.list_all_domains(LIST_INACTIVE, names_only=True))

    def _lookup(self, ref: common_pb2.DomainRef) -> Domain:
        return Domain(self, self.call(self.domains_stub.Lookup, ref))

    def lookup_by_name(self, name: str) -> Domain:
        return self._lookup(common_pb2.DomainRef(name=name))

    def lookup_by_id(self, veid: int) -> Domain:
        return self._lookup(common_pb2.DomainRef(id=veid))

    def lookup_by_uuid(self, uuid: str) -> Domain:
        return self._lookup(common_pb2.DomainRef(uuid=uuid))

    lookup_by_uuid_string = lookup_by_uuid

    def lookup(self, text: str) -> Domain:
        """By ID, name or UUID, as virsh takes a domain argument."""
        if is_uuid(text):
            return self.lookup_by_uuid(text)
        return self.lookup_by_name(text)

    def define_xml(self, xml: str, wait: bool = True) -> Domain | Job:
        return self._define(self.domains_stub.Define, xml, wait)

    def create_xml(self, xml: str, wait: bool = True) -> Domain | Job:
        """Define and start; the container stays defined (OpenVZ has no transient CTs)."""
        return self._define(self.domains_stub.Create, xml, wait)

    def _define(self, method: Any, xml: str, wait: bool) -> Domain | Job:
        options = common_pb2.JobOptions(no_wait=not wait)
        reply = self.call(method, domains_pb2.DefineRequest(xml=xml, options=options), None)
        if not wait:
            return Job(self, reply.job)
        return self.lookup_by_id(reply.job.result_veid)

    def get_all_domain_stats(self, active_only: bool = False) -> list[domains_pb2.DomainStats]:
        request = domains_pb2.GetStatsRequest(active_only=active_only)
        return list(self.call(self.domains_stub.GetStats, request).stats)

    all_domain_stats = get_all_domain_stats

    def domain_list_get_stats(self, domains: list[Domain]) -> list[domains_pb2.DomainStats]:
        request = domains_pb2.GetStatsRequest(domains=[d._ref() for d in domains])
        return list(self.call(self.domains_stub.GetStats, request).stats)

    # -- jobs and events -----------------------------------------------------------

    def list_jobs(self, veid: int = 0, limit: int = 0) -> list[Job]:
        """Recent jobs, newest first; veid 0 = every lane."""
        from openvz.v1 import jobs_pb2

        reply = self.call(self.jobs_stub.List, jobs_pb2.ListJobsRequest(veid=veid, limit=limit))
        return [Job(self, j) for j in reply.jobs]

    def job(self, job_id: str) -> Job:
        from openvz.v1 import jobs_pb2

        return Job(self, self.call(self.jobs_stub.Get, jobs_pb2.JobRef(id=job_id)))

    def events(
        self,
        after_seq: int = 0,
        include_jobs: bool = False,
        veids: list[int] | None = None,
        reconnect: bool = True,
    ) -> Iterator[events_pb2.Event]:
        """Events as they come. When the daemon goes away (restart, lost connection)
        the stream reconnects and resumes after the last event seen; what was
        missed in between arrives as a Gap event. close() ends it."""
        from openvz.v1 import events_pb2

        stub = Service(self._channel, "Events")
        last = after_seq
        failures = 0
        while True:
            request = events_pb2.WatchRequest(
                after_seq=last, include_jobs=include_jobs, veids=veids or []
            )
            try:
                for event in stub.Watch(request):
                    failures = 0
                    last = max(last, event.seq)
                    yield event
            except grpc.RpcError as err:
                if not reconnect or err.code() is not grpc.StatusCode.UNAVAILABLE:
                    raise from_rpc_error(err, self.target) from None
            if not reconnect:
                return
            time.sleep(RECONNECT_DELAYS[min(failures, len(RECONNECT_DELAYS) - 1)])
            failures += 1


class Job:
    """A queued change: its state, progress and result, as the daemon journals them."""

    def __init__(self, conn: Connection, message: common_pb2.Job) -> None:
        self._conn = conn
        self.message = message

    def __repr__(self) -> str:
        return f"<openvz.Job {self.id} {self.message.operation} {self.message.veid} {self.state}>"

    @property
    def id(self) -> str:
        return self.message.id

    @property
    def state(self) -> str:
        """queued, running, succeeded, failed, cancelled or interrupted."""
        return job_state(self.message)

    @property
    def done(self) -> bool:
        return self.message.state in FINISHED

    @property
    def progress(self) -> tuple[int, str]:
        """(percent, current step)."""
        return self.message.progress_percent, self.message.progress_step

    @property
    def error(self) -> Error | None:
        if not self.done or self.message.state == common_pb2.JOB_STATE_SUCCEEDED:
            return None
        return job_error(self.message)

    def refresh(self) -> Job:
        from openvz.v1 import jobs_pb2

        self.message = self._conn.call(self._conn.jobs_stub.Get, jobs_pb2.JobRef(id=self.id))
        return self

    def watch(self, timeout: float | None = None) -> Iterator[Job]:
        """The job now and at each change, until it ends or timeout seconds pass."""
        from openvz.v1 import jobs_pb2

        request = jobs_pb2.WaitJobRequest(id=self.id, timeout_seconds=timeout or 0)
        try:
            for message in self._conn.jobs_stub.Wait(request):
                self.message = message
                yield self
        except grpc.RpcError as err:
            raise from_rpc_error(err, self._conn.target) from None

    def wait(self, timeout: float | None = None) -> Job:
        """Until the job ends; raises the job's error if it failed, Timeout if it
        has not ended after timeout seconds (it goes on running: cancel() it)."""
        for _ in self.watch(timeout):
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

    def cancel(self) -> Job:
        from openvz.v1 import jobs_pb2

        self.message = self._conn.call(self._conn.jobs_stub.Cancel, jobs_pb2.JobRef(id=self.id))
        return self


class Domain:
    def __init__(self, conn: Connection, message: domains_pb2.Domain) -> None:
        self._conn = conn
        self.message = message

    def __repr__(self) -> str:
        return f"<openvz.Domain {self.message.name}>"

    def _ref(self) -> common_pb2.DomainRef:
        return common_pb2.DomainRef(id=int(self.message.name))

    def connect(self) -> Connection:
        return self._conn

    def exec(self, argv: Sequence[str] = (), **options: Any) -> ExecSession:
        """argv in the container (openvz.sessions); options: env, cwd, pty, size=(rows, cols)."""
        from openvz.sessions import ExecSession

        return ExecSession.start(self._conn, self._ref(), argv, **options)

    def console(self, force: bool = False) -> ConsoleSession:
        from openvz.sessions import ConsoleSession

        return ConsoleSession.attach(self._conn, self._ref(), force)

    def name(self) -> str:
        return self.message.name

    def id(self) -> int:
        """The CTID while running or paused, else -1 (as libvirt's virDomainGetID)."""
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

    def refresh(self) -> Domain:
        self.message = self._conn.call(self._conn.domains_stub.Lookup, self._ref())
        return self

    def state(self) -> tuple[str, str]:
        """(state, reason) as `virsh domstate --reason` prints them: ("running", "booted")."""
        self.refresh()
        return STATE_NAMES.get(self.message.state, "no state"), self.message.state_reason

    def info(self) -> domains_pb2.DomainInfo:
        info: domains_pb2.DomainInfo = self._conn.call(self._conn.domains_stub.GetInfo, self._ref())
        return info

    def os_type(self) -> str:
        return self.info().os_type

    def max_memory(self) -> int:
        return self.info().max_memory_kib

    def has_managed_save_image(self) -> bool:
        return self.info().has_managed_save

    def hostname(self) -> str:
        return self.refresh().message.hostname

    def xml_desc(self, inactive: bool = False) -> str:
        request = domains_pb2.GetXMLRequest(domain=self._ref(), inactive=inactive)
        return str(self._conn.call(self._conn.domains_stub.GetXML, request).xml)

    def stats(self) -> domains_pb2.DomainStats:
        request = domains_pb2.GetStatsRequest(domains=[self._ref()])
        stats: domains_pb2.DomainStats = self._conn.call(
            self._conn.domains_stub.GetStats, request
        ).stats[0]
        return stats

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

    def memory_parameters(self) -> domains_pb2.MemoryParameters:
        params: domains_pb2.MemoryParameters = self._conn.call(
            self._conn.domains_stub.GetMemoryParameters, self._ref()
        )
        return params

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
        """Start the container (libvirt's create)."""
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
        """hard_limit_kib=..., swap_hard_limit_kib=...: only the ones given change."""
        return self._job("SetMemoryParameters", memory_parameters_request(self._ref(), kib), wait)

    def set_hostname(self, hostname: str, wait: bool = True) -> Job | None:
        request = domains_pb2.SetHostnameRequest(domain=self._ref(), hostname=hostname)
        return self._job("SetHostname", request, wait)

    def set_nameservers(
        self, nameservers: list[str], search_domains: list[str] | None = None, wait: bool = True
    ) -> Job | None:
        request = domains_pb2.SetNameserversRequest(
            domain=self._ref(), nameservers=nameservers, search_domains=search_domains or []
        )
        return self._job("SetNameservers", request, wait)

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

    def migrate(
        self, destination: str, online: bool = False, keep_source: bool = False, wait: bool = True
    ) -> Job | None:
        """vzmigrate to destination (a host vzmigrate reaches); online = virsh's --live."""
        request = domains_pb2.MigrateRequest(
            domain=self._ref(), destination=destination, online=online, keep_source=keep_source
        )
        return self._job("Migrate", request, wait)
