"""Queued changes compose (issue 12): each job is planned when it reaches the
front of its lane, against the container as the job before it left it.

Every test submits with no_wait behind a slow first run (vzsim's `set` delay),
so the later jobs are journaled while the earlier ones have not run yet: a plan
made at submit would diff against the old config and get it wrong.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest
from lxml import etree
from openvz.v1 import common_pb2, domains_pb2, domains_pb2_grpc, jobs_pb2, jobs_pb2_grpc

from tests.daemon_process import DaemonProcess, running_daemon
from tests.proof.records import set_knobs
from tests.proof.sim import prepare_host

VEID = 601
REF = common_pb2.DomainRef(id=VEID)
QUEUED = common_pb2.JobOptions(no_wait=True)


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[DaemonProcess]:
    sim = tmp_path / "sim"
    prepare_host(sim, 1, VEID)
    with running_daemon(sim) as process:
        yield process


def _finish(channel: grpc.Channel, job: common_pb2.Job) -> common_pb2.Job:
    stream = jobs_pb2_grpc.JobsStub(channel).Wait(
        jobs_pb2.WaitJobRequest(id=job.id, timeout_seconds=60), timeout=90
    )
    snapshots = [job, *stream]
    last = snapshots[-1]
    assert last.state == common_pb2.JOB_STATE_SUCCEEDED, last
    return last


def _slow_sets(daemon: DaemonProcess) -> None:
    set_knobs(daemon.host_root, {"delay": {"set": 0.4}})


def _interfaces(stub: domains_pb2_grpc.DomainsStub) -> list[etree._Element]:
    xml = stub.GetXML(domains_pb2.GetXMLRequest(domain=REF)).xml
    return list(etree.fromstring(xml.encode()).iterfind("devices/interface[@type='bridge']"))


def test_set_memory_b_then_a_ends_at_a(daemon: DaemonProcess) -> None:
    with daemon.channel() as channel:
        stub = domains_pb2_grpc.DomainsStub(channel)
        original = stub.GetMemoryParameters(REF).hard_limit_kib
        assert original > 0
        _slow_sets(daemon)
        first = stub.SetMemory(
            domains_pb2.SetMemoryRequest(domain=REF, memory_kib=original * 2, options=QUEUED)
        ).job
        second = stub.SetMemory(
            domains_pb2.SetMemoryRequest(domain=REF, memory_kib=original, options=QUEUED)
        ).job
        assert (first.operation, second.operation) == ("set-memory", "set-memory")
        _finish(channel, first)
        _finish(channel, second)
        assert stub.GetMemoryParameters(REF).hard_limit_kib == original


def test_vcpus_autostart_and_hostname_compose(daemon: DaemonProcess) -> None:
    with daemon.channel() as channel:
        stub = domains_pb2_grpc.DomainsStub(channel)
        stub.SetVcpus(domains_pb2.SetVcpusRequest(domain=REF, vcpus=1), timeout=60)
        before = stub.Lookup(REF)
        assert not before.autostart
        _slow_sets(daemon)
        jobs = [
            stub.SetVcpus(domains_pb2.SetVcpusRequest(domain=REF, vcpus=3, options=QUEUED)).job,
            stub.SetVcpus(domains_pb2.SetVcpusRequest(domain=REF, vcpus=1, options=QUEUED)).job,
            stub.SetAutostart(
                domains_pb2.SetAutostartRequest(domain=REF, autostart=True, options=QUEUED)
            ).job,
            stub.SetAutostart(
                domains_pb2.SetAutostartRequest(domain=REF, autostart=False, options=QUEUED)
            ).job,
            stub.SetHostname(
                domains_pb2.SetHostnameRequest(
                    domain=REF, hostname="elsewhere.example.com", options=QUEUED
                )
            ).job,
            stub.SetHostname(
                domains_pb2.SetHostnameRequest(domain=REF, hostname=before.hostname, options=QUEUED)
            ).job,
        ]
        assert [job.operation for job in jobs] == [
            "set-vcpus",
            "set-vcpus",
            "set-autostart",
            "set-autostart",
            "set-hostname",
            "set-hostname",
        ]
        for job in jobs:
            _finish(channel, job)
        after = stub.Lookup(REF)
        assert (after.autostart, after.hostname) == (False, before.hostname)
        assert stub.GetInfo(REF).vcpus == 1


def test_a_change_with_nothing_to_do_succeeds_and_says_so(daemon: DaemonProcess) -> None:
    with daemon.channel() as channel:
        stub = domains_pb2_grpc.DomainsStub(channel)
        hostname = stub.Lookup(REF).hostname
        reply = stub.SetHostname(
            domains_pb2.SetHostnameRequest(domain=REF, hostname=hostname), timeout=60
        )
        assert reply.job.state == common_pb2.JOB_STATE_SUCCEEDED
        assert reply.job.progress_step == "nothing to change"


def test_concurrent_attach_interface_calls_get_distinct_guest_names(
    daemon: DaemonProcess,
) -> None:
    count = 4
    device = "<interface type='bridge'><source bridge='vmbr0'/></interface>"
    _slow_sets(daemon)
    with daemon.channel() as channel:
        stub = domains_pb2_grpc.DomainsStub(channel)

        def attach(_: int) -> common_pb2.Job:
            request = domains_pb2.DeviceRequest(domain=REF, device_xml=device)
            return stub.AttachDevice(request, timeout=90).job

        with ThreadPoolExecutor(count) as pool:
            jobs = list(pool.map(attach, range(count)))
        assert {job.operation for job in jobs} == {"attach-interface"}
        assert len({job.id for job in jobs}) == count
        interfaces = _interfaces(stub)
        names = sorted(str(i.find("guest").get("dev")) for i in interfaces)  # type: ignore[union-attr]
        macs = {str(i.find("mac").get("address")) for i in interfaces}  # type: ignore[union-attr]
        assert names == [f"eth{n}" for n in range(count)]
        assert len(macs) == count


def test_attach_then_detach_queued_together_leaves_none(daemon: DaemonProcess) -> None:
    device = (
        "<interface type='bridge'><mac address='00:18:51:aa:bb:cc'/>"
        "<source bridge='vmbr0'/></interface>"
    )
    with daemon.channel() as channel:
        stub = domains_pb2_grpc.DomainsStub(channel)
        assert _interfaces(stub) == []
        _slow_sets(daemon)
        attach = stub.AttachDevice(
            domains_pb2.DeviceRequest(domain=REF, device_xml=device, options=QUEUED)
        ).job
        detach = stub.DetachDevice(
            domains_pb2.DeviceRequest(domain=REF, device_xml=device, options=QUEUED)
        ).job
        assert (attach.operation, detach.operation) == ("attach-interface", "detach-interface")
        assert detach.state == common_pb2.JOB_STATE_QUEUED
        _finish(channel, attach)
        _finish(channel, detach)
        assert _interfaces(stub) == []


def test_a_device_whose_xml_is_wrong_is_refused_at_submit(daemon: DaemonProcess) -> None:
    with daemon.channel() as channel:
        stub = domains_pb2_grpc.DomainsStub(channel)
        with pytest.raises(grpc.RpcError) as caught:
            stub.AttachDevice(
                domains_pb2.DeviceRequest(
                    domain=REF,
                    device_xml="<interface type='bridge'><source bridge='no such'/></interface>",
                    options=QUEUED,
                )
            )
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT  # type: ignore[attr-defined]
        assert "bridge name" in (caught.value.details() or "")  # type: ignore[attr-defined]
        listed = jobs_pb2_grpc.JobsStub(channel).List(jobs_pb2.ListJobsRequest(veid=VEID))
        assert [job.operation for job in listed.jobs] == []
