"""Clients that misbehave against the real daemon: one that goes away while it waits
for its job, one that never reads its event stream, and many that connect, make
one call and leave (the daemon's file descriptors must come back to their baseline)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
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
    host_pb2,
    host_pb2_grpc,
    jobs_pb2,
    jobs_pb2_grpc,
)
from openvzd.events import QUEUE_SIZE

from tests.daemon_process import CHANNEL_OPTIONS, DaemonProcess, running_daemon
from tests.proof.records import journal_jobs, reconcile, set_knobs, tool_runs
from tests.proof.sim import prepare_host

FIRST_ID = 700
WAIT_LIMIT = 60.0

# A client in its own process that waits on a start until it is killed.
WAITING_CLIENT = """
import sys, grpc
from openvz.v1 import common_pb2, domains_pb2, domains_pb2_grpc
channel = grpc.insecure_channel("unix:" + sys.argv[1])
domains_pb2_grpc.DomainsStub(channel).Start(
    domains_pb2.DomainCall(domain=common_pb2.DomainRef(id=int(sys.argv[2]))), timeout=60)
"""


@pytest.fixture
def daemon(tmp_path: Path):  # type: ignore[no-untyped-def]
    prepare_host(tmp_path / "sim", 4, FIRST_ID)
    # A hanging job must not hold the daemon's stop for the default minute.
    (tmp_path / "sim" / "openvzd.toml").write_text("[jobs]\nstop_grace = 1\n")
    with running_daemon(tmp_path / "sim") as process:
        yield process


def _running_job(channel: grpc.Channel, veid: int) -> str:
    """The id of the job running on veid's lane, once there is one."""
    jobs = jobs_pb2_grpc.JobsStub(channel)
    deadline = time.monotonic() + WAIT_LIMIT
    while time.monotonic() < deadline:
        found = jobs.List(
            jobs_pb2.ListJobsRequest(veid=veid, states=[common_pb2.JOB_STATE_RUNNING]), timeout=10
        ).jobs
        if found:
            return str(found[0].id)
        time.sleep(0.02)
    raise AssertionError(f"no job started on {veid}")


def _assert_finished_once(daemon: DaemonProcess, channel: grpc.Channel, job_id: str) -> None:
    jobs = jobs_pb2_grpc.JobsStub(channel)
    final = list(jobs.Wait(jobs_pb2.WaitJobRequest(id=job_id), timeout=WAIT_LIMIT))[-1]
    assert final.state == common_pb2.JOB_STATE_SUCCEEDED, final
    assert jobs.Get(jobs_pb2.JobRef(id=job_id)).state == common_pb2.JOB_STATE_SUCCEEDED
    state = domains_pb2_grpc.DomainsStub(channel).Lookup(common_pb2.DomainRef(id=final.veid)).state
    assert state == domains_pb2.DOMAIN_STATE_RUNNING
    reconciled = reconcile(tool_runs(daemon.host_root), journal_jobs(daemon.sim_dir))
    assert reconciled.problems == []
    assert [run.command for run in reconciled.runs_of_job[job_id]] == ["start"]


def test_a_client_that_closes_its_channel_mid_job(daemon: DaemonProcess) -> None:
    set_knobs(daemon.host_root, {"delay": {"start": 1.0}})
    leaving = daemon.channel()
    outcome: list[grpc.StatusCode] = []

    def wait_for_start() -> None:
        try:
            domains_pb2_grpc.DomainsStub(leaving).Start(
                domains_pb2.DomainCall(domain=common_pb2.DomainRef(id=FIRST_ID)), timeout=60
            )
        except grpc.RpcError as err:
            outcome.append(err.code())

    waiter = threading.Thread(target=wait_for_start)
    waiter.start()
    with daemon.channel() as channel:
        job_id = _running_job(channel, FIRST_ID)
        leaving.close()
        waiter.join(timeout=WAIT_LIMIT)
        assert outcome == [grpc.StatusCode.CANCELLED]
        _assert_finished_once(daemon, channel, job_id)


def test_a_client_killed_mid_job(daemon: DaemonProcess) -> None:
    set_knobs(daemon.host_root, {"delay": {"start": 1.0}})
    veid = FIRST_ID + 1
    client = subprocess.Popen(
        [sys.executable, "-c", WAITING_CLIENT, str(daemon.rw_socket), str(veid)]
    )
    try:
        with daemon.channel() as channel:
            job_id = _running_job(channel, veid)
            client.kill()
            assert client.wait(timeout=WAIT_LIMIT) == -9
            _assert_finished_once(daemon, channel, job_id)
    finally:
        client.kill()
        client.wait(timeout=WAIT_LIMIT)


SLOW_EVENTS = 3000
SUBMITTERS = 4
SMALL_WINDOW = [
    *CHANNEL_OPTIONS,
    ("grpc.http2.bdp_probe", 0),
    ("grpc.http2.lookahead_bytes", 16384),
]


def _queue_sets(channel: grpc.Channel, veid: int, count: int) -> None:
    """count set jobs queued on veid's lane (behind a hanging one): one event each."""
    stub = domains_pb2_grpc.DomainsStub(channel)
    nowait = common_pb2.JobOptions(no_wait=True)

    def submit(number: int) -> None:
        stub.SetHostname(
            domains_pb2.SetHostnameRequest(
                domain=common_pb2.DomainRef(id=veid),
                hostname=f"h{number}.example.com",
                options=nowait,
            ),
            timeout=WAIT_LIMIT,
        )

    with ThreadPoolExecutor(SUBMITTERS) as pool:
        list(pool.map(submit, range(count)))


def test_a_consumer_that_never_reads_is_dropped_openly(daemon: DaemonProcess) -> None:
    blocked, other = FIRST_ID + 2, FIRST_ID + 3
    set_knobs(daemon.host_root, {"faults": [{"command": "set", "count": 1, "hang": True}]})
    # The slow client keeps small receive buffers (no HTTP/2 window growth): with
    # grpc's defaults its transport would buffer megabytes before the daemon's own
    # queue fills. That only brings the drop sooner; the daemon's side is the same.
    slow_channel = grpc.insecure_channel(f"unix:{daemon.rw_socket}", options=SMALL_WINDOW)
    with daemon.channel() as channel, slow_channel:
        _queue_sets(channel, blocked, 1)
        _running_job(channel, blocked)
        slow = events_pb2_grpc.EventsStub(slow_channel).Watch(
            events_pb2.WatchRequest(include_jobs=True), timeout=WAIT_LIMIT * 2
        )
        started = time.monotonic()
        _queue_sets(channel, blocked, SLOW_EVENTS)
        # Meanwhile the daemon serves others, and another lane runs a real vzctl.
        domains = domains_pb2_grpc.DomainsStub(channel)
        domains.Start(domains_pb2.DomainCall(domain=common_pb2.DomainRef(id=other)), timeout=60)
        assert (
            domains.Lookup(common_pb2.DomainRef(id=other)).state == domains_pb2.DOMAIN_STATE_RUNNING
        )
        produced = time.monotonic() - started
        received = []
        for event in slow:
            received.append(event)
            if event.HasField("gap") or len(received) > SLOW_EVENTS * 2:
                break
        after_gap = next(slow)
        slow.cancel()
    gap = received[-1]
    assert gap.HasField("gap"), f"{len(received)} events and no gap"
    delivered = [e.seq for e in received[:-1]]
    # Nothing vanished unannounced: an unbroken run of events, then the gap right
    # after it, then the newest events (at most the bus's QUEUE_SIZE) right after
    # what the gap counts; together they cover every job event made.
    assert delivered == list(range(delivered[0], delivered[0] + len(delivered)))
    assert delivered[-1] == gap.gap.missed_after_seq
    assert after_gap.seq == gap.gap.missed_after_seq + gap.gap.missed_count + 1
    assert len(delivered) + gap.gap.missed_count + QUEUE_SIZE >= SLOW_EVENTS
    print(
        f"\nslow consumer: {SLOW_EVENTS} events made in {produced:.1f} s; it got "
        f"{len(delivered)} before a gap of {gap.gap.missed_count}"
    )


# Over the baseline: a vzlist run of the host monitor (every 2 s) may be in flight
# when the count is taken: its two output files, the child's pipe and pidfd.
FD_SLACK = 6
CONNECTORS = 4


def _fds(daemon: DaemonProcess) -> int:
    return len(os.listdir(f"/proc/{daemon.process.pid}/fd"))


def _connect_and_call(daemon: DaemonProcess, _: int = 0) -> None:
    # A new channel with its own subchannel pool is a new connection each time.
    with daemon.channel() as channel:
        host_pb2_grpc.HostStub(channel).GetHostname(host_pb2.HostnameRequest(), timeout=30)


def _prove_no_fd_leak(daemon: DaemonProcess, connections: int) -> None:
    for _ in range(20):  # grpc's pollers and the monitor's first runs are not a leak
        _connect_and_call(daemon)
    time.sleep(0.5)
    baseline = min(_fds(daemon) for _ in range(5))
    peak = baseline
    with ThreadPoolExecutor(CONNECTORS) as pool:
        for done, _ in enumerate(
            pool.map(lambda n: _connect_and_call(daemon, n), range(connections))
        ):
            if done % 100 == 0:
                peak = max(peak, _fds(daemon))
    deadline = time.monotonic() + WAIT_LIMIT
    after = _fds(daemon)
    while after > baseline + FD_SLACK and time.monotonic() < deadline:
        time.sleep(0.1)  # the server closes its side of each connection asynchronously
        after = _fds(daemon)
    print(f"\nfds after {connections} connections: baseline {baseline}, peak {peak}, after {after}")
    assert after <= baseline + FD_SLACK, (baseline, peak, after)


def test_a_thousand_connections_leave_no_descriptor_behind(daemon: DaemonProcess) -> None:
    _prove_no_fd_leak(daemon, 1000)


@pytest.mark.soak
def test_ten_thousand_connections_leave_no_descriptor_behind(daemon: DaemonProcess) -> None:
    _prove_no_fd_leak(daemon, 10_000)
