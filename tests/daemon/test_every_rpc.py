"""Every RPC of the wire contract against the real daemon on vzsim, with what it
must change on the host (read back from CTID.conf by vzsim's own files)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import grpc
import pytest
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
from openvzd.access import all_methods
from openvzd.vz.conffile import read_config

from tests.daemon_process import DaemonProcess, running_daemon

CALLED: set[str] = set()


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    with running_daemon(tmp_path_factory.mktemp("rpcs") / "sim") as process:
        yield process


@pytest.fixture(scope="module")
def stubs(daemon: DaemonProcess) -> Iterator[tuple[object, ...]]:
    with daemon.channel() as channel:
        yield (
            domains_pb2_grpc.DomainsStub(channel),
            jobs_pb2_grpc.JobsStub(channel),
            events_pb2_grpc.EventsStub(channel),
            host_pb2_grpc.HostStub(channel),
        )


def call(stub: object, name: str, request: object, **kwargs: object) -> object:
    service = type(stub).__name__.removesuffix("Stub")
    CALLED.add(f"/openvz.v1.{service}/{name}")
    return getattr(stub, name)(request, timeout=60, **kwargs)


def conf(daemon: DaemonProcess, veid: int) -> dict[str, str]:
    return read_config(daemon.host_root / "etc" / "vz" / "conf" / f"{veid}.conf").values


REF = common_pb2.DomainRef(id=150)


def test_every_rpc(daemon: DaemonProcess, stubs: tuple[object, ...]) -> None:
    domains, jobs, events, host = stubs
    xml = (daemon.sim_dir / "example-150.xml").read_text()
    # Host
    assert call(host, "GetVersion", host_pb2.VersionRequest()).vzctl_flavour == "legacy4"
    assert call(host, "GetHostname", host_pb2.HostnameRequest()).hostname
    assert call(host, "GetNodeInfo", host_pb2.NodeInfoRequest()).cpus >= 1
    assert call(host, "GetNodeCPUStats", host_pb2.NodeCPUStatsRequest()).idle_ns > 0
    assert (
        "<os_type>exe</os_type>"
        in call(host, "GetCapabilities", host_pb2.CapabilitiesRequest()).xml
    )
    assert call(host, "Check", host_pb2.CheckRequest()).checks
    # Define, Create, lookups and reads
    call(domains, "Define", domains_pb2.DefineRequest(xml=xml))
    created = call(
        domains,
        "Create",
        domains_pb2.DefineRequest(
            xml=xml.replace("<name>150</name>", "<name>151</name>").replace(
                "10.0.150.1", "10.0.151.1"
            )
        ),
    )
    assert created.job.state == common_pb2.JOB_STATE_SUCCEEDED
    assert (
        call(domains, "Lookup", common_pb2.DomainRef(id=151)).state
        == domains_pb2.DOMAIN_STATE_RUNNING
    )
    assert [
        d.id for d in call(domains, "List", domains_pb2.ListDomainsRequest(inactive=True)).domains
    ] == [-1]
    assert "<name>150</name>" in call(domains, "GetXML", domains_pb2.GetXMLRequest(domain=REF)).xml
    assert call(domains, "GetInfo", REF).max_memory_kib == 524288
    assert call(domains, "GetMemoryParameters", REF).hard_limit_kib == 524288
    # Settings, each read back from the config vzctl wrote
    call(domains, "SetAutostart", domains_pb2.SetAutostartRequest(domain=REF, autostart=True))
    assert conf(daemon, 150)["ONBOOT"] == "yes"
    assert call(domains, "Lookup", REF).autostart
    call(domains, "SetVcpus", domains_pb2.SetVcpusRequest(domain=REF, vcpus=3))
    assert conf(daemon, 150)["CPUS"] == "3"
    call(domains, "SetMemory", domains_pb2.SetMemoryRequest(domain=REF, memory_kib=1048576))
    assert call(domains, "GetInfo", REF).max_memory_kib == 1048576
    call(
        domains,
        "SetMemoryParameters",
        domains_pb2.SetMemoryParametersRequest(domain=REF, swap_hard_limit_kib=3145728),
    )
    assert call(domains, "GetMemoryParameters", REF).swap_hard_limit_kib == 3145728
    call(
        domains,
        "SetMemoryParameters",
        domains_pb2.SetMemoryParametersRequest(domain=REF, min_guarantee_kib=262144),
    )
    assert conf(daemon, 150)["VMGUARPAGES"] == "65536:unlimited"
    assert call(domains, "GetMemoryParameters", REF).min_guarantee_kib == 262144
    with pytest.raises(grpc.RpcError) as caught:
        call(
            domains,
            "SetMemoryParameters",
            domains_pb2.SetMemoryParametersRequest(domain=REF, soft_limit_kib=524288),
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "VSwap" in caught.value.details()
    call(
        domains,
        "SetHostname",
        domains_pb2.SetHostnameRequest(domain=REF, hostname="web.example.com"),
    )
    assert conf(daemon, 150)["HOSTNAME"] == "web.example.com"
    call(
        domains,
        "SetNameservers",
        domains_pb2.SetNameserversRequest(
            domain=REF, nameservers=["192.0.2.53"], search_domains=["example.com"]
        ),
    )
    assert conf(daemon, 150)["NAMESERVER"] == "192.0.2.53"
    call(
        domains,
        "SetUserPassword",
        domains_pb2.SetUserPasswordRequest(domain=REF, user="root", password="s3cret"),
    )
    call(
        domains,
        "AttachDevice",
        domains_pb2.DeviceRequest(
            domain=REF,
            device_xml="<interface type='ethernet'><ip address='10.0.150.2'/></interface>",
        ),
    )
    assert "10.0.150.2" in conf(daemon, 150)["IP_ADDRESS"].split()
    call(
        domains,
        "DetachDevice",
        domains_pb2.DeviceRequest(
            domain=REF,
            device_xml="<interface type='ethernet'><ip address='10.0.150.2'/></interface>",
        ),
    )
    assert "10.0.150.2" not in conf(daemon, 150)["IP_ADDRESS"].split()
    update = "UpdateDevice"
    call(
        domains,
        update,
        domains_pb2.DeviceRequest(
            domain=REF,
            device_xml="<interface type='ethernet'><ip address='10.0.150.3' prefix='24'/>"
            "<ip address='2001:db8::150'/></interface>",
        ),
    )
    assert conf(daemon, 150)["IP_ADDRESS"] == "10.0.150.3/24 2001:db8::150"
    disk = domains_pb2.DeviceRequest(
        domain=REF,
        device_xml="<filesystem type='template'><source name='centos-7-x86_64-minimal'/>"
        "<target dir='/'/><space_hard_limit unit='GiB'>4</space_hard_limit>"
        "<space_soft_limit unit='GiB'>3</space_soft_limit></filesystem>",
    )
    call(domains, update, disk)
    assert conf(daemon, 150)["DISKSPACE"] == "3145728:4194304"
    runs = (daemon.host_root / ".vzsim" / "runs.log").read_text().count('"set"')
    call(domains, update, disk)
    # The same device again changes nothing and runs no vzctl.
    assert (daemon.host_root / ".vzsim" / "runs.log").read_text().count('"set"') == runs
    daemon.vzsim("bridge", str(daemon.host_root), "add", "vmbr1")
    call(
        domains,
        "AttachDevice",
        domains_pb2.DeviceRequest(
            domain=REF, device_xml="<interface type='bridge'><source bridge='vmbr0'/></interface>"
        ),
    )
    call(
        domains,
        update,
        domains_pb2.DeviceRequest(
            domain=REF,
            device_xml="<interface type='bridge'><mac address='00:18:51:aa:bb:cc'/>"
            "<source bridge='vmbr1'/><guest dev='eth0'/></interface>",
        ),
    )
    netif = dict(part.split("=") for part in conf(daemon, 150)["NETIF"].split(","))
    assert (netif["ifname"], netif["bridge"], netif["mac"]) == (
        "eth0",
        "vmbr1",
        "00:18:51:AA:BB:CC",
    )
    assert netif["host_ifname"] == "veth150.0" and netif["host_mac"] != netif["mac"]
    with pytest.raises(grpc.RpcError) as caught:
        call(
            domains,
            update,
            domains_pb2.DeviceRequest(
                domain=REF, device_xml="<interface type='bridge'><guest dev='eth7'/></interface>"
            ),
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "no interface" in caught.value.details()
    # Lifecycle
    watch = call(events, "Watch", events_pb2.WatchRequest(veids=[150]))
    call(domains, "Start", domains_pb2.DomainCall(domain=REF))
    first = next(iter(watch))
    assert first.lifecycle.kind == events_pb2.LIFECYCLE_KIND_STARTED
    watch.cancel()
    call(domains, "Suspend", domains_pb2.DomainCall(domain=REF))
    assert call(domains, "Lookup", REF).state == domains_pb2.DOMAIN_STATE_PAUSED
    call(domains, "Resume", domains_pb2.DomainCall(domain=REF))
    call(domains, "Reboot", domains_pb2.DomainCall(domain=REF))
    stats = call(domains, "GetStats", domains_pb2.GetStatsRequest(domains=[REF])).stats[0]
    assert stats.domain.state == domains_pb2.DOMAIN_STATE_RUNNING
    assert any(bc.resource == "physpages" for bc in stats.beancounters)
    # Sessions (tests/daemon/test_sessions.py has the rest)
    start = domains_pb2.ExecStart(domain=REF, argv=["sh", "-c", "cat; exit 3"])
    exec_requests = [
        domains_pb2.ExecRequest(start=start),
        domains_pb2.ExecRequest(stdin=b"in"),
        domains_pb2.ExecRequest(stdin_eof=True),
    ]
    replies = list(call(domains, "Exec", iter(exec_requests)))
    assert [r.WhichOneof("message") for r in replies] == ["started", "stdout", "exit"]
    assert (replies[1].stdout, replies[2].exit.status) == (b"in", 3)
    console_requests = [
        domains_pb2.ConsoleRequest(attach=domains_pb2.ConsoleAttach(domain=REF)),
        domains_pb2.ConsoleRequest(detach=True),
    ]
    replies = list(call(domains, "Console", iter(console_requests)))
    assert replies[0].WhichOneof("message") == "attached"
    assert replies[-1].detached.reason == "detached"
    call(domains, "Shutdown", domains_pb2.ShutdownRequest(domain=REF))
    call(domains, "Destroy", domains_pb2.DomainCall(domain=common_pb2.DomainRef(id=151)))
    # Jobs
    queued = call(
        domains,
        "Start",
        domains_pb2.DomainCall(domain=REF, options=common_pb2.JobOptions(no_wait=True)),
    )
    assert list(call(jobs, "Wait", jobs_pb2.WaitJobRequest(id=queued.job.id)))[-1].state == (
        common_pb2.JOB_STATE_SUCCEEDED
    )
    assert call(jobs, "Get", jobs_pb2.JobRef(id=queued.job.id)).operation == "start"
    assert (
        call(jobs, "List", jobs_pb2.ListJobsRequest(veid=150, limit=3)).jobs[0].id == queued.job.id
    )
    with pytest.raises(grpc.RpcError) as caught:
        call(jobs, "Cancel", jobs_pb2.JobRef(id=queued.job.id))
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    call(domains, "Destroy", domains_pb2.DomainCall(domain=REF))
    # Migrate to another simulated host, then Undefine what is left
    other = daemon.sim_dir / "other"
    daemon.vzsim("init", str(other))
    call(domains, "Migrate", domains_pb2.MigrateRequest(domain=REF, destination=str(other)))
    assert (other / "etc" / "vz" / "conf" / "150.conf").exists()
    time.sleep(0.1)
    call(domains, "Undefine", domains_pb2.UndefineRequest(domain=common_pb2.DomainRef(id=151)))
    assert not (daemon.host_root / "etc" / "vz" / "conf" / "151.conf").exists()
    # Every method of the contract was called.
    assert set(all_methods()) - CALLED == set()
