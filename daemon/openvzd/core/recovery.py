"""After a crash, every job that was running ends as what the host shows (issue 18).

A job journaled RUNNING when openvzd died may or may not have done its work: its
vzctl outlives the daemon. Before anything is served, each is read back against
its operation's postcondition, declared beside its executor (`postcondition`):

- it holds: SUCCEEDED, its record says "verified after restart" and what was seen;
- it does not hold and the operation is safe to repeat (`repeatable`): queued
  again at the head of its lane, once; the retry is in its record;
- otherwise (unknowable, such as a migration; not safe; already retried once; a
  half-made container, cleaned up as vzctl cleans up a failed create):
  INTERRUPTED, with what was found and what the administrator should do.

A job whose operation cannot be rebuilt from the journal (a secret, never
stored; an old version's raw arguments) is never repeated: INTERRUPTED, with why.
"""

from __future__ import annotations

import logging
from typing import Any

from openvzd.core import ops
from openvzd.core.executors import Executors
from openvzd.core.executors.base import Finding, Verdict
from openvzd.jobs import HOST_LANE, Job, JobQueue, JobState
from openvzd.runtime import Runtime

log = logging.getLogger(__name__)

STOPPED_WHILE_RUNNING = "openvzd stopped while this job ran"
VERIFIED = "verified after restart"


async def recover_job(executors: Executors, queue: JobQueue, runtime: Runtime, job: Job) -> Job:
    """End (or queue again) one job a crash interrupted; return it."""
    extra = {"veid": job.veid, "job_id": job.id}
    try:
        op = ops.from_record(job.operation, job.veid, job.params)
    except ops.NotReplayable as why:
        await _read_back(executors, runtime, job.veid)
        log.warning("job %s (%s) interrupted: %s", job.id, job.operation, why, extra=extra)
        return queue.resolve(
            job.id,
            JobState.INTERRUPTED,
            f"{STOPPED_WHILE_RUNNING}; whether it took effect cannot be read from the "
            f"host, and it is not run again: {why}",
        )
    executor = executors.executor_for(op)
    plan: dict[str, Any] = dict(job.plan or {})
    veid = int(plan.get("veid") or 0) or job.veid
    # Its vzctl outlives the daemon: its lane stays closed until that is done.
    timeout = runtime.runner.timeout_for(job.operation)
    if veid != HOST_LANE and not await runtime.host.wait_unlocked(veid, timeout):
        holder = runtime.host.lock_holder(veid)
        return queue.resolve(
            job.id,
            JobState.INTERRUPTED,
            f"{STOPPED_WHILE_RUNNING}; after the restart container {veid} is still locked "
            f"by process {holder}, so what the job did cannot be read yet: look at that "
            "process, then at the container, and submit the change again if it is missing",
        )
    await _read_back(executors, runtime, veid)
    finding = executor.postcondition(op, plan, job.started or job.created)
    if finding.verdict is Verdict.HOLDS:
        log.info("job %s (%s) %s: %s", job.id, job.operation, VERIFIED, finding.found, extra=extra)
        result = plan if isinstance(op, ops.Define) else job.result
        return queue.resolve(
            job.id, JobState.SUCCEEDED, f"{VERIFIED}: {finding.found}", result=result
        )
    if finding.verdict is Verdict.NOT_YET and job.retries == 0 and executor.repeatable(op, finding):
        log.warning(
            "job %s (%s) did not take effect (%s); running it again",
            job.id,
            job.operation,
            finding.found,
            extra=extra,
        )
        return queue.retry(
            job.id,
            f"interrupted by a restart; after it {finding.found}, so the job was run again "
            "(retry 1)",
        )
    cleaned = await executor.clean_up(op, plan)
    if cleaned:
        await _read_back(executors, runtime, veid)
    message = _interrupted_message(op, job, finding, cleaned)
    log.warning("job %s (%s) interrupted: %s", job.id, job.operation, message, extra=extra)
    return queue.resolve(job.id, JobState.INTERRUPTED, message)


def _interrupted_message(op: ops.Operation, job: Job, finding: Finding, cleaned: str) -> str:
    if finding.verdict is Verdict.UNKNOWABLE:
        why = "so it was not run again"
    elif job.retries:
        why = "and it had already been run again once after an earlier restart"
    else:
        why = f"and {op.job_name} is not safe to run again in this state"
    parts = [f"{STOPPED_WHILE_RUNNING}; after the restart {finding.found}, {why}"]
    if cleaned:
        parts.append(cleaned)
    parts.append(finding.advice or "submit it again if the change is still wanted")
    return "; ".join(parts)


async def _read_back(executors: Executors, runtime: Runtime, veid: int) -> None:
    if veid == HOST_LANE:
        # Which container a host-wide job was making is unknown: read them all.
        executors.publish(await runtime.host.refresh(), "external")
    else:
        await executors.reconcile(veid)
