"""Jobs through the real daemon on vzsim: lanes, crash recovery, events, faults."""

from __future__ import annotations

import json
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest
from openvz.v1 import (
    common_pb2,
    domains_pb2,
    domains_pb2_grpc,
    events_pb2,
    events_pb2_grpc,
    jobs_pb2,
    jobs_pb2_grpc,
)

from tests.daemon_process import DaemonProcess, running_daemon, start_daemon


def _knobs(daemon: DaemonProcess, knobs: dict[str, object]) -> None:
    (daemon.host_root / ".vzsim" / "knobs.json").write_text(json.dumps(knobs))


def _runs(daemon: DaemonProcess, command: str) -> list[dict[str, object]]:
    """vzsim's own record of finished tool runs of one vzctl command."""
    runs = []
    for line in (daemon.host_root / ".vzsim" / "runs.log").read_text().splitlines():
        record = json.loads(line)
        argv = record.get("argv") or []
        if record.get("event") == "end" and command in argv[:3]:
            runs.append(record)
    return runs


def _call(veid: int) -> domains_pb2.DomainCall:
    return domains_pb2.DomainCall(domain=common_pb2.DomainRef(id=veid))


@pytest.fixture
def daemon(tmp_path: Path):  # type: ignore[no-untyped-def]
    with running_daemon(tmp_path / "sim") as process:
        process.vzsim("populate", str(process.host_root), "--count", "7", "--first-id", "200")
        time.sleep(2.5)  # the monitor's next look finds them
        yield process


def test_concurrent_calls_on_one_container_never_meet_the_vzctl_lock(daemon: DaemonProcess) -> None:
    _knobs(daemon, {"delay": {"start": 0.2, "stop_fast": 0.2}})
    with daemon.channel() as channel:
        stub = domains_pb2_grpc.DomainsStub(channel)

        def toggle(i: int) -> str:
            method = stub.Start if i % 2 == 0 else stub.Destroy
            try:
                method(_call(200), timeout=60)
                return "ok"
            except grpc.RpcError as err:
                return str(err.code())

        with ThreadPoolExecutor(8) as pool:
            outcomes = list(pool.map(toggle, range(16)))
    # Wrong-state answers are expected (start of a running CT); a lock error (BUSY) is not.
    assert "StatusCode.ABORTED" not in outcomes
    assert outcomes.count("ok") >= 2
    runs = _runs(daemon, "start") + _runs(daemon, "stop")
    assert runs and all(r["exit"] != 9 for r in runs)


def test_identical_queued_starts_merge(daemon: DaemonProcess) -> None:
    _knobs(daemon, {"delay": {"start": 0.5}})
    with daemon.channel() as channel:
        stub = domains_pb2_grpc.DomainsStub(channel)
        nowait = common_pb2.JobOptions(no_wait=True)
        ref = common_pb2.DomainRef(id=202)
        # The first start runs at once; the two after it wait on the lane and merge.
        first = stub.Start(domains_pb2.DomainCall(domain=ref, options=nowait))
        stub.Destroy(domains_pb2.DomainCall(domain=ref, options=nowait))
        second = stub.Start(domains_pb2.DomainCall(domain=ref, options=nowait))
        third = stub.Start(domains_pb2.DomainCall(domain=ref, options=nowait))
        assert second.job.id == third.job.id != first.job.id
        keyed = common_pb2.JobOptions(no_wait=True, idempotency_key="k-203")
        once = stub.Start(
            domains_pb2.DomainCall(domain=common_pb2.DomainRef(id=203), options=keyed)
        )
        again = stub.Start(
            domains_pb2.DomainCall(domain=common_pb2.DomainRef(id=203), options=keyed)
        )
        assert once.job.id == again.job.id
        jobs = jobs_pb2_grpc.JobsStub(channel)
        final = list(jobs.Wait(jobs_pb2.WaitJobRequest(id=third.job.id), timeout=30))[-1]
        assert final.state == common_pb2.JOB_STATE_SUCCEEDED
    assert len([r for r in _runs(daemon, "start") if "202" in r["argv"]]) == 2


def test_a_retried_request_finds_its_job_though_that_job_changed_the_state(
    daemon: DaemonProcess,
) -> None:
    """A submit whose answer was lost (the kill -9 proof lost one to a restart) is sent
    again with its idempotency key and must find the job it made. A destroy retried
    finds the container stopped, by itself; the checks were made when it was first
    submitted."""
    with daemon.channel() as channel:
        stub = domains_pb2_grpc.DomainsStub(channel)
        jobs = jobs_pb2_grpc.JobsStub(channel)

        def done(reply: domains_pb2.JobReply) -> str:
            final = list(jobs.Wait(jobs_pb2.WaitJobRequest(id=reply.job.id), timeout=30))[-1]
            assert final.state == common_pb2.JOB_STATE_SUCCEEDED
            return str(reply.job.id)

        ref = common_pb2.DomainRef(id=204)
        done(stub.Start(_call(204)))
        destroy = domains_pb2.DomainCall(
            domain=ref, options=common_pb2.JobOptions(idempotency_key="k-204-destroy")
        )
        destroyed = done(stub.Destroy(destroy))
        assert stub.Destroy(destroy).job.id == destroyed
        with pytest.raises(grpc.RpcError) as unkeyed:
            stub.Destroy(_call(204))  # a new request: the container is stopped
        assert unkeyed.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        with pytest.raises(grpc.RpcError) as other:  # the key names another request
            stub.Start(domains_pb2.DomainCall(domain=ref, options=destroy.options))
        assert other.value.code() == grpc.StatusCode.ALREADY_EXISTS


def test_failed_tool_run_is_a_status_with_the_tools_words(daemon: DaemonProcess) -> None:
    _knobs(daemon, {"faults": [{"command": "start", "count": 1, "exit": 78}]})
    with daemon.channel() as channel:
        stub = domains_pb2_grpc.DomainsStub(channel)
        with pytest.raises(grpc.RpcError) as caught:
            stub.Start(_call(204), timeout=30)
    assert caught.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert "exit code 78" in (caught.value.details() or "")
    assert dict(caught.value.trailing_metadata() or ()).get("openvz-job-id")


def test_cancel_a_hanging_start(daemon: DaemonProcess) -> None:
    _knobs(daemon, {"faults": [{"command": "start", "count": 1, "hang": True}]})
    with daemon.channel() as channel:
        stub = domains_pb2_grpc.DomainsStub(channel)
        jobs = jobs_pb2_grpc.JobsStub(channel)
        reply = stub.Start(
            domains_pb2.DomainCall(
                domain=common_pb2.DomainRef(id=205), options=common_pb2.JobOptions(no_wait=True)
            )
        )
        deadline = time.monotonic() + 20
        while jobs.Get(jobs_pb2.JobRef(id=reply.job.id)).state != common_pb2.JOB_STATE_RUNNING:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(0.5)
        cancelled = jobs.Cancel(jobs_pb2.JobRef(id=reply.job.id), timeout=30)
        assert cancelled.state == common_pb2.JOB_STATE_CANCELLED
        # The lane goes on: the next start on the same container runs.
        stub.Start(_call(205), timeout=30)
        assert stub.Lookup(common_pb2.DomainRef(id=205)).state == domains_pb2.DOMAIN_STATE_RUNNING


def test_external_changes_become_events(daemon: DaemonProcess) -> None:
    import subprocess

    with daemon.channel() as channel:
        events = events_pb2_grpc.EventsStub(channel)
        stream = events.Watch(events_pb2.WatchRequest(), timeout=20)
        subprocess.run([daemon.tool("vzctl"), "start", "206"], check=True, capture_output=True)
        for event in stream:
            if event.HasField("lifecycle") and event.lifecycle.veid == 206:
                assert event.lifecycle.kind == events_pb2.LIFECYCLE_KIND_STARTED
                assert event.lifecycle.cause == "external"
                stream.cancel()
                break


def test_kill_9_with_queued_and_running_jobs_loses_nothing_and_repeats_nothing(
    tmp_path: Path,
) -> None:
    sim = tmp_path / "sim"
    first = start_daemon(sim)
    first.vzsim("populate", str(first.host_root), "--count", "4", "--first-id", "300")
    time.sleep(2.5)
    _knobs(first, {"delay": {"start": 1.0}})
    with first.channel() as channel:
        stub = domains_pb2_grpc.DomainsStub(channel)
        nowait = common_pb2.JobOptions(no_wait=True)
        accepted = [
            stub.Start(
                domains_pb2.DomainCall(domain=common_pb2.DomainRef(id=veid), options=nowait)
            ).job.id
            for veid in (300, 300, 301, 302, 303)
        ]
    time.sleep(0.5)  # some are running now, the rest are queued
    first.stop(signal.SIGKILL)
    _knobs(first, {})
    with running_daemon(sim) as second, second.channel() as channel:
        jobs = jobs_pb2_grpc.JobsStub(channel)
        finals = {}
        for job_id in accepted:
            finals[job_id] = list(jobs.Wait(jobs_pb2.WaitJobRequest(id=job_id), timeout=30))[-1]
        states = {f.state for f in finals.values()}
        assert states <= {
            common_pb2.JOB_STATE_SUCCEEDED,
            common_pb2.JOB_STATE_INTERRUPTED,
            common_pb2.JOB_STATE_FAILED,
        }
        domains = domains_pb2_grpc.DomainsStub(channel)
        records = [
            json.loads(line)
            for line in (second.host_root / ".vzsim" / "runs.log").read_text().splitlines()
        ]
        for veid in (300, 301, 302, 303):
            begun = [
                r
                for r in records
                if r.get("event") == "start"
                and r.get("tool") == "vzctl"
                and r["argv"][1:3] == ["start", str(veid)]
            ]
            mine = {job_id: final for job_id, final in finals.items() if final.veid == veid}
            finished = [
                f
                for f in mine.values()
                if f.state in (common_pb2.JOB_STATE_SUCCEEDED, common_pb2.JOB_STATE_FAILED)
            ]
            # Each job ran its vzctl at most once (never again after the crash), and
            # every job that reports an end did run it.
            assert len(finished) <= len(begun) <= len(mine), (veid, begun, mine)
            state = domains.Lookup(common_pb2.DomainRef(id=veid)).state
            assert state == domains_pb2.DOMAIN_STATE_RUNNING, veid


def test_sigterm_leaves_containers_running(daemon: DaemonProcess) -> None:
    import subprocess

    with daemon.channel() as channel:
        domains_pb2_grpc.DomainsStub(channel).Start(_call(200), timeout=30)
    assert daemon.stop(signal.SIGTERM) == 0
    status = subprocess.run(
        [daemon.tool("vzctl"), "status", "200"], capture_output=True, text=True, check=True
    )
    assert status.stdout.split()[-1] == "running"
