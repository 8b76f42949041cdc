"""The job queue in-process: lanes, merging, keys, cancel, archive."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from openvzd.jobs import (
    Job,
    JobContext,
    JobQueue,
    JobState,
)
from openvzd.vz.errors import ErrorKind, OpenvzError


class Recorder:
    def __init__(self, seconds: float = 0.02) -> None:
        self.seconds = seconds
        self.running: dict[int, int] = {}
        self.overlaps = 0
        self.peak = 0
        self.order: list[str] = []

    async def __call__(self, job: Job, ctx: JobContext) -> dict[str, Any] | None:
        self.running[job.veid] = self.running.get(job.veid, 0) + 1
        if self.running[job.veid] > 1:
            self.overlaps += 1
        self.peak = max(self.peak, sum(1 for n in self.running.values() if n))
        self.order.append(job.params.get("tag", job.id))
        ctx.progress(50, "half")
        if job.params.get("uncancellable"):
            ctx.set_cancellable(False, "writing the private area")
        await asyncio.sleep(job.params.get("seconds", self.seconds))
        self.running[job.veid] -= 1
        return {"done": True}


async def _queue(tmp_path: Path, executor: Recorder, **kwargs: Any) -> JobQueue:
    queue = JobQueue(tmp_path / "jobs.sqlite", executor, **kwargs)
    assert await queue.load() == []
    queue.run()
    return queue


async def test_lanes_never_overlap_and_workers_are_bounded(tmp_path: Path) -> None:
    recorder = Recorder()
    queue = await _queue(tmp_path, recorder, max_workers=3)
    jobs = [
        queue.submit("set", veid, {"tag": f"{veid}-{n}"}, mergeable=False)
        for n in range(4)
        for veid in range(101, 107)
    ]
    for job in jobs:
        await asyncio.wait_for(queue.wait(job.id), 10)
    assert all(job.state is JobState.SUCCEEDED for job in jobs)
    assert recorder.overlaps == 0
    assert recorder.peak == 3
    per_lane = [tag for tag in recorder.order if tag.startswith("101-")]
    assert per_lane == ["101-0", "101-1", "101-2", "101-3"]
    await queue.stop(5)


async def test_accepted_means_in_the_journal(tmp_path: Path) -> None:
    queue = await _queue(tmp_path, Recorder())
    job = queue.submit("start", 101)
    row = (
        sqlite3.connect(tmp_path / "jobs.sqlite")
        .execute("SELECT operation, veid FROM jobs WHERE id = ?", (job.id,))
        .fetchone()
    )
    assert row == ("start", 101)
    await queue.wait(job.id, 5)
    await queue.stop(5)


async def test_merging_and_idempotency_keys(tmp_path: Path) -> None:
    queue = await _queue(tmp_path, Recorder(0.2))
    running = queue.submit("start", 101, {"tag": "a"})
    queued = queue.submit("stop", 101)
    assert queue.submit("stop", 101).id == queued.id != running.id
    keyed = queue.submit("start", 102, idempotency_key="k")
    assert queue.submit("start", 102, idempotency_key="k").id == keyed.id
    with pytest.raises(OpenvzError, match="different request") as conflict:
        queue.submit("stop", 102, idempotency_key="k")
    assert conflict.value.kind is ErrorKind.ALREADY_EXISTS
    for job in (running, queued, keyed):
        await queue.wait(job.id, 5)
    assert queue.submit("start", 102, idempotency_key="k").state is JobState.SUCCEEDED
    await queue.stop(5)


async def test_cancel_queued_running_and_refused(tmp_path: Path) -> None:
    queue = await _queue(tmp_path, Recorder())
    long = queue.submit("start", 101, {"seconds": 5})
    waiting = queue.submit("stop", 101)
    assert (await queue.cancel(waiting.id)).state is JobState.CANCELLED
    await asyncio.sleep(0.1)
    cancelled = await queue.cancel(long.id)
    assert cancelled.state is JobState.CANCELLED
    stuck = queue.submit("create", 102, {"seconds": 0.5, "uncancellable": True})
    await asyncio.sleep(0.1)
    with pytest.raises(OpenvzError, match="writing the private area") as refused:
        await queue.cancel(stuck.id)
    assert refused.value.kind is ErrorKind.WRONG_STATE
    assert (await queue.wait(stuck.id, 5)).state is JobState.SUCCEEDED
    with pytest.raises(OpenvzError, match="already finished"):
        await queue.cancel(stuck.id)
    await queue.stop(5)


async def test_watch_streams_progress(tmp_path: Path) -> None:
    queue = await _queue(tmp_path, Recorder(0.1))
    job = queue.submit("start", 101)
    seen = [(s.state, s.progress_percent) async for s in queue.watch(job.id, timeout=5)]
    assert seen[0][0] is JobState.QUEUED or seen[0][0] is JobState.RUNNING
    assert (JobState.RUNNING, 50) in seen
    assert seen[-1] == (JobState.SUCCEEDED, 100)
    await queue.stop(5)


async def test_old_finished_jobs_move_to_the_archive(tmp_path: Path) -> None:
    queue = await _queue(tmp_path, Recorder(0), history_limit=10)
    jobs = [queue.submit("set", 101, {"n": n}) for n in range(40)]
    for job in jobs:
        await queue.wait(job.id, 5)
    live = queue.list(limit=1000)
    assert 10 <= len(live) < 40
    assert queue.get(jobs[0].id) is None and queue.get(jobs[-1].id) is not None
    await queue.stop(5)
    db = sqlite3.connect(tmp_path / "jobs.sqlite")
    archived = db.execute("SELECT COUNT(*) FROM archive").fetchone()[0]
    assert archived + len(live) == 40
