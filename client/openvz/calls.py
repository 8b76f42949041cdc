"""Every call of the client, written once: the requests it makes and how it reads
the replies, without any I/O (the "sans-I/O" shape).

A call is a generator: it yields each Rpc it needs and is sent the reply; what it
returns is the call's result. openvz.connection runs calls with blocking gRPC and
openvz.aio with grpc.aio, so each face is one line per method. Calls return the
wire messages (domains_pb2.Domain, common_pb2.Job); the faces wrap them in their own
Domain and Job. The views at the end hold what both faces' Domain and Job answer
from the message they already have.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from openvz.errors import Error, InvalidArgument, job_error
from openvz.v1 import common_pb2, domains_pb2

if TYPE_CHECKING:
    from openvz.v1 import host_pb2

T = TypeVar("T")

STATE_NAMES = {
    domains_pb2.DOMAIN_STATE_RUNNING: "running",
    domains_pb2.DOMAIN_STATE_PAUSED: "paused",
    domains_pb2.DOMAIN_STATE_SHUTOFF: "shut off",
    domains_pb2.DOMAIN_STATE_SUSPENDED: "suspended",
    domains_pb2.DOMAIN_STATE_MOUNTED: "mounted",
}
ACTIVE_STATES = (domains_pb2.DOMAIN_STATE_RUNNING, domains_pb2.DOMAIN_STATE_PAUSED)
FINISHED = {
    common_pb2.JOB_STATE_SUCCEEDED,
    common_pb2.JOB_STATE_FAILED,
    common_pb2.JOB_STATE_CANCELLED,
    common_pb2.JOB_STATE_INTERRUPTED,
}
# libvirt's virConnectListAllDomains flags, by the same values (LIST_ACTIVE is
# VIR_CONNECT_LIST_DOMAINS_ACTIVE), so flags carried over from libvirt code mean the same.
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
# The flags state_filter applies, which need whole Domain messages.
FILTERED_HERE = (
    LIST_RUNNING | LIST_PAUSED | LIST_SHUTOFF | LIST_OTHER | LIST_PERSISTENT | LIST_TRANSIENT
)
MEMORY_PARAMETERS = ("hard_limit_kib", "soft_limit_kib", "swap_hard_limit_kib", "min_guarantee_kib")
# The timeout of a query; a change waits for its job as long as the job takes.
QUERY_TIMEOUT = 30.0


class Rpc(NamedTuple):
    """One unary call: service (Domains, Jobs, Host), method and request."""

    service: str
    method: str
    request: Any
    timeout: float | None = QUERY_TIMEOUT


Call = Generator[Rpc, Any, T]


# -- requests and filters --------------------------------------------------------------


def list_request(flags: int, names_only: bool = False) -> domains_pb2.ListDomainsRequest:
    return domains_pb2.ListDomainsRequest(
        active=bool(flags & LIST_ACTIVE),
        inactive=bool(flags & LIST_INACTIVE),
        autostart=bool(flags & LIST_AUTOSTART),
        no_autostart=bool(flags & LIST_NO_AUTOSTART),
        names_only=names_only,
    )


def state_filter(flags: int) -> Callable[[domains_pb2.Domain], bool]:
    """The flags the daemon does not filter on, applied to each listed domain:
    states, persistent or transient (as each domain says it is), managed save.

    No container has a managed save image in libvirt's sense (a suspended one is
    its own state), as dominfo reports."""
    states: set[int] = set()
    if flags & LIST_RUNNING:
        states.add(domains_pb2.DOMAIN_STATE_RUNNING)
    if flags & LIST_PAUSED:
        states.add(domains_pb2.DOMAIN_STATE_PAUSED)
    if flags & LIST_SHUTOFF:
        states.add(domains_pb2.DOMAIN_STATE_SHUTOFF)
    if flags & LIST_OTHER:
        states.update((domains_pb2.DOMAIN_STATE_SUSPENDED, domains_pb2.DOMAIN_STATE_MOUNTED))
    persistence: set[bool] = set()
    if flags & LIST_PERSISTENT:
        persistence.add(True)
    if flags & LIST_TRANSIENT:
        persistence.add(False)
    none = bool(flags & LIST_MANAGEDSAVE and not flags & LIST_NO_MANAGEDSAVE)
    return lambda d: (
        not none
        and (not states or d.state in states)
        and (not persistence or d.persistent in persistence)
    )


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


def ref_of(text: str) -> common_pb2.DomainRef:
    """A domain argument as virsh takes it: a UUID, else an ID or name (the daemon
    matches a name against the CTID in decimal and the OpenVZ NAME)."""
    if is_uuid(text):
        return common_pb2.DomainRef(uuid=text)
    return common_pb2.DomainRef(name=text)


# -- the host ----------------------------------------------------------------------------


def host_call(method: str) -> Call[Any]:
    """A Host query without parameters: GetVersion, GetHostname, GetNodeInfo, ..."""
    from openvz.v1 import host_pb2

    request_names = {
        "GetVersion": "VersionRequest",
        "GetHostname": "HostnameRequest",
        "GetNodeInfo": "NodeInfoRequest",
        "GetCapabilities": "CapabilitiesRequest",
        "Check": "CheckRequest",
    }
    reply = yield Rpc("Host", method, getattr(host_pb2, request_names[method])())
    return reply


def node_cpu_stats(cpu: int | None = None) -> Call[host_pb2.NodeCPUStats]:
    """The host's CPU times since boot (ns): one CPU's, or all CPUs' summed."""
    from openvz.v1 import host_pb2

    request = host_pb2.NodeCPUStatsRequest()
    if cpu is not None:
        request.cpu = cpu
    reply: host_pb2.NodeCPUStats = yield Rpc("Host", "GetNodeCPUStats", request)
    return reply


def hostname() -> Call[str]:
    reply = yield from host_call("GetHostname")
    return str(reply.hostname)


def capabilities() -> Call[str]:
    reply = yield from host_call("GetCapabilities")
    return str(reply.xml)


def host_check() -> Call[list[host_pb2.HostCheck]]:
    reply = yield from host_call("Check")
    return list(reply.checks)


# -- domains ---------------------------------------------------------------------------


def list_domains(flags: int, names_only: bool = False) -> Call[list[domains_pb2.Domain]]:
    # A names-only answer has no state or persistence for the client's own filters.
    names_only = names_only and not flags & FILTERED_HERE
    reply = yield Rpc("Domains", "List", list_request(flags, names_only))
    keep = state_filter(flags)
    return [d for d in reply.domains if keep(d)]


def lookup(ref: common_pb2.DomainRef) -> Call[domains_pb2.Domain]:
    reply: domains_pb2.Domain = yield Rpc("Domains", "Lookup", ref)
    return reply


def define(method: str, xml: str, wait: bool) -> Call[common_pb2.Job | domains_pb2.Domain]:
    """Define or Create: the queued job, or once it is done the domain it made."""
    options = common_pb2.JobOptions(no_wait=not wait)
    request = domains_pb2.DefineRequest(xml=xml, options=options)
    reply = yield Rpc("Domains", method, request, None)
    if not wait:
        job: common_pb2.Job = reply.job
        return job
    return (yield from lookup(common_pb2.DomainRef(id=reply.job.result_veid)))


def stats(
    refs: list[common_pb2.DomainRef], active_only: bool = False
) -> Call[list[domains_pb2.DomainStats]]:
    request = domains_pb2.GetStatsRequest(domains=refs, active_only=active_only)
    reply = yield Rpc("Domains", "GetStats", request)
    return list(reply.stats)


def info(ref: common_pb2.DomainRef) -> Call[domains_pb2.DomainInfo]:
    reply: domains_pb2.DomainInfo = yield Rpc("Domains", "GetInfo", ref)
    return reply


def xml_desc(ref: common_pb2.DomainRef, inactive: bool = False) -> Call[str]:
    request = domains_pb2.GetXMLRequest(domain=ref, inactive=inactive)
    reply = yield Rpc("Domains", "GetXML", request)
    return str(reply.xml)


def memory_parameters(ref: common_pb2.DomainRef) -> Call[domains_pb2.MemoryParameters]:
    reply: domains_pb2.MemoryParameters = yield Rpc("Domains", "GetMemoryParameters", ref)
    return reply


def interface_stats(
    name: str, ref: common_pb2.DomainRef, device: str
) -> Call[domains_pb2.InterfaceStats]:
    """Counters of one interface, by host device (vethCTID.N) or guest name (eth0),
    as the guest counts them; NotFound names the interfaces there are."""
    from openvz.interfaces import guest_to_host_devices, pick_interface

    interfaces = (yield from stats([ref]))[0].interfaces
    if any(i.device == device for i in interfaces):
        guest_devices: dict[str, str] = {}
    else:
        guest_devices = guest_to_host_devices((yield from xml_desc(ref)))
    return pick_interface(name, interfaces, device, guest_devices)


def change(
    method: str, request: Any, wait: bool
) -> Call[tuple[common_pb2.Job, domains_pb2.Domain | None]]:
    """A mutating Domains call: its job, and when it waited, the domain as the job
    left it (None when the job removed it), so no copy of it is left stale."""
    request.options.CopyFrom(common_pb2.JobOptions(no_wait=not wait))
    reply = yield Rpc("Domains", method, request, None)
    job: common_pb2.Job = reply.job
    if not wait or method == "Undefine" or (method == "Migrate" and not request.keep_source):
        return job, None
    return job, (yield from lookup(request.domain))


def migration_host(destination: str) -> str:
    """The host vzmigrate takes, from what virsh migrate takes: a destination URI
    (openvz+ssh://host/system, openvz://host/system) or a bare host name or address."""
    if "://" not in destination:
        return destination
    from openvz.uri import parse_uri

    uri = parse_uri(destination)
    if not uri.host:
        raise InvalidArgument(
            f"{destination!r} names no host: give one as openvz+ssh://HOST/system or HOST"
        )
    return uri.host


def domain_call(ref: common_pb2.DomainRef) -> domains_pb2.DomainCall:
    return domains_pb2.DomainCall(domain=ref)


# -- jobs ------------------------------------------------------------------------------


def list_jobs(veid: int, limit: int) -> Call[list[common_pb2.Job]]:
    from openvz.v1 import jobs_pb2

    reply = yield Rpc("Jobs", "List", jobs_pb2.ListJobsRequest(veid=veid, limit=limit))
    return list(reply.jobs)


def job(method: str, job_id: str) -> Call[common_pb2.Job]:
    """Jobs.Get or Jobs.Cancel of one job."""
    from openvz.v1 import jobs_pb2

    reply: common_pb2.Job = yield Rpc("Jobs", method, jobs_pb2.JobRef(id=job_id))
    return reply


def job_timeout_message(message: common_pb2.Job, timeout: float | None) -> str:
    return f"job {message.id} ({message.operation}) is still {job_state(message)} after {timeout} s"


# -- what both faces answer from the message they hold ------------------------------------


class JobView:
    """A queued change: its state, progress and result, as the daemon journals them."""

    message: common_pb2.Job

    def __repr__(self) -> str:
        m = self.message
        return f"<{type(self).__module__}.Job {m.id} {m.operation} {m.veid} {self.state}>"

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


class DomainView:
    """What a Domain answers without asking: its identity, which never changes."""

    message: domains_pb2.Domain

    def __repr__(self) -> str:
        return f"<{type(self).__module__}.Domain {self.message.name}>"

    def _ref(self) -> common_pb2.DomainRef:
        return common_pb2.DomainRef(id=int(self.message.name))

    def name(self) -> str:
        return self.message.name

    def uuid_string(self) -> str:
        return self.message.uuid

    def is_persistent(self) -> bool:
        return bool(self.message.persistent)
