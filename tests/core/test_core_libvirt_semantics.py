"""libvirt's semantics in the executors (issue 15), on the real daemon over gRPC:
the state checks at submit and at run time with queued jobs, the state reason
kept across a restart, and define over an existing container (docs/libvirt-semantics.md).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

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

from tests.daemon_process import DaemonProcess, running_daemon
from tests.proof.records import set_knobs
from tests.proof.sim import prepare_host

VEID = 611
REF = common_pb2.DomainRef(id=VEID)
QUEUED = common_pb2.JobOptions(no_wait=True)


@pytest.fixture
def sim(tmp_path: Path) -> Path:
    sim_dir = tmp_path / "sim"
    prepare_host(sim_dir, 1, VEID)
    return sim_dir


@pytest.fixture
def daemon(sim: Path) -> Iterator[DaemonProcess]:
    with running_daemon(sim) as process:
        yield process


def _end(channel: grpc.Channel, job: common_pb2.Job) -> common_pb2.Job:
    stream = jobs_pb2_grpc.JobsStub(channel).Wait(
        jobs_pb2.WaitJobRequest(id=job.id, timeout_seconds=60), timeout=90
    )
    return [job, *stream][-1]


def _succeeds(channel: grpc.Channel, job: common_pb2.Job) -> common_pb2.Job:
    last = _end(channel, job)
    assert last.state == common_pb2.JOB_STATE_SUCCEEDED, last
    return last


def _call(rpc: str, channel: grpc.Channel) -> common_pb2.Job:
    stub = domains_pb2_grpc.DomainsStub(channel)
    reply: domains_pb2.JobReply = getattr(stub, rpc)(
        domains_pb2.DomainCall(domain=REF, options=QUEUED), timeout=30
    )
    return reply.job


def _xml(stub: domains_pb2_grpc.DomainsStub) -> str:
    return stub.GetXML(domains_pb2.GetXMLRequest(domain=REF, inactive=True)).xml


def test_destroy_queued_behind_a_start_runs_and_a_shutdown_after_it_fails_then(
    daemon: DaemonProcess,
) -> None:
    with daemon.channel() as channel:
        stub = domains_pb2_grpc.DomainsStub(channel)
        assert stub.Lookup(REF).state == domains_pb2.DOMAIN_STATE_SHUTOFF
        set_knobs(daemon.host_root, {"delay": {"start": 0.5}})
        start = _call("Start", channel)
        # The model says stopped, but the start ahead on the lane decides.
        destroy = _call("Destroy", channel)
        # (not a second destroy: an identical submit would merge with the first)
        again = stub.Shutdown(
            domains_pb2.ShutdownRequest(domain=REF, options=QUEUED), timeout=30
        ).job
        _succeeds(channel, start)
        _succeeds(channel, destroy)
        failed = _end(channel, again)
        assert failed.state == common_pb2.JOB_STATE_FAILED
        assert failed.error.kind == common_pb2.ERROR_KIND_WRONG_STATE
        assert failed.error.message.startswith("domain is not in running state")
        # With the lane idle, a refusal comes at submit and nothing is queued.
        with pytest.raises(grpc.RpcError) as refused:
            _call("Reboot", channel)
        assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "domain is not in running state" in (refused.value.details() or "")


def test_a_paused_container_may_be_destroyed_but_not_rebooted(daemon: DaemonProcess) -> None:
    with daemon.channel() as channel:
        stub = domains_pb2_grpc.DomainsStub(channel)
        for rpc in ("Start", "Suspend"):
            _succeeds(channel, _call(rpc, channel))
        with pytest.raises(grpc.RpcError) as refused:
            _call("Reboot", channel)
        assert "resume it first" in (refused.value.details() or "")
        _succeeds(channel, _call("Destroy", channel))
        domain = stub.Lookup(REF)
        assert (domain.state, domain.state_reason) == (
            domains_pb2.DOMAIN_STATE_SHUTOFF,
            "destroyed",
        )


def test_the_state_reason_outlives_a_restart_and_yields_to_an_outside_change(sim: Path) -> None:
    with running_daemon(sim) as daemon, daemon.channel() as channel:
        stub = domains_pb2_grpc.DomainsStub(channel)
        assert stub.Lookup(REF).state_reason == "shutdown"  # found so: no job said why
        _succeeds(channel, _call("Start", channel))
        assert stub.Lookup(REF).state_reason == "booted"
        # A state's usual reason is not written down: only the exceptions are.
        assert str(VEID) not in _recorded_reasons(daemon)
        for rpc in ("Suspend", "Resume"):
            _succeeds(channel, _call(rpc, channel))
        assert stub.Lookup(REF).state_reason == "unpaused"
        assert _recorded_reasons(daemon)[str(VEID)] == ["running", "unpaused"]
        _succeeds(channel, _call("Destroy", channel))
    with running_daemon(sim) as daemon, daemon.channel() as channel:
        stub = domains_pb2_grpc.DomainsStub(channel)
        assert stub.Lookup(REF).state_reason == "destroyed"
        # An administrator's vzctl start and stop: the monitor sees them, no job
        # says why, so the recorded 'destroyed' is gone for good.
        daemon.vzctl("start", str(VEID))
        _wait_for_state(stub, domains_pb2.DOMAIN_STATE_RUNNING)
        assert stub.Lookup(REF).state_reason == "booted"
        daemon.vzctl("stop", str(VEID))
        _wait_for_state(stub, domains_pb2.DOMAIN_STATE_SHUTOFF)
        assert stub.Lookup(REF).state_reason == "shutdown"


def _recorded_reasons(daemon: DaemonProcess) -> dict[str, list[str]]:
    reasons = daemon.sim_dir / "state" / "reasons.json"
    return json.loads(reasons.read_text()) if reasons.exists() else {}


def _wait_for_state(stub: domains_pb2_grpc.DomainsStub, state: int) -> None:
    """Until the monitor's next look (every 2 s) shows the container in state."""
    deadline = time.monotonic() + 20
    while stub.Lookup(REF).state != state:
        assert time.monotonic() < deadline, f"the monitor never saw state {state}"
        time.sleep(0.2)


def test_define_over_an_existing_container_plans_only_the_difference(
    daemon: DaemonProcess,
) -> None:
    with daemon.channel() as channel:
        stub = domains_pb2_grpc.DomainsStub(channel)
        xml = _xml(stub)
        uuid = stub.Lookup(REF).uuid
        same = stub.Define(domains_pb2.DefineRequest(xml=xml), timeout=60).job
        assert (same.operation, same.veid) == ("define", VEID)
        assert _succeeds(channel, same).progress_step == "nothing to change"
        # Queued behind a slow set-vcpus, the define is planned against its result.
        set_knobs(daemon.host_root, {"delay": {"set": 0.4}})
        first = stub.SetVcpus(
            domains_pb2.SetVcpusRequest(domain=REF, vcpus=2, options=QUEUED), timeout=30
        ).job
        without_uuid = re.sub(r"\s*<uuid>[^<]*</uuid>", "", xml)
        titled = without_uuid.replace("</name>", "</name>\n  <title>db</title>", 1)
        redefine = stub.Define(
            domains_pb2.DefineRequest(xml=titled, options=QUEUED), timeout=30
        ).job
        _succeeds(channel, first)
        _succeeds(channel, redefine)
        domain = stub.Lookup(REF)
        assert (domain.uuid, domain.title) == (uuid, "db")
        # The define's XML had no <vcpu>: CPUS is kept, as an unset value keeps it.
        assert stub.GetInfo(REF).vcpus == 2
        # Events as libvirt's: Defined Updated, once each, never Added.
        kinds: dict[str, list[tuple[int, str]]] = {same.id: [], redefine.id: []}
        stream = events_pb2_grpc.EventsStub(channel).Watch(
            events_pb2.WatchRequest(after_seq=1, veids=[VEID]), timeout=2
        )
        with pytest.raises(grpc.RpcError):  # the stream's deadline ends it
            for event in stream:
                if event.lifecycle.job_id in kinds:
                    kinds[event.lifecycle.job_id].append(
                        (event.lifecycle.kind, event.lifecycle.detail)
                    )
        assert kinds == {
            same.id: [(events_pb2.LIFECYCLE_KIND_DEFINED, "updated")],
            redefine.id: [(events_pb2.LIFECYCLE_KIND_CHANGED, "")],
        }


def test_define_over_an_existing_container_refuses_what_it_cannot_change(
    daemon: DaemonProcess,
) -> None:
    with daemon.channel() as channel:
        stub = domains_pb2_grpc.DomainsStub(channel)
        xml = _xml(stub)
        other_uuid = re.sub(
            r"<uuid>[^<]*</uuid>", "<uuid>00000000-0000-4000-8000-000000000611</uuid>", xml
        )
        with pytest.raises(grpc.RpcError) as refused:
            stub.Define(domains_pb2.DefineRequest(xml=other_uuid), timeout=30)
        assert refused.value.code() == grpc.StatusCode.ALREADY_EXISTS
        assert f"domain '{VEID}' is already defined with uuid" in (refused.value.details() or "")
        template = re.search(r"<source name=['\"]([^'\"]+)['\"]", xml)
        assert template is not None
        other_template = xml.replace(template.group(0), "<source name='debian-12-x86_64'")
        with pytest.raises(grpc.RpcError) as refused:
            stub.Define(domains_pb2.DefineRequest(xml=other_template), timeout=30)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "root filesystem of an existing container cannot change" in (
            refused.value.details() or ""
        )
        with pytest.raises(grpc.RpcError) as refused:
            stub.Create(domains_pb2.DefineRequest(xml=xml), timeout=30)
        assert refused.value.code() == grpc.StatusCode.ALREADY_EXISTS
        assert _xml(stub) == xml


def test_setvcpus_beyond_the_hosts_cpus_names_the_count(daemon: DaemonProcess) -> None:
    with daemon.channel() as channel:
        stub = domains_pb2_grpc.DomainsStub(channel)
        cpus = host_pb2_grpc.HostStub(channel).GetNodeInfo(host_pb2.NodeInfoRequest()).cpus
        assert cpus >= 1
        _succeeds(
            channel,
            stub.SetVcpus(domains_pb2.SetVcpusRequest(domain=REF, vcpus=cpus), timeout=30).job,
        )
        with pytest.raises(grpc.RpcError) as refused:
            stub.SetVcpus(domains_pb2.SetVcpusRequest(domain=REF, vcpus=cpus + 1), timeout=30)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert f"max allowable vcpus for the domain: {cpus + 1} > {cpus}" in (
            refused.value.details() or ""
        )


def test_a_container_on_a_directory_is_redefined_in_place(tmp_path: Path) -> None:
    sim_dir = tmp_path / "sim"
    sim_dir.mkdir()
    (sim_dir / "openvzd.toml").write_text('[storage]\nmount_roots = ["/srv/containers"]\n')
    with running_daemon(sim_dir) as daemon, daemon.channel() as channel:
        stub = domains_pb2_grpc.DomainsStub(channel)
        for name in ("ct-631", "other"):
            folder = daemon.host_root / "srv" / "containers" / name / "sbin"
            folder.mkdir(parents=True)
            (folder / "init").write_text("#!/bin/sh\n")
        xml = (
            "<domain type='openvz'><name>631</name><devices><filesystem type='mount'>"
            "<source dir='/srv/containers/ct-631'/></filesystem></devices></domain>"
        )
        _succeeds(channel, stub.Define(domains_pb2.DefineRequest(xml=xml), timeout=60).job)
        ref = common_pb2.DomainRef(id=631)
        dumped = stub.GetXML(domains_pb2.GetXMLRequest(domain=ref, inactive=True)).xml
        described = dumped.replace("</name>", "</name>\n  <description>files</description>", 1)
        _succeeds(channel, stub.Define(domains_pb2.DefineRequest(xml=described), timeout=60).job)
        again = stub.GetXML(domains_pb2.GetXMLRequest(domain=ref, inactive=True)).xml
        assert "<description>files</description>" in again
        assert "/srv/containers/ct-631" in again
        moved = described.replace("/srv/containers/ct-631", "/srv/containers/other")
        with pytest.raises(grpc.RpcError) as refused:
            stub.Define(domains_pb2.DefineRequest(xml=moved), timeout=60)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "cannot change" in (refused.value.details() or "")
