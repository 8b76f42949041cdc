"""What each job does on the host: the executors of the job queue.

The API layer validates a request and submits a job with plain parameters; the
executor here turns them into vzctl runs on the container's lane, brings the
host model up to date and publishes what changed. A define that fails half-way
destroys what it created.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import re
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from openvzd.domxml import parse_domain
from openvzd.events import EventBus, JobEvent, LifecycleEvent
from openvzd.jobs import HOST_LANE, Job, JobContext
from openvzd.runtime import Runtime
from openvzd.vz import storage
from openvzd.vz.conffile import (
    expand_veid,
    parse_config,
    read_config,
    updated_text,
    write_atomically,
)
from openvzd.vz.errors import ErrorKind, VzError
from openvzd.vz.host import Change
from openvzd.vz.plan import mount_config, plan_define
from openvzd.vz.spec import check_host_devs_free, check_new_container

log = logging.getLogger(__name__)

SAMPLE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z")
NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})

Handler = Callable[[Job, JobContext], Awaitable[dict[str, Any] | None]]

LIFECYCLE_BY_STATUS = {
    "running": "STARTED",
    "stopped": "STOPPED",
    "mounted": "MOUNTED",
    "suspended": "SUSPENDED",
}


# The status a successful run of each operation leaves; "" keeps the status and
# only re-reads the config. Operations not listed are read back with vzlist.
SETTLED_STATUS = {
    "start": "running",
    "reboot": "running",
    "shutdown": "stopped",
    "destroy": "stopped",
    "suspend": "running",
    "resume": "running",
    "set": "",
}

EXPECTED_LIFECYCLE = {
    "define": "DEFINED",
    "create": "STARTED",
    "undefine": "UNDEFINED",
    "start": "STARTED",
    "reboot": "STARTED",
    "shutdown": "STOPPED",
    "destroy": "STOPPED",
}


def _write_config(conf: Path, text: Callable[[], str]) -> None:
    """Write what the driver itself keeps in a config (libvirt's #UUID line, the
    title, a type='mount' config); a full disk is the host's to fix, so it is
    named as such (the old file stays whole either way)."""
    try:
        write_atomically(conf, text())
    except OSError as err:
        message = f"cannot write {conf}: {err.strerror}"
        if err.errno not in NO_SPACE:
            raise VzError(ErrorKind.INTERNAL, message) from None
        raise VzError(
            ErrorKind.RESOURCE_EXHAUSTED,
            f"{message} (the disk holding {conf.parent} is full); "
            "free space there and define the container again",
        ) from None


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


class Operations:
    def __init__(self, runtime: Runtime, events: EventBus) -> None:
        self.runtime = runtime
        self.events = events
        self._handlers: dict[str, Handler] = {
            "define": self._define,
            "create": self._create,
            "undefine": self._undefine,
            "start": self._simple("start", "start"),
            "shutdown": self._shutdown,
            "destroy": self._simple("stop", "stop", "--fast"),
            "reboot": self._simple("restart", "start"),
            "suspend": self._pause,
            "resume": self._unpause,
            "set": self._set,
            "migrate": self._migrate,
        }

    @property
    def operations(self) -> frozenset[str]:
        return frozenset(self._handlers)

    async def execute(self, job: Job, ctx: JobContext) -> dict[str, Any] | None:
        handler = self._handlers.get(job.operation)
        if handler is None:
            raise VzError(ErrorKind.NOT_SUPPORTED, f"unknown operation {job.operation!r}")
        try:
            result = await handler(job, ctx)
        except BaseException:
            await self._publish_changes(job.veid, "job", job.id, job.operation)
            raise
        # A host-wide job that made a container reads that one back.
        veid = int((result or {}).get("veid", job.veid)) if job.veid == HOST_LANE else job.veid
        settled = SETTLED_STATUS.get(job.operation)
        if settled is not None and veid in self.runtime.host.containers:
            # vzctl's exit 0 says where the container is; a vzlist run would only repeat it.
            changes = self.runtime.host.settle(
                veid, settled or self.runtime.host.containers[veid].status
            )
            self.publish(changes, "job", job.id, job.operation)
        else:
            changes = await self._publish_changes(veid, "job", job.id, job.operation)
        expected = EXPECTED_LIFECYCLE.get(job.operation)
        # The model may have been stale (an administrator's vzctl between two looks),
        # so a job that did change the state says so even when the read-back did not.
        if expected and veid != HOST_LANE and not any(c.what != "config" for c in changes):
            state = (
                self.runtime.state_of(veid) if veid in self.runtime.host.containers else "stopped"
            )
            detail = DETAIL_BY_OPERATION.get((expected, job.operation), "")
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
        except VzError as err:
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

    async def _vzctl(self, operation: str, *args: str) -> None:
        await self.runtime.runner.run("vzctl", args, operation=operation)

    def _simple(self, command: str, timeout: str, *extra: str) -> Handler:
        async def run(job: Job, ctx: JobContext) -> dict[str, Any] | None:
            ctx.progress(10, command)
            await self._vzctl(timeout, command, str(job.veid), *extra)
            if command in ("stop", "restart"):
                self.runtime.set_paused(job.veid, False)
            return None

        return run

    async def _shutdown(self, job: Job, ctx: JobContext) -> dict[str, Any] | None:
        """vzctl stop halts the guest and kills it only after STOP_TIMEOUT; vzctl has
        no per-call timeout (spec §1.2, §1.3: --stop-timeout is a saved setting), so
        a requested bound is the daemon's: past it, the stop run is killed and
        `vzctl stop --fast` kills the container. The progress step says which path."""
        veid = str(job.veid)
        bound = float(job.params.get("timeout_seconds") or 0)
        if not bound:
            ctx.progress(10, "stop (halt, the host's STOP_TIMEOUT)")
            await self._vzctl("stop", "stop", veid)
            self.runtime.set_paused(job.veid, False)
            return {"path": "halt"}
        ctx.progress(10, f"stop (halt, at most {bound:g} s)")
        path = "halt"
        try:
            await asyncio.wait_for(self._vzctl("stop", "stop", veid), bound)
        except TimeoutError:
            path = "kill"
        except VzError as err:
            if err.kind is not ErrorKind.TIMED_OUT:
                raise
            path = "kill"
        if path == "kill":
            log.warning(
                "container %s did not halt within %g s; killing it (vzctl stop --fast)",
                veid,
                bound,
                extra={"veid": job.veid, "job_id": job.id},
            )
            ctx.progress(60, f"stop --fast (did not halt within {bound:g} s)")
            await self._vzctl("stop", "stop", veid, "--fast")
        self.runtime.set_paused(job.veid, False)
        return {"path": path}

    async def _pause(self, job: Job, ctx: JobContext) -> dict[str, Any] | None:
        await self._vzctl("suspend", "chkpnt", str(job.veid), "--suspend")
        self.runtime.set_paused(job.veid, True)
        self.events.publish(LifecycleEvent(job.veid, "PAUSED", "paused", "job", job.id))
        return None

    async def _unpause(self, job: Job, ctx: JobContext) -> dict[str, Any] | None:
        await self._vzctl("suspend", "chkpnt", str(job.veid), "--resume")
        self.runtime.set_paused(job.veid, False)
        self.events.publish(LifecycleEvent(job.veid, "RESUMED", "running", "job", job.id))
        return None

    async def _define(self, job: Job, ctx: JobContext) -> dict[str, Any] | None:
        # Without <name> the job runs on the host-wide lane, alone, so the ID it
        # picks cannot be picked by another define before its config exists.
        pick = self.runtime.host.next_free_veid if job.params.get("pick_veid") else None
        spec = parse_domain(job.params["xml"], pick_veid=pick)
        if (
            spec.veid in self.runtime.host.containers
            or self.runtime.paths.ct_conf(spec.veid).exists()
        ):
            raise VzError(
                ErrorKind.ALREADY_EXISTS,
                f"container {spec.veid} already exists; undefine it first or choose another ID",
            )
        check_new_container(
            spec, {veid: self.runtime.uuid_of(veid) for veid in self.runtime.host.containers}
        )
        check_host_devs_free(spec, {v: c.values for v, c in self.runtime.host.containers.items()})
        if spec.private_dir:
            spec.private_dir = self._mount_source(spec.private_dir)
        steps = plan_define(spec, vswap=self.runtime.vswap)
        conf = self.runtime.paths.ct_conf(spec.veid)
        if spec.private_dir:
            sample = self._mount_sample(spec.private_dir)
        ctx.set_cancellable(
            False,
            "the container's config is being written"
            if spec.private_dir
            else "vzctl create is writing the container's private area",
        )
        try:
            if spec.private_dir:
                _write_config(conf, lambda: mount_config(sample, spec))
            for number, step in enumerate(steps):
                ctx.progress(10 + 80 * number // len(steps), step.args[1])
                await self._vzctl(step.operation, *step.args)
            _write_config(
                conf,
                lambda: storage.mark_created(
                    updated_text(conf.read_text(), {}, uuid=spec.uuid, title=spec.title),
                    created=not spec.private_dir,
                ),
            )
        except BaseException:
            await self._roll_back_define(spec.veid, keep_private=bool(spec.private_dir))
            raise
        return {"veid": spec.veid, "uuid": spec.uuid}

    def _mount_source(self, private_dir: str) -> str:
        """The resolved directory of a type='mount' container, once vz/storage.py
        accepts where it is (the config stores this resolved path)."""
        paths = self.runtime.paths
        vz_conf = read_config(paths.vz_conf).values
        configs = {veid: c.values for veid, c in self.runtime.host.containers.items()}
        source = storage.resolved(paths.root, private_dir)
        storage.check_mount_source(
            source,
            self._private_roots(vz_conf),
            storage.container_paths(
                paths.root, configs, vz_conf, "VE_PRIVATE", storage.DEFAULT_VE_PRIVATE
            ),
            storage.container_paths(
                paths.root, configs, vz_conf, "VE_ROOT", storage.DEFAULT_VE_ROOT
            ),
        )
        return source

    def _private_roots(self, vz_conf: dict[str, str]) -> list[str]:
        return storage.private_roots(
            self.runtime.paths.root,
            vz_conf.get("VE_PRIVATE", ""),
            self.runtime.config.storage.mount_roots,
        )

    def _mount_sample(self, private_dir: str) -> str:
        """The sample config a type='mount' container starts from (vz.conf's
        CONFIGFILE, as libvirt and vzctl create pick it), once the directory is
        known to exist and to be no other container's."""
        paths = self.runtime.paths
        if not paths.host_path(private_dir).is_dir():
            raise VzError(
                ErrorKind.BAD_ARGUMENT,
                f"<filesystem type='mount'>: {private_dir} is not a directory on the host; "
                "put the container's files there first, or use type='template'",
            )
        # vzctl start needs it. (Where the directory may be is _mount_source's.)
        if not os.path.lexists(paths.host_path(private_dir) / "sbin" / "init"):
            raise VzError(
                ErrorKind.BAD_ARGUMENT,
                f"<filesystem type='mount'>: {private_dir} has no sbin/init, so it does not "
                "hold a container's files (vzctl start would fail)",
            )
        vz_conf = read_config(paths.vz_conf).values
        name = vz_conf.get("CONFIGFILE", "")
        if not SAMPLE_NAME.match(name):
            raise VzError(
                ErrorKind.NOT_FOUND,
                f"vz.conf's CONFIGFILE ({name!r}) names no sample config to start the "
                'container\'s config from; set it (for example CONFIGFILE="basic")',
            )
        sample = paths.conf_dir / f"ve-{name}.conf-sample"
        try:
            return sample.read_text()
        except OSError as err:
            raise VzError(
                ErrorKind.NOT_FOUND,
                f"cannot read the sample config {sample.name} that vz.conf's CONFIGFILE names: "
                f"{err.strerror}",
            ) from None

    async def _roll_back_define(self, veid: int, *, keep_private: bool) -> None:
        """Undo a failed define. A container on an existing directory only
        loses the config this define wrote: vzctl destroy would delete the
        directory, which was never ours."""
        conf = self.runtime.paths.ct_conf(veid)
        if not conf.exists():
            return
        log.warning("define of %s failed; removing what it created", veid, extra={"veid": veid})
        if keep_private:
            conf.unlink(missing_ok=True)
            return
        try:
            await self._vzctl("destroy", "--quiet", "destroy", str(veid))
        except VzError as err:
            log.error("roll-back of %s failed: %s", veid, err.message, extra={"veid": veid})

    async def _create(self, job: Job, ctx: JobContext) -> dict[str, Any] | None:
        result = await self._define(job, ctx)
        ctx.progress(90, "start")
        assert result is not None
        await self._vzctl("start", "start", str(result["veid"]))
        return result

    async def _undefine(self, job: Job, ctx: JobContext) -> dict[str, Any] | None:
        veid = str(job.veid)
        container = self.runtime.host.containers.get(job.veid)
        if container is not None and container.status == "running":
            raise VzError(
                ErrorKind.WRONG_STATE,
                f"container {veid} is running; stop it (ovzsh destroy {veid}) before undefining",
            )
        if container is not None and container.status == "mounted":
            await self._vzctl("stop", "umount", veid)
        private, removable = self._private_area(job.veid)
        if not removable:
            # vzctl destroy always deletes VE_PRIVATE: only the config may go.
            ctx.set_cancellable(False, "the container's config is being removed")
            self.runtime.paths.ct_conf(job.veid).unlink(missing_ok=True)
            log.warning(
                "undefined %s and left its private area %s in place: openvzd did not create "
                "it and it is not inside a private root",
                veid,
                private,
                extra={"veid": job.veid},
            )
            return {
                "left_in_place": private,
                "outcome": f"left the private area {private} in place: openvzd did not create "
                "it and it is not inside a private root (vz.conf's VE_PRIVATE folder or "
                "[storage] mount_roots)",
            }
        kept = (
            self._keep_private_area(job.veid, private) if job.params.get("keep_storage") else None
        )
        ctx.set_cancellable(False, "vzctl destroy is removing the private area")
        await self._vzctl("destroy", "destroy", veid)
        if not kept:
            return None
        return {"kept_private_area": kept, "outcome": f"kept the private area as {kept}"}

    def _private_area(self, veid: int) -> tuple[str, bool]:
        """The container's VE_PRIVATE, resolved, and whether undefine may delete
        or rename it (vz/storage.py's rule). Read from the config file itself,
        as vzctl destroy will, never from a model that may be a look behind."""
        paths = self.runtime.paths
        vz_conf = read_config(paths.vz_conf).values
        try:
            conf_text = paths.ct_conf(veid).read_text(errors="replace")
        except OSError:
            conf_text = ""
        configured = parse_config(conf_text).values.get("VE_PRIVATE") or vz_conf.get(
            "VE_PRIVATE", storage.DEFAULT_VE_PRIVATE
        )
        private = expand_veid(configured, veid)
        try:
            private = storage.resolved(paths.root, private)
        except VzError:
            return private, False
        created = storage.has_created_marker(conf_text)
        return private, storage.may_remove(private, self._private_roots(vz_conf), created)

    def _keep_private_area(self, veid: int, private: str) -> str:
        """Move VE_PRIVATE aside as CTID.undefined-TIMESTAMP beside it, so that
        vzctl destroy (which always deletes it) finds none to delete."""
        paths = self.runtime.paths
        kept = f"{private}.undefined-{time.strftime('%Y%m%dT%H%M%S')}"
        try:
            os.rename(paths.host_path(private), paths.host_path(kept))
        except OSError as err:
            raise VzError(
                ErrorKind.INTERNAL, f"cannot keep {private} as {kept}: {err.strerror}"
            ) from None
        log.info("kept the private area of %s as %s", veid, kept, extra={"veid": veid})
        return kept

    async def _set(self, job: Job, ctx: JobContext) -> dict[str, Any] | None:
        args: list[str] = list(job.params["args"])
        if not args:  # an update that changes nothing succeeds without a vzctl run
            return None
        await self._vzctl("set", "set", str(job.veid), *args, "--save")
        return None

    async def _migrate(self, job: Job, ctx: JobContext) -> dict[str, Any] | None:
        args = ["--online"] if job.params.get("online") else []
        if job.params.get("keep_source"):
            args += ["-r", "no"]
        ctx.set_cancellable(False, "vzmigrate is copying the container")
        ctx.progress(5, "migrate")
        await self.runtime.runner.run(
            "vzmigrate", [*args, job.params["destination"], str(job.veid)], operation="migrate"
        )
        self.events.publish(LifecycleEvent(job.veid, "MIGRATED", "stopped", "job", job.id))
        return None
