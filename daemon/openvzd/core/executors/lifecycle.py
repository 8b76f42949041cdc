"""Executors of the operations that make, remove, start, stop, pause and move
a container: their vzctl runs do not depend on its config. A define that fails
half-way destroys what it created."""

from __future__ import annotations

import asyncio
import dataclasses
import errno
import logging
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from openvzd.core import ops
from openvzd.core.executors.base import Executor, Simple
from openvzd.domxml import parse_domain
from openvzd.events import LifecycleEvent
from openvzd.jobs import HOST_LANE, JobContext
from openvzd.vz.conffile import expand_veid, read_config, updated_text, write_atomically
from openvzd.vz.errors import ErrorKind, OpenvzError, bad_argument
from openvzd.vz.host import FIRST_FREE_VEID
from openvzd.vz.plan import mount_config, plan_define

log = logging.getLogger(__name__)

SAMPLE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z")
NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})
MAX_SHUTDOWN_TIMEOUT = 86400


def _write_config(conf: Path, text: Callable[[], str]) -> None:
    """Write what the driver itself keeps in a config (libvirt's #UUID line, the
    title, a type='mount' config); a full disk is the host's to fix, so it is
    named as such (the old file stays whole either way)."""
    try:
        write_atomically(conf, text())
    except OSError as err:
        message = f"cannot write {conf}: {err.strerror}"
        if err.errno not in NO_SPACE:
            raise OpenvzError(ErrorKind.INTERNAL, message) from None
        raise OpenvzError(
            ErrorKind.RESOURCE_EXHAUSTED,
            f"{message} (the disk holding {conf.parent} is full); "
            "free space there and define the container again",
        ) from None


class StartExecutor(Simple[ops.Start]):
    COMMAND = ("start",)
    TIMEOUT = "start"
    SETTLES = "running"
    LIFECYCLE = "STARTED"


class DestroyExecutor(Simple[ops.Destroy]):
    COMMAND = ("stop", "--fast")
    TIMEOUT = "stop"
    SETTLES = "stopped"
    LIFECYCLE = "STOPPED"


class RebootExecutor(Simple[ops.Reboot]):
    COMMAND = ("restart",)
    TIMEOUT = "start"
    SETTLES = "running"
    LIFECYCLE = "STARTED"


class ShutdownExecutor(Executor[ops.Shutdown]):
    SETTLES = "stopped"
    LIFECYCLE = "STOPPED"

    def check(self, op: ops.Shutdown) -> ops.Shutdown:
        if not 0 <= op.timeout_seconds <= MAX_SHUTDOWN_TIMEOUT:
            raise bad_argument(
                f"timeout_seconds must be at most {MAX_SHUTDOWN_TIMEOUT} (a day), "
                f"not {op.timeout_seconds}; 0 uses the host's STOP_TIMEOUT"
            )
        return op

    async def run(self, op: ops.Shutdown, ctx: JobContext) -> dict[str, Any] | None:
        """vzctl stop halts the guest and kills it only after STOP_TIMEOUT; vzctl has
        no per-call timeout (spec §1.2, §1.3: --stop-timeout is a saved setting), so
        a requested bound is the daemon's: past it, the stop run is killed and
        `vzctl stop --fast` kills the container. The progress step says which path."""
        veid = str(op.veid)
        bound = float(op.timeout_seconds or 0)
        if not bound:
            ctx.progress(10, "stop (halt, the host's STOP_TIMEOUT)")
            await self.vzctl("stop", "stop", veid)
            self.runtime.set_paused(op.veid, False)
            return {"path": "halt"}
        ctx.progress(10, f"stop (halt, at most {bound:g} s)")
        path = "halt"
        try:
            await asyncio.wait_for(self.vzctl("stop", "stop", veid), bound)
        except TimeoutError:
            path = "kill"
        except OpenvzError as err:
            if err.kind is not ErrorKind.TIMED_OUT:
                raise
            path = "kill"
        if path == "kill":
            log.warning(
                "container %s did not halt within %g s; killing it (vzctl stop --fast)",
                veid,
                bound,
                extra={"veid": op.veid, "job_id": ctx.job.id},
            )
            ctx.progress(60, f"stop --fast (did not halt within {bound:g} s)")
            await self.vzctl("stop", "stop", veid, "--fast")
        self.runtime.set_paused(op.veid, False)
        return {"path": path}


class SuspendExecutor(Executor[ops.Suspend]):
    SETTLES = "running"

    async def run(self, op: ops.Suspend, ctx: JobContext) -> dict[str, Any] | None:
        await self.vzctl("suspend", "chkpnt", str(op.veid), "--suspend")
        self.runtime.set_paused(op.veid, True)
        self.work.events.publish(LifecycleEvent(op.veid, "PAUSED", "paused", "job", ctx.job.id))
        return None


class ResumeExecutor(Executor[ops.Resume]):
    SETTLES = "running"

    async def run(self, op: ops.Resume, ctx: JobContext) -> dict[str, Any] | None:
        await self.vzctl("suspend", "chkpnt", str(op.veid), "--resume")
        self.runtime.set_paused(op.veid, False)
        self.work.events.publish(LifecycleEvent(op.veid, "RESUMED", "running", "job", ctx.job.id))
        return None


class DefineExecutor(Executor[ops.Define]):
    LIFECYCLE = "DEFINED"

    def check(self, op: ops.Define) -> ops.Define:
        unnamed: list[bool] = []

        def placeholder() -> int:
            unnamed.append(True)
            return FIRST_FREE_VEID

        spec = parse_domain(op.xml, pick_veid=placeholder)
        plan_define(spec, vswap=self.runtime.vswap)  # and what this host cannot honour
        if unnamed:
            # The ID is picked when the job runs, on the host-wide lane, so two
            # defines at once never pick the same one.
            return dataclasses.replace(op, veid=HOST_LANE, pick_veid=True)
        if spec.veid in self.runtime.host.containers:
            raise OpenvzError(
                ErrorKind.ALREADY_EXISTS,
                f"container {spec.veid} already exists; undefine it first or use another <name>",
            )
        return dataclasses.replace(op, veid=spec.veid, pick_veid=False)

    async def run(self, op: ops.Define, ctx: JobContext) -> dict[str, Any] | None:
        # Without <name> the job runs on the host-wide lane, alone, so the ID it
        # picks cannot be picked by another define before its config exists.
        pick = self.runtime.host.next_free_veid if op.pick_veid else None
        spec = parse_domain(op.xml, pick_veid=pick)
        if (
            spec.veid in self.runtime.host.containers
            or self.runtime.paths.ct_conf(spec.veid).exists()
        ):
            raise OpenvzError(
                ErrorKind.ALREADY_EXISTS,
                f"container {spec.veid} already exists; undefine it first or choose another ID",
            )
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
                await self.vzctl(step.operation, *step.args)
            _write_config(
                conf,
                lambda: updated_text(conf.read_text(), {}, uuid=spec.uuid, title=spec.title),
            )
        except BaseException:
            await self._roll_back_define(spec.veid, keep_private=bool(spec.private_dir))
            raise
        return {"veid": spec.veid, "uuid": spec.uuid}

    def _mount_sample(self, private_dir: str) -> str:
        """The sample config a type='mount' container starts from (vz.conf's
        CONFIGFILE, as libvirt and vzctl create pick it), once the directory is
        known to exist and to be no other container's."""
        paths = self.runtime.paths
        if not paths.host_path(private_dir).is_dir():
            raise OpenvzError(
                ErrorKind.BAD_ARGUMENT,
                f"<filesystem type='mount'>: {private_dir} is not a directory on the host; "
                "put the container's files there first, or use type='template'",
            )
        # vzctl start needs it, and undefine deletes the directory: a guard
        # against naming a host directory (/srv, /etc) by mistake.
        if not os.path.lexists(paths.host_path(private_dir) / "sbin" / "init"):
            raise OpenvzError(
                ErrorKind.BAD_ARGUMENT,
                f"<filesystem type='mount'>: {private_dir} has no sbin/init, so it does not "
                "hold a container's files (vzctl start would fail, and undefine deletes the "
                "directory)",
            )
        vz_conf = read_config(paths.vz_conf).values
        for veid, container in self.runtime.host.containers.items():
            configured = container.values.get("VE_PRIVATE") or vz_conf.get("VE_PRIVATE", "")
            if configured and expand_veid(configured, veid) == private_dir:
                raise OpenvzError(
                    ErrorKind.ALREADY_EXISTS,
                    f"{private_dir} is the private area of container {veid}; two containers "
                    "cannot share one",
                )
        name = vz_conf.get("CONFIGFILE", "")
        if not SAMPLE_NAME.match(name):
            raise OpenvzError(
                ErrorKind.NOT_FOUND,
                f"vz.conf's CONFIGFILE ({name!r}) names no sample config to start the "
                'container\'s config from; set it (for example CONFIGFILE="basic")',
            )
        sample = paths.conf_dir / f"ve-{name}.conf-sample"
        try:
            return sample.read_text()
        except OSError as err:
            raise OpenvzError(
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
            await self.vzctl("destroy", "--quiet", "destroy", str(veid))
        except OpenvzError as err:
            log.error("roll-back of %s failed: %s", veid, err.message, extra={"veid": veid})


class CreateExecutor(DefineExecutor):
    LIFECYCLE = "STARTED"

    async def run(self, op: ops.Define, ctx: JobContext) -> dict[str, Any] | None:
        result = await super().run(op, ctx)
        ctx.progress(90, "start")
        assert result is not None
        await self.vzctl("start", "start", str(result["veid"]))
        return result


class UndefineExecutor(Executor[ops.Undefine]):
    LIFECYCLE = "UNDEFINED"

    async def run(self, op: ops.Undefine, ctx: JobContext) -> dict[str, Any] | None:
        veid = str(op.veid)
        container = self.runtime.host.containers.get(op.veid)
        if container is not None and container.status == "running":
            raise OpenvzError(
                ErrorKind.WRONG_STATE,
                f"container {veid} is running; stop it (ovzsh destroy {veid}) before undefining",
            )
        if container is not None and container.status == "mounted":
            await self.vzctl("stop", "umount", veid)
        kept = self._keep_private_area(op.veid) if op.keep_storage else None
        ctx.set_cancellable(False, "vzctl destroy is removing the private area")
        await self.vzctl("destroy", "destroy", veid)
        return {"kept_private_area": kept} if kept else None

    def _keep_private_area(self, veid: int) -> str:
        """Move VE_PRIVATE aside as CTID.undefined-TIMESTAMP beside it, so that
        vzctl destroy (which always deletes it) finds none to delete."""
        paths = self.runtime.paths
        container = self.runtime.host.containers.get(veid)
        configured = (container.values if container else {}).get("VE_PRIVATE") or read_config(
            paths.vz_conf
        ).values.get("VE_PRIVATE", "/vz/private/$VEID")
        private = expand_veid(configured, veid)
        kept = f"{private}.undefined-{time.strftime('%Y%m%dT%H%M%S')}"
        try:
            os.rename(paths.host_path(private), paths.host_path(kept))
        except OSError as err:
            raise OpenvzError(
                ErrorKind.INTERNAL, f"cannot keep {private} as {kept}: {err.strerror}"
            ) from None
        log.info("kept the private area of %s as %s", veid, kept, extra={"veid": veid})
        return kept


class MigrateExecutor(Executor[ops.Migrate]):
    def check(self, op: ops.Migrate) -> ops.Migrate:
        destination = op.destination
        if (
            not destination
            or len(destination) > 4096
            or destination.startswith("-")
            or not destination.isprintable()
            or any(c.isspace() for c in destination)
        ):
            raise bad_argument("destination must be a host name or address vzmigrate can reach")
        return op

    async def run(self, op: ops.Migrate, ctx: JobContext) -> dict[str, Any] | None:
        args = ["--online"] if op.online else []
        if op.keep_source:
            args += ["-r", "no"]
        ctx.set_cancellable(False, "vzmigrate is copying the container")
        ctx.progress(5, "migrate")
        await self.runtime.runner.run(
            "vzmigrate", [*args, op.destination, str(op.veid)], operation="migrate"
        )
        self.work.events.publish(LifecycleEvent(op.veid, "MIGRATED", "stopped", "job", ctx.job.id))
        return None
