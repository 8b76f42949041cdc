"""A queued start may absorb a start right behind it, never one with a stop between
them: start, destroy, start on a busy lane must leave the container running."""

from __future__ import annotations

from pathlib import Path

from openvz.v1 import common_pb2, domains_pb2, domains_pb2_grpc, jobs_pb2, jobs_pb2_grpc

from tests.daemon_process import running_daemon
from tests.proof.records import running_veids, set_knobs
from tests.proof.sim import prepare_host


def test_start_destroy_start_queued_ends_running(tmp_path: Path) -> None:
    sim = tmp_path / "sim"
    prepare_host(sim, 1, 400)
    set_knobs(sim / "host", {"delay": {"set": 1.0}})
    ref = common_pb2.DomainRef(id=400)
    nowait = common_pb2.JobOptions(no_wait=True)
    with running_daemon(sim) as daemon, daemon.channel() as channel:
        domains = domains_pb2_grpc.DomainsStub(channel)
        # A slow set holds the lane, so the three after it all wait in line.
        busy = domains.SetHostname(
            domains_pb2.SetHostnameRequest(domain=ref, hostname="busy.example.com", options=nowait)
        )
        first = domains.Start(domains_pb2.DomainCall(domain=ref, options=nowait))
        domains.Destroy(domains_pb2.DomainCall(domain=ref, options=nowait))
        last = domains.Start(domains_pb2.DomainCall(domain=ref, options=nowait))
        assert busy.job.state in (common_pb2.JOB_STATE_QUEUED, common_pb2.JOB_STATE_RUNNING)
        assert last.job.id != first.job.id
        jobs = jobs_pb2_grpc.JobsStub(channel)
        final = list(jobs.Wait(jobs_pb2.WaitJobRequest(id=last.job.id), timeout=60))[-1]
        assert final.state == common_pb2.JOB_STATE_SUCCEEDED
        assert domains.Lookup(ref).state == domains_pb2.DOMAIN_STATE_RUNNING
    assert 400 in running_veids(sim / "host")


def test_a_key_that_merged_finds_its_job_again(tmp_path: Path) -> None:
    """A retried submit must not run twice because its first try was merged."""
    sim = tmp_path / "sim"
    prepare_host(sim, 1, 410)
    set_knobs(sim / "host", {"delay": {"set": 0.5}})
    ref = common_pb2.DomainRef(id=410)

    def start(key: str) -> str:
        options = common_pb2.JobOptions(no_wait=True, idempotency_key=key)
        return str(domains.Start(domains_pb2.DomainCall(domain=ref, options=options)).job.id)

    with running_daemon(sim) as daemon, daemon.channel() as channel:
        domains = domains_pb2_grpc.DomainsStub(channel)
        domains.SetHostname(
            domains_pb2.SetHostnameRequest(
                domain=ref, hostname="busy.example.com", options=common_pb2.JobOptions(no_wait=True)
            )
        )
        first = start("key-a")
        merged = start("key-b")
        assert merged == first
        jobs = jobs_pb2_grpc.JobsStub(channel)
        list(jobs.Wait(jobs_pb2.WaitJobRequest(id=first), timeout=60))
        assert start("key-b") == first  # the retry, after the job ran
