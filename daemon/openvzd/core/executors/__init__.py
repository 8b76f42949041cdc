"""What each operation does on the host: one executor class per operation.

An executor has two halves, side by side: `check` runs at submit (what can be
known before the job reaches the front of its lane: grammar, what this host
cannot honour), and `run` runs when the job reaches the front: it reads the
container's config as it is then, plans vzctl's arguments against it and runs
them. So queued changes compose, each applying to the result of the one before,
and a plan with nothing to do succeeds and says so ("nothing to change").
`SETTLES` names the status a successful run leaves (the place where a
postcondition will be declared, issue 18).

`Executors` is the queue's executor: it rebuilds the operation of a job read
back from the journal, runs the job's executor, then brings the host model up
to date and publishes what changed. A define that fails half-way destroys what
it created.
"""

from __future__ import annotations

import logging
from typing import Any

from openvzd.core import ops
from openvzd.core.executors.base import Executor
from openvzd.core.executors.lifecycle import (
    CreateExecutor,
    DefineExecutor,
    DestroyExecutor,
    MigrateExecutor,
    RebootExecutor,
    ResumeExecutor,
    ShutdownExecutor,
    StartExecutor,
    SuspendExecutor,
    UndefineExecutor,
)
from openvzd.core.executors.settings import (
    AttachDeviceExecutor,
    DetachDeviceExecutor,
    SetAutostartExecutor,
    SetHostnameExecutor,
    SetMemoryExecutor,
    SetMemoryParametersExecutor,
    SetNameserversExecutor,
    SetUserPasswordExecutor,
    SetVcpusExecutor,
    UpdateDeviceExecutor,
)
from openvzd.events import EventBus, JobEvent, LifecycleEvent
from openvzd.jobs import HOST_LANE, Job, JobContext
from openvzd.runtime import Runtime
from openvzd.vz.errors import ErrorKind, OpenvzError
from openvzd.vz.host import Change

log = logging.getLogger(__name__)

LIFECYCLE_BY_STATUS = {
    "running": "STARTED",
    "stopped": "STOPPED",
    "mounted": "MOUNTED",
    "suspended": "SUSPENDED",
}

# How a job's lifecycle event came about, in libvirt's detail words, where the kind
# alone does not say it (virsh prints "Stopped Destroyed", not "Stopped Shutdown").
DETAIL_BY_OPERATION = {
    ("STOPPED", "destroy"): "destroyed",
    ("STOPPED", "shutdown"): "shutdown",
    ("STOPPED", "migrate"): "migrated",
    ("STARTED", "start"): "booted",
    ("STARTED", "create"): "booted",
    ("STARTED", "reboot"): "booted",
}


def lifecycle_events(
    change: Change, cause: str, job_id: str = "", operation: str = ""
) -> list[LifecycleEvent]:
    state = change.new_status or change.old_status or "stopped"
    if change.what == "added":
        kinds = ["DEFINED"] + (["STARTED"] if change.new_status == "running" else [])
    elif change.what == "removed":
        kinds = ["UNDEFINED"]
    elif change.what == "status":
        kinds = [LIFECYCLE_BY_STATUS.get(change.new_status or "", "CHANGED")]
    else:
        kinds = ["CHANGED"]
    return [
        LifecycleEvent(
            change.veid, kind, state, cause, job_id, DETAIL_BY_OPERATION.get((kind, operation), "")
        )
        for kind in kinds
    ]


EXECUTOR_CLASSES: dict[type[ops.Operation], type[Executor[Any]]] = {
    ops.Define: DefineExecutor,
    ops.Create: CreateExecutor,
    ops.Undefine: UndefineExecutor,
    ops.Start: StartExecutor,
    ops.Shutdown: ShutdownExecutor,
    ops.Destroy: DestroyExecutor,
    ops.Reboot: RebootExecutor,
    ops.Suspend: SuspendExecutor,
    ops.Resume: ResumeExecutor,
    ops.SetAutostart: SetAutostartExecutor,
    ops.SetVcpus: SetVcpusExecutor,
    ops.SetMemory: SetMemoryExecutor,
    ops.SetMemoryParameters: SetMemoryParametersExecutor,
    ops.SetHostname: SetHostnameExecutor,
    ops.SetNameservers: SetNameserversExecutor,
    ops.SetUserPassword: SetUserPasswordExecutor,
    ops.AttachDevice: AttachDeviceExecutor,
    ops.DetachDevice: DetachDeviceExecutor,
    ops.UpdateDevice: UpdateDeviceExecutor,
    ops.Migrate: MigrateExecutor,
}


class Executors:
    """The queue's executor and the publisher of what jobs and the monitor see change."""

    def __init__(self, runtime: Runtime, events: EventBus) -> None:
        self.runtime = runtime
        self.events = events
        self._by_class = {cls: executor(self) for cls, executor in EXECUTOR_CLASSES.items()}

    def executor_for(self, op: ops.Operation) -> Executor[Any]:
        executor = self._by_class.get(type(op))
        if executor is None:
            raise OpenvzError(ErrorKind.NOT_SUPPORTED, f"no executor for {op.job_name!r}")
        return executor

    def check(self, op: ops.Operation) -> ops.Operation:
        checked: ops.Operation = self.executor_for(op).check(op)
        return checked

    async def execute(self, job: Job, ctx: JobContext) -> dict[str, Any] | None:
        op = ctx.intent if isinstance(ctx.intent, ops.Operation) else None
        if op is None:
            try:
                op = ops.from_record(job.operation, job.veid, job.params)
            except ops.NotReplayable as why:
                raise OpenvzError(ErrorKind.INTERRUPTED, str(why)) from None
        executor = self.executor_for(op)
        try:
            result = await executor.run(op, ctx)
        except BaseException:
            await self._publish_changes(job.veid, "job", job.id, op.NAME)
            raise
        # A host-wide job that made a container reads that one back.
        veid = int((result or {}).get("veid", job.veid)) if job.veid == HOST_LANE else job.veid
        settled = executor.SETTLES
        if settled is not None and veid in self.runtime.host.containers:
            # vzctl's exit 0 says where the container is; a vzlist run would only repeat it.
            changes = self.runtime.host.settle(
                veid, settled or self.runtime.host.containers[veid].status
            )
            self.publish(changes, "job", job.id, op.NAME)
        else:
            changes = await self._publish_changes(veid, "job", job.id, op.NAME)
        expected = executor.LIFECYCLE
        # The model may have been stale (an administrator's vzctl between two looks),
        # so a job that did change the state says so even when the read-back did not.
        if expected and veid != HOST_LANE and not any(c.what != "config" for c in changes):
            state = (
                self.runtime.state_of(veid) if veid in self.runtime.host.containers else "stopped"
            )
            detail = DETAIL_BY_OPERATION.get((expected, op.NAME), "")
            self.events.publish(LifecycleEvent(veid, expected, state, "job", job.id, detail))
        return result

    def job_changed(self, job: Job) -> None:
        self.events.publish(JobEvent(job))

    async def reconcile(self, veid: int) -> None:
        """Read a container's state back from the host after an interrupted job."""
        await self._publish_changes(veid, "external")

    async def _publish_changes(
        self, veid: int, cause: str, job_id: str = "", operation: str = ""
    ) -> list[Change]:
        if veid <= 0:
            return []
        try:
            changes = await self.runtime.host.refresh([veid])
        except OpenvzError as err:
            log.warning(
                "cannot read container %s back: %s", veid, err.message, extra={"veid": veid}
            )
            return []
        self.publish(changes, cause, job_id, operation)
        return changes

    def publish(
        self, changes: list[Change], cause: str, job_id: str = "", operation: str = ""
    ) -> None:
        for change in changes:
            if change.what in ("removed", "status") and change.new_status != "running":
                self.runtime.set_paused(change.veid, False)
            for event in lifecycle_events(change, cause, job_id, operation):
                self.events.publish(event)
