"""The synchronous face of the client: Connection, Domain and Job.

Each method runs one call of openvz.calls (where requests are built and replies
read) over a blocking gRPC channel; openvz.aio is the same over grpc.aio. Every
mutating call waits for its job by default; with wait=False it returns the Job
at once. This is openvz's own Pythonic API: scripts written for libvirt-python
keep using libvirt-python itself, which reaches openvzd over libvirt's protocol.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import grpc

from openvz import calls
from openvz.calls import (
    ACTIVE_STATES,
    FINISHED,
    LIST_ACTIVE,
    LIST_AUTOSTART,
    LIST_INACTIVE,
    LIST_MANAGEDSAVE,
    LIST_NO_AUTOSTART,
    LIST_NO_MANAGEDSAVE,
    LIST_OTHER,
    LIST_PAUSED,
    LIST_PERSISTENT,
    LIST_RUNNING,
    LIST_SHUTOFF,
    LIST_TRANSIENT,
    STATE_NAMES,
    Call,
    DomainView,
    JobView,
    domain_call,
    is_uuid,
    job_state,
)
from openvz.errors import Timeout, Unavailable, from_rpc_error
from openvz.service import Service
from openvz.uri import URI, parse_uri
from openvz.v1 import domains_pb2

if TYPE_CHECKING:
    from collections.abc import Sequence

    from openvz.sessions import ConsoleSession, ExecSession
    from openvz.v1 import common_pb2, events_pb2, host_pb2

__all__ = [
    "FINISHED",
    "LIST_ACTIVE",
    "LIST_AUTOSTART",
    "LIST_INACTIVE",
    "LIST_MANAGEDSAVE",
    "LIST_NO_AUTOSTART",
    "LIST_NO_MANAGEDSAVE",
    "LIST_OTHER",
    "LIST_PAUSED",
    "LIST_PERSISTENT",
    "LIST_RUNNING",
    "LIST_SHUTOFF",
    "LIST_TRANSIENT",
    "STATE_NAMES",
    "Connection",
    "Domain",
    "Job",
    "is_uuid",
    "job_state",
    "open",
    "open_read_only",
]

T = TypeVar("T")

# Each connection its own subchannel: one shared with an older channel to a daemon that
# since restarted would fail at once (it waits out its reconnect backoff), not connect.
LOCAL_CHANNEL_OPTIONS = [("grpc.use_local_subchannel_pool", 1)]
# How long a reconnecting event stream sleeps between attempts: doubling up to the last.
RECONNECT_DELAYS = (0.2, 0.5, 1.0, 2.0, 5.0)


def open(uri: str | None = None) -> Connection:
    """A read-write connection; uri None means $OPENVZ_DEFAULT_URI or openvz:///system.
    Raises Unavailable (or AuthenticationFailed) at once when the daemon cannot be
    reached, as libvirt's open does."""
    return Connection(parse_uri(uri)).probe()


def open_read_only(uri: str | None = None) -> Connection:
    return Connection(parse_uri(uri), read_only=True).probe()


class Connection:
    def __init__(self, uri: URI, read_only: bool = False) -> None:
        self.uri = uri
        self.read_only = read_only or uri.read_only
        self._endpoint: Any = None
        self._closed = False
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
        self._services = {
            name: Service(self._channel, name) for name in ("Domains", "Jobs", "Host")
        }
        # The services' calls, for streams that are no openvz.calls call (Jobs.Wait).
        self.domains_stub = self._services["Domains"]
        self.jobs_stub = self._services["Jobs"]

    def probe(self) -> Connection:
        """Ask the daemon once, so an unreachable one fails here; closes on failure."""
        try:
            self.version()
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        self._closed = True
        self._channel.close()
        if self._endpoint is not None:
            self._endpoint.close()

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(self, call: Call[T]) -> T:
        """Run one call of openvz.calls: each Rpc it yields, made and answered in turn."""
        rpc = next(call)
        while True:
            method = getattr(self._services[rpc.service], rpc.method)
            try:
                reply = method(rpc.request, timeout=rpc.timeout)
            except grpc.RpcError as err:
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

    def version(self) -> host_pb2.Version:
        version: host_pb2.Version = self.run(calls.host_call("GetVersion"))
        return version

    def hostname(self) -> str:
        return self.run(calls.hostname())

    def node_info(self) -> host_pb2.NodeInfo:
        node: host_pb2.NodeInfo = self.run(calls.host_call("GetNodeInfo"))
        return node

    def node_cpu_stats(self, cpu: int | None = None) -> host_pb2.NodeCPUStats:
        """The host's CPU times since boot in ns (virsh nodecpustats): one CPU's,
        or with no cpu all CPUs' summed."""
        return self.run(calls.node_cpu_stats(cpu))

    def capabilities(self) -> str:
        return self.run(calls.capabilities())

    def host_check(self) -> list[host_pb2.HostCheck]:
        """What `openvzd check` (virt-host-validate) reports, check by check."""
        return self.run(calls.host_check())

    # -- domains -----------------------------------------------------------------

    def list_all_domains(self, flags: int = 0, names_only: bool = False) -> list[Domain]:
        """Every container for flags 0; the LIST_* flags filter as libvirt's
        virConnectListAllDomains flags of the same values do."""
        return [Domain(self, d) for d in self.run(calls.list_domains(flags, names_only))]

    def list_domains_id(self) -> list[int]:
        return [d.message.id for d in self.list_all_domains(LIST_ACTIVE)]

    def list_defined_domains(self) -> list[str]:
        return [d.name() for d in self.list_all_domains(LIST_INACTIVE)]

    def num_of_domains(self) -> int:
        return len(self.list_all_domains(LIST_ACTIVE, names_only=True))

    def num_of_defined_domains(self) -> int:
        return len(self.list_all_domains(LIST_INACTIVE, names_only=True))

    def _lookup(self, ref: common_pb2.DomainRef) -> Domain:
        return Domain(self, self.run(calls.lookup(ref)))

    def lookup_by_name(self, name: str) -> Domain:
        from openvz.v1 import common_pb2

        return self._lookup(common_pb2.DomainRef(name=name))

    def lookup_by_id(self, veid: int) -> Domain:
        from openvz.v1 import common_pb2

        return self._lookup(common_pb2.DomainRef(id=veid))

    def lookup_by_uuid(self, uuid: str) -> Domain:
        from openvz.v1 import common_pb2

        return self._lookup(common_pb2.DomainRef(uuid=uuid))

    lookup_by_uuid_string = lookup_by_uuid

    def lookup(self, text: str) -> Domain:
        """By ID, name or UUID, as virsh takes a domain argument."""
        return self._lookup(calls.ref_of(text))

    def define_xml(self, xml: str, wait: bool = True) -> Domain | Job:
        return self._define("Define", xml, wait)

    def create_xml(self, xml: str, wait: bool = True) -> Domain | Job:
        """Define and start; the container stays defined (OpenVZ has no transient CTs)."""
        return self._define("Create", xml, wait)

    def _define(self, method: str, xml: str, wait: bool) -> Domain | Job:
        result = self.run(calls.define(method, xml, wait))
        if isinstance(result, domains_pb2.Domain):
            return Domain(self, result)
        return Job(self, result)

    def get_all_domain_stats(self, active_only: bool = False) -> list[domains_pb2.DomainStats]:
        return self.run(calls.stats([], active_only))

    all_domain_stats = get_all_domain_stats

    def domain_list_get_stats(self, domains: list[Domain]) -> list[domains_pb2.DomainStats]:
        return self.run(calls.stats([d._ref() for d in domains]))

    # -- jobs and events -----------------------------------------------------------

    def list_jobs(self, veid: int = 0, limit: int = 0) -> list[Job]:
        """Recent jobs, newest first; veid 0 = every lane."""
        return [Job(self, j) for j in self.run(calls.list_jobs(veid, limit))]

    def job(self, job_id: str) -> Job:
        return Job(self, self.run(calls.job("Get", job_id)))

    def domain_of(self, event: events_pb2.Event) -> Domain | None:
        """The Domain a lifecycle event is about, as the daemon sent it with the event."""
        if not event.HasField("lifecycle") or not event.lifecycle.HasField("domain"):
            return None
        return Domain(self, event.lifecycle.domain)

    def events(
        self,
        after_seq: int = 0,
        include_jobs: bool = False,
        veids: list[int] | None = None,
        reconnect: bool = True,
    ) -> Iterator[events_pb2.Event]:
        """Events as they come (a lifecycle event carries its domain: domain_of()).
        When the daemon goes away (restart, lost connection) the stream reconnects
        and resumes after the last event seen; what was missed in between arrives as
        a Gap event. close() ends it: the iteration stops, without an error."""
        from openvz.v1 import events_pb2

        stub = Service(self._channel, "Events")
        last = after_seq
        failures = 0
        while not self._closed:
            request = events_pb2.WatchRequest(
                after_seq=last, include_jobs=include_jobs, veids=veids or []
            )
            try:
                for event in stub.Watch(request):
                    failures = 0
                    last = max(last, event.seq)
                    yield event
            except (grpc.RpcError, ValueError) as err:
                # ValueError: the channel was closed between two calls of the stream.
                if self._closed:
                    return
                if isinstance(err, ValueError):
                    raise
                if not reconnect or err.code() is not grpc.StatusCode.UNAVAILABLE:
                    raise from_rpc_error(err, self.target) from None
            if not reconnect:
                return
            time.sleep(RECONNECT_DELAYS[min(failures, len(RECONNECT_DELAYS) - 1)])
            failures += 1


class Job(JobView):
    """A queued change: its state, progress and result, as the daemon journals them."""

    def __init__(self, conn: Connection, message: common_pb2.Job) -> None:
        self._conn = conn
        self.message = message

    def refresh(self) -> Job:
        self.message = self._conn.run(calls.job("Get", self.id))
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
            message = calls.job_timeout_message(self.message, timeout)
            raise Timeout(message, grpc.StatusCode.DEADLINE_EXCEEDED, self.id)
        error = self.error
        if error is not None:
            raise error
        return self

    def cancel(self) -> Job:
        self.message = self._conn.run(calls.job("Cancel", self.id))
        return self


class Domain(DomainView):
    """One container. Its identity (name, UUID) is fixed; everything that changes
    (state, ID, autostart, hostname) is asked of the daemon when asked for."""

    def __init__(self, conn: Connection, message: domains_pb2.Domain) -> None:
        self._conn = conn
        self.message = message

    def connect(self) -> Connection:
        return self._conn

    def refresh(self) -> Domain:
        """Read the container again; message is then as the daemon has it now."""
        self.message = self._conn.run(calls.lookup(self._ref()))
        return self

    def exec(self, argv: Sequence[str] = (), **options: Any) -> ExecSession:
        """argv in the container (openvz.sessions); options: env, cwd, pty, size=(rows, cols)."""
        from openvz.sessions import ExecSession

        return ExecSession.start(self._conn, self._ref(), argv, **options)

    def console(self, force: bool = False) -> ConsoleSession:
        from openvz.sessions import ConsoleSession

        return ConsoleSession.attach(self._conn, self._ref(), force)

    def id(self) -> int:
        """The CTID while running or paused, else -1 (as libvirt's virDomainGetID)."""
        return self.refresh().message.id

    def is_active(self) -> bool:
        return self.refresh().message.state in ACTIVE_STATES

    def state(self) -> tuple[str, str]:
        """(state, reason) as `virsh domstate --reason` prints them: ("running", "booted")."""
        self.refresh()
        return STATE_NAMES.get(self.message.state, "no state"), self.message.state_reason

    def info(self) -> domains_pb2.DomainInfo:
        info = self._conn.run(calls.info(self._ref()))
        self.message = info.domain
        return info

    def os_type(self) -> str:
        return self.info().os_type

    def max_memory(self) -> int:
        return self.info().max_memory_kib

    def has_managed_save_image(self) -> bool:
        return self.info().has_managed_save

    def hostname(self) -> str:
        return self.refresh().message.hostname

    def autostart(self) -> bool:
        return bool(self.refresh().message.autostart)

    def xml_desc(self, inactive: bool = False) -> str:
        return self._conn.run(calls.xml_desc(self._ref(), inactive))

    def stats(self) -> domains_pb2.DomainStats:
        return self._conn.run(calls.stats([self._ref()]))[0]

    def interface_stats(self, device: str) -> domains_pb2.InterfaceStats:
        """Counters of one interface, by host device (vethCTID.N) or guest name (eth0),
        as the guest counts them; NotFound names the interfaces there are."""
        return self._conn.run(calls.interface_stats(self.name(), self._ref(), device))

    def memory_parameters(self) -> domains_pb2.MemoryParameters:
        return self._conn.run(calls.memory_parameters(self._ref()))

    def _change(self, method: str, request: Any, wait: bool) -> Job | None:
        job, domain = self._conn.run(calls.change(method, request, wait))
        if domain is not None:
            self.message = domain
        return None if wait else Job(self._conn, job)

    def create(self, wait: bool = True) -> Job | None:
        """Start the container (libvirt's create)."""
        return self._change("Start", domain_call(self._ref()), wait)

    def destroy(self, wait: bool = True) -> Job | None:
        return self._change("Destroy", domain_call(self._ref()), wait)

    def reboot(self, wait: bool = True) -> Job | None:
        return self._change("Reboot", domain_call(self._ref()), wait)

    def suspend(self, wait: bool = True) -> Job | None:
        return self._change("Suspend", domain_call(self._ref()), wait)

    def resume(self, wait: bool = True) -> Job | None:
        return self._change("Resume", domain_call(self._ref()), wait)

    def shutdown(self, timeout: int = 0, wait: bool = True) -> Job | None:
        request = domains_pb2.ShutdownRequest(domain=self._ref(), timeout_seconds=timeout)
        return self._change("Shutdown", request, wait)

    def undefine(self, keep_storage: bool = False, wait: bool = True) -> Job | None:
        request = domains_pb2.UndefineRequest(domain=self._ref(), keep_storage=keep_storage)
        return self._change("Undefine", request, wait)

    def set_autostart(self, autostart: bool, wait: bool = True) -> Job | None:
        request = domains_pb2.SetAutostartRequest(domain=self._ref(), autostart=autostart)
        return self._change("SetAutostart", request, wait)

    def set_vcpus(self, vcpus: int, wait: bool = True) -> Job | None:
        request = domains_pb2.SetVcpusRequest(domain=self._ref(), vcpus=vcpus)
        return self._change("SetVcpus", request, wait)

    def set_memory(self, memory_kib: int, wait: bool = True) -> Job | None:
        request = domains_pb2.SetMemoryRequest(domain=self._ref(), memory_kib=memory_kib)
        return self._change("SetMemory", request, wait)

    def set_memory_parameters(self, wait: bool = True, **kib: int) -> Job | None:
        """hard_limit_kib=..., swap_hard_limit_kib=...: only the ones given change."""
        request = calls.memory_parameters_request(self._ref(), kib)
        return self._change("SetMemoryParameters", request, wait)

    def set_hostname(self, hostname: str, wait: bool = True) -> Job | None:
        request = domains_pb2.SetHostnameRequest(domain=self._ref(), hostname=hostname)
        return self._change("SetHostname", request, wait)

    def set_nameservers(
        self, nameservers: list[str], search_domains: list[str] | None = None, wait: bool = True
    ) -> Job | None:
        request = domains_pb2.SetNameserversRequest(
            domain=self._ref(), nameservers=nameservers, search_domains=search_domains or []
        )
        return self._change("SetNameservers", request, wait)

    def set_user_password(self, user: str, password: str, wait: bool = True) -> Job | None:
        request = domains_pb2.SetUserPasswordRequest(
            domain=self._ref(), user=user, password=password
        )
        return self._change("SetUserPassword", request, wait)

    def attach_device(self, xml: str, wait: bool = True) -> Job | None:
        request = domains_pb2.DeviceRequest(domain=self._ref(), device_xml=xml)
        return self._change("AttachDevice", request, wait)

    def detach_device(self, xml: str, wait: bool = True) -> Job | None:
        request = domains_pb2.DeviceRequest(domain=self._ref(), device_xml=xml)
        return self._change("DetachDevice", request, wait)

    def update_device(self, xml: str, wait: bool = True) -> Job | None:
        request = domains_pb2.DeviceRequest(domain=self._ref(), device_xml=xml)
        return self._change("UpdateDevice", request, wait)

    def migrate(
        self, destination: str, online: bool = False, keep_source: bool = False, wait: bool = True
    ) -> Job | None:
        """vzmigrate to destination: a host name or address, or a URI naming one
        (openvz+ssh://host/system, as virsh migrate takes); online = virsh's --live."""
        request = domains_pb2.MigrateRequest(
            domain=self._ref(),
            destination=calls.migration_host(destination),
            online=online,
            keep_source=keep_source,
        )
        return self._change("Migrate", request, wait)
