"""The scheduler: every change, journaled (journal.py) before it is
acknowledged, run on its container's lane.

Invariants (after Ganeti's jqueue):
- A job is in the journal before submit() returns, and marked RUNNING there
  before its executor runs. So after a crash a QUEUED job never ran and runs now,
  and a RUNNING one may have run: load() hands it back still RUNNING, and the
  core's recovery (core/recovery.py) ends it by what the host shows: resolve()
  (SUCCEEDED, verified; or INTERRUPTED) or retry() (queued again, at the head of
  its lane, at most once, the retry journaled). One still unresolved when run()
  is called ends INTERRUPTED and is never run again.
- Jobs of one VEID run one at a time in submission order; different VEIDs run in
  parallel up to max_workers; VEID 0 is the host-wide lane.
- The host lane is exclusive, like Ganeti's big lock: container jobs hold it shared,
  host-wide jobs exclusively. A host-wide job starts only when no job runs; while
  it runs nothing else starts, and once it waits, container jobs submitted after it
  wait behind it (submitted before it, they may still start), so neither side
  starves the other.
- A submit identical to the job last in line on its lane (still QUEUED) returns
  that job (two `start 101` run once); a submit with a known idempotency key returns the job
  that key made.
- The queue is bounded per lane and in total ([jobs] max_queued_per_lane,
  max_queued): past either, a submit is refused with RESOURCE_EXHAUSTED.

The scheduler knows operations only by name and params; what a job does is its
executor's (core/executors.py). The object a job was submitted with (its
intent, which may hold a secret) is kept in memory only and handed to the
executor through the JobContext; after a restart it is None.
"""

from __future__ import annotations

import asyncio
import builtins
import itertools
import json
import logging
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

from openvzd.core.caller import DAEMON, Caller
from openvzd.journal import Job, JobError, JobState, Journal
from openvzd.vz.errors import ErrorKind, OpenvzError

__all__ = ["HOST_LANE", "Job", "JobContext", "JobError", "JobQueue", "JobState"]

log = logging.getLogger(__name__)

HOST_LANE = 0
MAX_IDEMPOTENCY_KEY_BYTES = 128
DEFAULT_MAX_QUEUED_PER_LANE = 10_000
DEFAULT_MAX_QUEUED = 100_000
DEFAULT_ARCHIVE_MAX_JOBS = 100_000
DEFAULT_ARCHIVE_MAX_AGE_DAYS = 90.0


class JobContext:
    """What an executor may tell its job while it runs, and the intent it was
    submitted with (None when it was read back from the journal)."""

    def __init__(self, queue: JobQueue, job: Job, intent: object | None) -> None:
        self._queue = queue
        self.job = job
        self.intent = intent

    def progress(self, percent: int, step: str) -> None:
        self.job.progress_percent = max(0, min(100, percent))
        self.job.progress_step = step
        self._queue._changed(self.job)

    def record_plan(self, **values: Any) -> None:
        """Journal what the run decided (a picked ID, UUID or MAC) before its tool
        runs, so recovery can read its postcondition after a crash. No secret."""
        self.job.plan = dict(values)
        self._queue.journal.record_plan(self.job)

    def set_cancellable(self, cancellable: bool, reason: str = "") -> None:
        self.job.cancellable = cancellable
        self.job.not_cancellable_reason = "" if cancellable else reason


Executor = Callable[[Job, JobContext], Awaitable[dict[str, Any] | None]]


def no_such_job(job_id: str) -> OpenvzError:
    return OpenvzError(
        ErrorKind.NOT_FOUND, f"no job {job_id!r}; `ovzsh jobs` lists the jobs this daemon knows"
    )


def _request_key(operation: str, veid: int, params: dict[str, Any]) -> str:
    return json.dumps([operation, veid, params], sort_keys=True, separators=(",", ":"))


class JobQueue:
    def __init__(
        self,
        journal_path: Path,
        executor: Executor,
        *,
        max_workers: int = 8,
        history_limit: int = 10_000,
        max_queued_per_lane: int = DEFAULT_MAX_QUEUED_PER_LANE,
        max_queued: int = DEFAULT_MAX_QUEUED,
        archive_max_jobs: int = DEFAULT_ARCHIVE_MAX_JOBS,
        archive_max_age_days: float = DEFAULT_ARCHIVE_MAX_AGE_DAYS,
    ) -> None:
        self._executor = executor
        self._archive_max_jobs = archive_max_jobs
        self._archive_max_age_days = archive_max_age_days
        self._max_workers = max_workers
        self._history_limit = history_limit
        self._max_queued_per_lane = max_queued_per_lane
        self._max_queued = max_queued
        self.journal = Journal(journal_path)
        self._jobs: dict[str, Job] = {}
        self._by_key: dict[str, str] = {}
        self._lanes: OrderedDict[int, deque[str]] = OrderedDict()
        self._busy_lanes: set[int] = set()
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._watchers: dict[str, asyncio.Event] = {}
        # What each queued job was submitted with, in memory only (it may hold a secret).
        self._intents: dict[str, object] = {}
        self._accepting = False
        self._finished_since_trim = 0
        # Submission order (memory only): the host lane's rule compares it.
        self._order: dict[str, int] = {}
        self._next_order = itertools.count()
        # Retried jobs go before everything queued, oldest retry first.
        self._retry_order = itertools.count(-(1 << 40))
        # RUNNING at load (a crash interrupted them) and not yet resolved by recovery.
        self._unresolved: set[str] = set()
        # Grows when a job on a lane starts or ends, so a reader that looked at the
        # host across an await can tell which lanes moved meanwhile.
        self._lane_generation: dict[int, int] = {}
        self.on_change: Callable[[Job], None] | None = None

    # -- start and stop ------------------------------------------------------

    async def load(self) -> list[Job]:
        """Load the journal; return the jobs a crash interrupted, still RUNNING
        (in memory and in the journal, so a crash during recovery finds them so
        again). Nothing runs until run() is called, so the caller can first wait for
        their tools (which outlive the daemon), read their containers and end each
        with resolve() or retry()."""
        interrupted: list[Job] = []
        for job in self.journal.load():
            if job.state is JobState.RUNNING:
                job.cancellable = False
                job.not_cancellable_reason = "openvzd is reading back what it did"
                self._unresolved.add(job.id)
                interrupted.append(job)
            self._jobs[job.id] = job
            if job.idempotency_key:
                self._by_key[job.idempotency_key] = job.id
            if job.state is JobState.QUEUED:
                self._order[job.id] = next(self._next_order)
                self._lanes.setdefault(job.veid, deque()).append(job.id)
        return interrupted

    def run(self) -> None:
        """Start running queued jobs and accepting new ones."""
        for job_id in sorted(self._unresolved):
            self.resolve(
                job_id,
                JobState.INTERRUPTED,
                "openvzd stopped while this job ran; it was not run again and the "
                "container's state was read back from the host",
            )
        self._accepting = True
        self._pump()

    def resolve(
        self, job_id: str, state: JobState, note: str, *, result: dict[str, Any] | None = None
    ) -> Job:
        """End a job a crash interrupted: SUCCEEDED (its postcondition holds: `note`
        says what was verified) or INTERRUPTED (`note` is its error: what was found
        and what to do)."""
        job = self._jobs[job_id]
        self._unresolved.discard(job_id)
        job.state = state
        job.finished = time.time()
        job.cancellable = False
        job.not_cancellable_reason = "it has finished"
        job.recovery = note
        if state is JobState.SUCCEEDED:
            job.error = None
            job.progress_percent = 100
            job.result = result if result is not None else job.result
        else:
            job.error = JobError(ErrorKind.INTERRUPTED, note)
        self.journal.record_end(job)
        self._changed(job)
        return job

    def retry(self, job_id: str, note: str) -> Job:
        """Queue a job a crash interrupted again, at the head of its lane (the
        core's recovery allows it once); `note` says why. Its start time stays the
        first run's, so its span holds both runs."""
        job = self._jobs[job_id]
        self._unresolved.discard(job_id)
        job.state = JobState.QUEUED
        job.retries += 1
        job.recovery = note
        job.plan = None
        job.cancellable = True
        job.not_cancellable_reason = ""
        job.progress_percent, job.progress_step = 0, "queued again after a restart"
        self.journal.record_retry(job)
        self._order[job.id] = next(self._retry_order)
        self._lanes.setdefault(job.veid, deque()).appendleft(job.id)
        self._changed(job)
        return job

    async def stop(self, grace: float) -> None:
        """Refuse new jobs, give running ones `grace` seconds, leave queued ones journaled."""
        self._accepting = False
        self._lanes.clear()
        running = list(self._tasks.values())
        if running:
            _, pending = await asyncio.wait(running, timeout=grace)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=10)
        # Jobs still marked RUNNING are found so at the next start: interrupted.
        self.journal.close()

    # -- meta ------------------------------------------------------------------

    def meta(self, key: str) -> str | None:
        return self.journal.meta(key)

    def set_meta(self, key: str, value: str) -> None:
        self.journal.set_meta(key, value)

    # -- submit ------------------------------------------------------------------

    def job_of_key(
        self, idempotency_key: str, operation: str, veid: int, params: dict[str, Any]
    ) -> Job | None:
        """The job an earlier submit with this key made, if it is still known; a
        different request under the same key is refused."""
        # A merged key may outlive its job's archiving; then it is a new key again.
        job = self._jobs.get(self._by_key.get(idempotency_key, ""))
        if job is None:
            return None
        if _request_key(job.operation, job.veid, job.params) != _request_key(
            operation, veid, params
        ):
            raise OpenvzError(
                ErrorKind.ALREADY_EXISTS,
                f"idempotency key {idempotency_key!r} was used for a different request "
                f"({job.operation} on {job.veid}); use a new key for a new request",
            )
        return job

    def submit(
        self,
        operation: str,
        veid: int,
        params: dict[str, Any] | None = None,
        *,
        caller: Caller = DAEMON,
        idempotency_key: str | None = None,
        mergeable: bool = True,
        intent: object | None = None,
    ) -> Job:
        """Journal and queue a job; `intent` is what its executor gets (memory only)."""
        if not self._accepting:
            raise OpenvzError(
                ErrorKind.BUSY, "openvzd is stopping and accepts no new jobs; retry once it is back"
            )
        if idempotency_key is not None and (
            len(idempotency_key.encode()) > MAX_IDEMPOTENCY_KEY_BYTES
        ):
            raise OpenvzError(
                ErrorKind.BAD_ARGUMENT,
                f"the idempotency key is {len(idempotency_key.encode())} bytes long; "
                f"use one of at most {MAX_IDEMPOTENCY_KEY_BYTES} bytes (a UUID, for example)",
            )
        params = params or {}
        key = _request_key(operation, veid, params)
        if idempotency_key:
            earlier = self.job_of_key(idempotency_key, operation, veid, params)
            if earlier is not None:
                return earlier
        lane = self._lanes.get(veid)
        if mergeable and lane:
            # Only the last in line: start, stop, start must not become start, stop.
            queued = self._jobs[lane[-1]]
            if _request_key(queued.operation, queued.veid, queued.params) == key:
                if idempotency_key:
                    # A retry with this key must find this job, not make a second one
                    # (kept in memory only: the journal holds one key per job).
                    self._by_key[idempotency_key] = queued.id
                return queued
        self._check_room(veid)
        job = Job(
            uuid.uuid4().hex,
            operation,
            veid,
            params,
            caller=caller,
            idempotency_key=idempotency_key,
        )
        self.journal.insert(job)
        self._jobs[job.id] = job
        if intent is not None:
            self._intents[job.id] = intent
        if idempotency_key:
            self._by_key[idempotency_key] = job.id
        self._order[job.id] = next(self._next_order)
        self._lanes.setdefault(veid, deque()).append(job.id)
        self._changed(job)
        self._pump()
        return job

    def _check_room(self, veid: int) -> None:
        on_lane = len(self._lanes.get(veid, ()))
        if on_lane >= self._max_queued_per_lane:
            raise OpenvzError(
                ErrorKind.RESOURCE_EXHAUSTED,
                f"container {veid} already has {on_lane} jobs queued, the most one lane holds "
                f"([jobs] max_queued_per_lane = {self._max_queued_per_lane}); wait for some "
                "to finish",
            )
        total = sum(len(lane) for lane in self._lanes.values())
        if total >= self._max_queued:
            raise OpenvzError(
                ErrorKind.RESOURCE_EXHAUSTED,
                f"{total} jobs are queued, the most openvzd holds ([jobs] max_queued = "
                f"{self._max_queued}); wait for some to finish",
            )

    def set_limits(
        self,
        *,
        max_workers: int,
        history_limit: int,
        max_queued_per_lane: int = DEFAULT_MAX_QUEUED_PER_LANE,
        max_queued: int = DEFAULT_MAX_QUEUED,
        archive_max_jobs: int = DEFAULT_ARCHIVE_MAX_JOBS,
        archive_max_age_days: float = DEFAULT_ARCHIVE_MAX_AGE_DAYS,
    ) -> None:
        """Apply a reloaded [jobs] section: more workers start queued jobs at once;
        fewer let running jobs finish and start no new ones until below the limit."""
        self._max_workers = max_workers
        self._history_limit = history_limit
        self._max_queued_per_lane = max_queued_per_lane
        self._max_queued = max_queued
        self._archive_max_jobs = archive_max_jobs
        self._archive_max_age_days = archive_max_age_days
        self._pump()

    # -- queries -------------------------------------------------------------------

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def list(
        self,
        veid: int | None = None,
        states: Iterable[JobState] | None = None,
        limit: int = 100,
        after: str = "",
    ) -> list[Job]:
        """Newest first, at most `limit`; with `after` (a job's id), those older than it."""
        wanted = set(states) if states else None
        found: list[Job] = []
        jobs = reversed(self._jobs.values())
        if after:
            if after not in self._jobs:
                raise OpenvzError(
                    ErrorKind.BAD_ARGUMENT,
                    f"page_token {after!r} names no job this daemon still lists (archived, or "
                    "never one); list again from the first page",
                )
            for job in jobs:
                if job.id == after:
                    break
        for job in jobs:
            if (veid is None or job.veid == veid) and (wanted is None or job.state in wanted):
                found.append(job)
                if len(found) >= limit:
                    break
        return found

    def queued_from_journal(self) -> builtins.list[Job]:
        """Queued jobs read back from the journal (no intent in memory): their
        executor rebuilds the operation from name and params, if it can."""
        return [
            job
            for job in self._jobs.values()
            if job.state is JobState.QUEUED and job.id not in self._intents
        ]

    def abandon(self, job_id: str, reason: str) -> Job:
        """End a queued job INTERRUPTED, with why it cannot run."""
        job = self._jobs[job_id]
        lane = self._lanes.get(job.veid)
        if lane is not None and job_id in lane:
            lane.remove(job_id)
        self._order.pop(job_id, None)
        job.state = JobState.INTERRUPTED
        job.finished = time.time()
        job.cancellable = False
        job.not_cancellable_reason = "it has finished"
        job.error = JobError(ErrorKind.INTERRUPTED, reason)
        self.journal.record_end(job)
        self._changed(job)
        return job

    def busy_lanes(self) -> set[int]:
        """Lanes with a job running or queued."""
        return self._busy_lanes | {veid for veid, lane in self._lanes.items() if lane}

    def lane_generations(self) -> dict[int, int]:
        return dict(self._lane_generation)

    def lanes_moved_since(self, generations: dict[int, int]) -> set[int]:
        """Lanes on which a job started or ended since `generations` was taken."""
        return {
            veid for veid, count in self._lane_generation.items() if generations.get(veid) != count
        }

    async def wait(self, job_id: str, timeout: float | None = None) -> Job:
        job = self._jobs.get(job_id)
        if job is None:
            raise no_such_job(job_id)
        deadline = None if timeout is None else time.monotonic() + timeout
        while not job.state.finished:
            event = self._watchers.setdefault(job_id, asyncio.Event())
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                break
            try:
                await asyncio.wait_for(event.wait(), remaining)
            except TimeoutError:
                break
        return job

    async def watch(self, job_id: str, timeout: float | None = None) -> AsyncIterator[Job]:
        """Snapshots of the job now and at each change until it ends (or timeout)."""
        job = self._jobs.get(job_id)
        if job is None:
            raise no_such_job(job_id)
        deadline = None if timeout is None else time.monotonic() + timeout
        yield job.snapshot()
        while not job.state.finished:
            event = self._watchers.setdefault(job_id, asyncio.Event())
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return
            try:
                await asyncio.wait_for(event.wait(), remaining)
            except TimeoutError:
                return
            yield job.snapshot()

    # -- cancel ------------------------------------------------------------------

    async def cancel(self, job_id: str) -> Job:
        job = self._jobs.get(job_id)
        if job is None:
            raise no_such_job(job_id)
        if job.state.finished:
            raise OpenvzError(
                ErrorKind.WRONG_STATE, f"job {job_id} already finished: {job.state.value}"
            )
        if job.state is JobState.QUEUED:
            lane = self._lanes.get(job.veid)
            if lane is not None and job_id in lane:
                lane.remove(job_id)
            self._order.pop(job_id, None)
            self._intents.pop(job_id, None)
            job.state = JobState.CANCELLED
            job.finished = time.time()
            job.error = JobError(ErrorKind.CANCELLED, "cancelled before it started")
            self.journal.record_end(job)
            self._changed(job)
            self._pump()  # a cancelled host-wide job no longer holds back the others
            return job
        if not job.cancellable:
            raise OpenvzError(
                ErrorKind.WRONG_STATE,
                f"job {job_id} cannot be cancelled now: {job.not_cancellable_reason}; "
                "it will run to its end",
            )
        task = self._tasks.get(job_id)
        if task is not None:
            task.cancel()
            await asyncio.wait([task], timeout=30)
        return job

    # -- running -------------------------------------------------------------------

    def _pump(self) -> None:
        if not self._accepting or HOST_LANE in self._busy_lanes:
            return
        host_lane = self._lanes.get(HOST_LANE)
        host_waits_since = self._order[host_lane[0]] if host_lane else None
        for veid in [v for v, lane in self._lanes.items() if not lane]:
            del self._lanes[veid]
        # Oldest head first, so a host-wide job starts after every container job
        # submitted before it, and before every one submitted after it.
        for veid in sorted(self._lanes, key=lambda v: self._order[self._lanes[v][0]]):
            if len(self._tasks) >= self._max_workers:
                return
            lane = self._lanes[veid]
            if veid in self._busy_lanes:
                continue
            if not may_start(veid, self._order[lane[0]], host_waits_since, len(self._tasks)):
                continue
            job = self._jobs[lane.popleft()]
            if not lane:
                del self._lanes[veid]
            self._busy_lanes.add(veid)
            self._tasks[job.id] = asyncio.create_task(self._run(job), name=f"job-{job.id}")
            if veid == HOST_LANE:
                return

    async def _run(self, job: Job) -> None:
        self._order.pop(job.id, None)
        self._bump_generation(job.veid)
        job.state = JobState.RUNNING
        if not job.retries:
            job.started = time.time()
        self.journal.mark_running(job)
        self._changed(job)
        context = JobContext(self, job, self._intents.pop(job.id, None))
        try:
            job.result = await self._executor(job, context)
            job.state = JobState.SUCCEEDED
            job.progress_percent = 100
        except asyncio.CancelledError:
            job.state = JobState.CANCELLED if self._accepting else JobState.INTERRUPTED
            job.error = JobError(
                ErrorKind[job.state.name],
                "cancelled while it ran; the tool run was stopped"
                if self._accepting
                else "openvzd stopped before this job finished",
            )
        except Exception as failure:
            job.state = JobState.FAILED
            job.error = _error_of(failure)
            if not isinstance(failure, OpenvzError):
                log.exception(
                    "job %s failed unexpectedly", job.id, extra={"veid": job.veid, "job_id": job.id}
                )
        finally:
            job.finished = time.time()
            job.cancellable = False
            job.not_cancellable_reason = "it has finished"
            if self._accepting or job.state is not JobState.INTERRUPTED:
                self.journal.record_end(job)
            self._busy_lanes.discard(job.veid)
            self._tasks.pop(job.id, None)
            self._bump_generation(job.veid)
            self._changed(job)
            self._pump()
            self._trim_history()

    def _bump_generation(self, veid: int) -> None:
        self._lane_generation[veid] = self._lane_generation.get(veid, 0) + 1

    def _changed(self, job: Job) -> None:
        event = self._watchers.pop(job.id, None)
        if event is not None:
            event.set()
        if self.on_change is not None:
            self.on_change(job.snapshot())

    def _trim_history(self) -> None:
        """Move the oldest finished jobs past history_limit to the archive, in bulk."""
        self._finished_since_trim += 1
        if self._finished_since_trim < max(self._history_limit // 10, 1):
            return
        self._finished_since_trim = 0
        finished = [j for j in self._jobs.values() if j.state.finished]
        excess = len(finished) - self._history_limit
        if excess <= 0:
            return
        old = finished[:excess]
        self.journal.archive(old)
        self.journal.prune_archive(
            max_jobs=self._archive_max_jobs,
            max_age_seconds=self._archive_max_age_days * 86400,
        )
        for job in old:
            del self._jobs[job.id]
            if job.idempotency_key:
                self._by_key.pop(job.idempotency_key, None)


def may_start(veid: int, order: int, host_waits_since: int | None, running: int) -> bool:
    """The host lane's rule for the job at the head of lane `veid` (submitted as
    number `order`), while the host lane's first queued job was submitted as number
    `host_waits_since` (None: none waits) and `running` jobs run (none of them
    host-wide: then nothing starts at all)."""
    if veid == HOST_LANE:
        return running == 0
    return host_waits_since is None or order < host_waits_since


def _error_of(failure: BaseException) -> JobError:
    if isinstance(failure, OpenvzError):
        return JobError(failure.kind, failure.message, failure.tool, failure.exit_code)
    # A fault of the daemon: its text may quote anything, so only the type is shown
    # (the traceback is in the log).
    return JobError(
        ErrorKind.INTERNAL,
        f"openvzd failed unexpectedly ({type(failure).__name__}); its log has the details",
    )
