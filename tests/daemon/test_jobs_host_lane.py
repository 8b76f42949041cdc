"""The host-wide lane (VEID 0): exclusive against every container lane, in order."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from openvzd.jobs import HOST_LANE, Job, JobContext, JobQueue, JobState, may_start

# (lane of the head job, its submission number, first waiting host job's number,
#  jobs running) -> may it start. Host-wide jobs running never reach the rule:
# _pump starts nothing while one runs (checked by the queue test below).
RULE = [
    pytest.param(HOST_LANE, 5, 5, 0, True, id="host job, nothing runs: starts"),
    pytest.param(HOST_LANE, 5, 5, 1, False, id="host job, a container job runs: waits"),
    pytest.param(101, 3, None, 0, True, id="container job, no host job waits: starts"),
    pytest.param(101, 3, None, 4, True, id="container job beside others: starts"),
    pytest.param(101, 3, 5, 1, True, id="container job submitted before a waiting host job"),
    pytest.param(101, 7, 5, 1, False, id="container job submitted after a waiting host job"),
    pytest.param(101, 7, 5, 0, False, id="... even when nothing runs: the host job goes first"),
]


@pytest.mark.parametrize(("veid", "order", "host_waits_since", "running", "starts"), RULE)
def test_lane_rule(
    veid: int, order: int, host_waits_since: int | None, running: int, starts: bool
) -> None:
    assert may_start(veid, order, host_waits_since, running) is starts


class Exclusivity:
    def __init__(self) -> None:
        self.running: set[str] = set()
        self.violations: list[str] = []
        self.order: list[str] = []

    async def __call__(self, job: Job, ctx: JobContext) -> dict[str, Any] | None:
        tag = str(job.params["tag"])
        others = set(self.running)
        if job.veid == HOST_LANE and others:
            self.violations.append(f"{tag} ran beside {sorted(others)}")
        if job.veid != HOST_LANE and any(t.startswith("host") for t in others):
            self.violations.append(f"{tag} ran beside a host job")
        self.running.add(tag)
        self.order.append(tag)
        await asyncio.sleep(float(job.params.get("seconds", 0.05)))
        self.running.discard(tag)
        return None


async def test_host_jobs_run_alone_and_in_their_place(tmp_path: Path) -> None:
    recorder = Exclusivity()
    queue = JobQueue(tmp_path / "jobs.sqlite", recorder, max_workers=4)
    await queue.load()
    queue.run()
    jobs = [queue.submit("set", 101, {"tag": "ct101-a", "seconds": 0.2}, mergeable=False)]
    jobs.append(queue.submit("set", 102, {"tag": "ct102-a"}, mergeable=False))
    jobs.append(queue.submit("define", HOST_LANE, {"tag": "host-1"}, mergeable=False))
    jobs.append(queue.submit("set", 103, {"tag": "ct103-a"}, mergeable=False))
    jobs.append(queue.submit("define", HOST_LANE, {"tag": "host-2"}, mergeable=False))
    jobs.append(queue.submit("set", 101, {"tag": "ct101-b"}, mergeable=False))
    await asyncio.sleep(0.05)
    # 103 came after the waiting host job: it waits although a worker is free.
    assert "ct103-a" not in recorder.order
    for job in jobs:
        assert (await asyncio.wait_for(queue.wait(job.id), 10)).state is JobState.SUCCEEDED
    assert recorder.violations == []
    position = {tag: n for n, tag in enumerate(recorder.order)}
    assert position["host-1"] > max(position["ct101-a"], position["ct102-a"])
    assert position["host-1"] < position["ct103-a"] < position["host-2"] < position["ct101-b"]
    await queue.stop(5)


async def test_cancelling_a_waiting_host_job_frees_the_others(tmp_path: Path) -> None:
    recorder = Exclusivity()
    queue = JobQueue(tmp_path / "jobs.sqlite", recorder, max_workers=4)
    await queue.load()
    queue.run()
    long = queue.submit("set", 101, {"tag": "ct101", "seconds": 5}, mergeable=False)
    host = queue.submit("define", HOST_LANE, {"tag": "host"}, mergeable=False)
    later = queue.submit("set", 102, {"tag": "ct102"}, mergeable=False)
    await asyncio.sleep(0.1)
    assert later.state is JobState.QUEUED
    await queue.cancel(host.id)
    assert (await asyncio.wait_for(queue.wait(later.id), 5)).state is JobState.SUCCEEDED
    assert long.state is JobState.RUNNING
    await queue.cancel(long.id)
    await queue.stop(5)
