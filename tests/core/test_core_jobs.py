"""Jobs through the core on the real daemon: named by operation, with their
caller in Jobs.List/Get/Wait and job events; paged lists; bounded queues and
idempotency keys."""

from __future__ import annotations

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

from tests.daemon_process import running_daemon
from tests.proof.records import set_knobs
from tests.proof.sim import prepare_host

VEIDS = (621, 622)
QUEUED = common_pb2.JobOptions(no_wait=True)


def _ref(veid: int) -> common_pb2.DomainRef:
    return common_pb2.DomainRef(id=veid)


def test_jobs_show_operation_names_and_callers(tmp_path: Path) -> None:
    sim = tmp_path / "sim"
    prepare_host(sim, 1, VEIDS[0])
    with running_daemon(sim) as daemon, daemon.channel() as channel:
        stub = domains_pb2_grpc.DomainsStub(channel)
        stub.SetMemory(domains_pb2.SetMemoryRequest(domain=_ref(621), memory_kib=262144))
        stub.SetAutostart(domains_pb2.SetAutostartRequest(domain=_ref(621), autostart=True))
        stub.Start(domains_pb2.DomainCall(domain=_ref(621)))
        with daemon.channel(read_only=True) as ro:
            jobs = jobs_pb2_grpc.JobsStub(ro)
            listed = jobs.List(jobs_pb2.ListJobsRequest(veid=621)).jobs
            assert [job.operation for job in listed] == ["start", "set-autostart", "set-memory"]
            for job in listed:
                assert (job.caller.transport, job.caller.read_only) == ("unix", False)
            got = jobs.Get(jobs_pb2.JobRef(id=listed[0].id))
            waited = list(jobs.Wait(jobs_pb2.WaitJobRequest(id=listed[0].id), timeout=30))
            assert got.caller == waited[-1].caller == listed[0].caller
            events = events_pb2_grpc.EventsStub(ro).Watch(
                events_pb2.WatchRequest(after_seq=1, include_jobs=True), timeout=2
            )
            job_events = []
            with pytest.raises(grpc.RpcError):
                for event in events:
                    if event.HasField("job"):
                        job_events.append(event.job)
            assert {e.operation for e in job_events} == {"start", "set-autostart", "set-memory"}
            assert all(e.caller.transport == "unix" for e in job_events)


def test_job_lists_are_paged(tmp_path: Path) -> None:
    sim = tmp_path / "sim"
    prepare_host(sim, 1, VEIDS[0])
    with running_daemon(sim) as daemon, daemon.channel() as channel:
        stub = domains_pb2_grpc.DomainsStub(channel)
        for vcpus in (1, 2, 3, 4, 1):
            stub.SetVcpus(domains_pb2.SetVcpusRequest(domain=_ref(621), vcpus=vcpus))
        jobs = jobs_pb2_grpc.JobsStub(channel)
        seen: list[str] = []
        token = ""
        for _ in range(10):
            page = jobs.List(jobs_pb2.ListJobsRequest(limit=2, page_token=token))
            assert len(page.jobs) <= 2
            seen += [job.id for job in page.jobs]
            token = page.next_page_token
            if not token:
                break
        everything = jobs.List(jobs_pb2.ListJobsRequest(limit=100)).jobs
        assert seen == [job.id for job in everything] and len(seen) == 5
        with pytest.raises(grpc.RpcError) as caught:
            jobs.List(jobs_pb2.ListJobsRequest(page_token="no-such-job"))
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT  # type: ignore[attr-defined]


def test_queues_are_bounded_and_keys_are_short(tmp_path: Path) -> None:
    sim = tmp_path / "sim"
    prepare_host(sim, 2, VEIDS[0])
    (sim / "openvzd.toml").write_text("[jobs]\nmax_queued_per_lane = 2\nmax_queued = 3\n")
    set_knobs(sim / "host", {"delay": {"start": 3}})
    with running_daemon(sim) as daemon, daemon.channel() as channel:
        stub = domains_pb2_grpc.DomainsStub(channel)
        stub.Start(domains_pb2.DomainCall(domain=_ref(621), options=QUEUED))  # runs: not queued
        for hostname in ("a.example.com", "b.example.com"):
            stub.SetHostname(
                domains_pb2.SetHostnameRequest(domain=_ref(621), hostname=hostname, options=QUEUED)
            )
        with pytest.raises(grpc.RpcError) as lane_full:
            stub.SetHostname(
                domains_pb2.SetHostnameRequest(
                    domain=_ref(621), hostname="c.example.com", options=QUEUED
                )
            )
        assert lane_full.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED  # type: ignore[attr-defined]
        assert "2 jobs queued" in (lane_full.value.details() or "")  # type: ignore[attr-defined]
        assert "max_queued_per_lane = 2" in (lane_full.value.details() or "")  # type: ignore[attr-defined]
        stub.Start(domains_pb2.DomainCall(domain=_ref(622), options=QUEUED))
        stub.SetHostname(
            domains_pb2.SetHostnameRequest(
                domain=_ref(622), hostname="d.example.com", options=QUEUED
            )
        )
        with pytest.raises(grpc.RpcError) as all_full:
            stub.SetHostname(
                domains_pb2.SetHostnameRequest(
                    domain=_ref(622), hostname="e.example.com", options=QUEUED
                )
            )
        assert all_full.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED  # type: ignore[attr-defined]
        assert "3 jobs are queued" in (all_full.value.details() or "")  # type: ignore[attr-defined]
        assert "max_queued = 3" in (all_full.value.details() or "")  # type: ignore[attr-defined]
        with pytest.raises(grpc.RpcError) as long_key:
            stub.Start(
                domains_pb2.DomainCall(
                    domain=_ref(622),
                    options=common_pb2.JobOptions(no_wait=True, idempotency_key="k" * 129),
                )
            )
        assert long_key.value.code() == grpc.StatusCode.INVALID_ARGUMENT  # type: ignore[attr-defined]
        assert "at most 128 bytes" in (long_key.value.details() or "")  # type: ignore[attr-defined]
