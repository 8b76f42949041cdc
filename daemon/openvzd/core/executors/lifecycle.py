"""Executors of the operations that make, remove, start, stop, pause and move
a container: their vzctl runs do not depend on its config. A define that fails
half-way destroys what it created."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import errno
import logging
import os
import re
import shutil
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

from openvzd.core import ops
from openvzd.core.executors.base import (
    NOTHING_TO_CHANGE,
    Executor,
    Finding,
    OpT,
    Simple,
    Verdict,
)
from openvzd.domxml import given_uuid, parse_domain
from openvzd.events import LifecycleEvent
from openvzd.jobs import HOST_LANE, JobContext
from openvzd.runtime import Runtime
from openvzd.vz import storage
from openvzd.vz.conffile import (
    expand_veid,
    parse_config,
    read_config,
    updated_text,
    write_atomically,
)
from openvzd.vz.errors import ErrorKind, OpenvzError, bad_argument
from openvzd.vz.host import FIRST_FREE_VEID
from openvzd.vz.plan import mount_config, plan_define, plan_update
from openvzd.vz.proc import read_vestat
from openvzd.vz.spec import ContainerSpec, check_host_devs_free, check_new_container

log = logging.getLogger(__name__)

SAMPLE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z")
NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})
MAX_SHUTDOWN_TIMEOUT = 86400
# Not running: what a stop leaves (mounted or with a dump file, it is still down).
STOPPED_STATES = frozenset({"stopped", "mounted", "suspended"})


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


def _private_roots(runtime: Runtime, vz_conf: dict[str, str]) -> list[str]:
    """The folders a type='mount' source may lie in and undefine may delete in:
    the one holding vz.conf's VE_PRIVATE, and [storage] mount_roots."""
    return storage.private_roots(
        runtime.paths.root, vz_conf.get("VE_PRIVATE", ""), runtime.config.storage.mount_roots
    )


class StartExecutor(Simple[ops.Start]):
    COMMAND = ("start",)
    TIMEOUT = "start"
    SETTLES = "running"
    LIFECYCLE = "STARTED"
    ENDS_IN = frozenset({"running", "paused"})
    REPEATABLE = True


NOT_RUNNING = "domain is not in running state"


def refuse_unless_running(executor: Executor[Any], veid: int, *, paused_ok: bool) -> None:
    """libvirt's OpenVZ driver refuses shutdown, destroy and reboot of a container
    that is not running, "domain is not in running state" (openvz_driver.c,
    openvzDomainShutdownFlags and openvzDomainReboot), where vzctl stop would exit 0
    doing nothing and vzctl restart would start it. A paused container may only be
    destroyed: halting or restarting a frozen one would wait for its timeout."""
    runtime = executor.runtime
    state = runtime.state_of(veid) if veid in runtime.host.containers else "stopped"
    if state == "running" or (paused_ok and state == "paused"):
        return
    hint = f"; resume it first (ovzsh resume {veid})" if state == "paused" else ""
    raise OpenvzError(ErrorKind.WRONG_STATE, f"{NOT_RUNNING}: container {veid} is {state}{hint}")


def check_running_at_submit(executor: Executor[Any], veid: int, *, paused_ok: bool) -> None:
    """The model's state says it at submit, unless jobs are queued or running on
    the container's lane: those may start it first (queued jobs compose), so the
    run-time check decides."""
    if veid not in executor.work.busy_lanes():
        refuse_unless_running(executor, veid, paused_ok=paused_ok)


async def check_running_at_run(executor: Executor[Any], veid: int, *, paused_ok: bool) -> None:
    """The state when the job reaches the front: the model, read back from the
    host (vzlist, as libvirt's driver asks) before a refusal, in case it was stale."""
    try:
        refuse_unless_running(executor, veid, paused_ok=paused_ok)
    except OpenvzError:
        await executor.work.reconcile(veid)
        refuse_unless_running(executor, veid, paused_ok=paused_ok)


class WhileRunning(Simple[OpT]):
    """A Simple run that needs the container running (see refuse_unless_running)."""

    PAUSED_OK: ClassVar[bool] = False

    def check(self, op: OpT) -> OpT:
        check_running_at_submit(self, op.veid, paused_ok=self.PAUSED_OK)
        return op

    async def run(self, op: OpT, ctx: JobContext) -> dict[str, Any] | None:
        await check_running_at_run(self, op.veid, paused_ok=self.PAUSED_OK)
        return await super().run(op, ctx)


class DestroyExecutor(WhileRunning[ops.Destroy]):
    COMMAND = ("stop", "--fast")
    TIMEOUT = "stop"
    SETTLES = "stopped"
    LIFECYCLE = "STOPPED"
    PAUSED_OK = True
    ENDS_IN = STOPPED_STATES
    REPEATABLE = True


class RebootExecutor(WhileRunning[ops.Reboot]):
    COMMAND = ("restart",)
    TIMEOUT = "start"
    SETTLES = "running"
    LIFECYCLE = "STARTED"
    REPEATABLE = True

    async def run(self, op: ops.Reboot, ctx: JobContext) -> dict[str, Any] | None:
        if ctx.job.retries:
            # Run again after a restart: the crash may have come between vzctl
            # restart's stop and its start, so a stopped container is this
            # reboot's own half-way state, and vzctl restart starts it.
            return await Simple.run(self, op, ctx)
        return await super().run(op, ctx)

    def postcondition(self, op: ops.Reboot, plan: Mapping[str, Any], started: float) -> Finding:
        """Running, and up for less time than has passed since the job began: it
        was started again after the reboot was asked for."""
        state = self.state_word(op.veid)
        if state not in ("running", "paused"):
            return Finding(Verdict.NOT_YET, f"container {op.veid} is {state}")
        cpu = read_vestat(self.runtime.paths.proc).get(op.veid)
        if cpu is None:
            return Finding(
                Verdict.UNKNOWABLE,
                f"container {op.veid} is {state}, but its uptime cannot be read",
                f"reboot it again if it was not (ovzsh reboot {op.veid})",
            )
        since_job = time.time() - started
        up = f"container {op.veid} is {state}, up {cpu.uptime_seconds:.0f} s"
        if cpu.uptime_seconds <= since_job:
            return Finding(Verdict.HOLDS, f"{up}, started after the reboot was asked for")
        return Finding(Verdict.NOT_YET, f"{up}, since before the reboot was asked for")


class ShutdownExecutor(Executor[ops.Shutdown]):
    SETTLES = "stopped"
    LIFECYCLE = "STOPPED"
    ENDS_IN = STOPPED_STATES
    REPEATABLE = True

    def check(self, op: ops.Shutdown) -> ops.Shutdown:
        if not 0 <= op.timeout_seconds <= MAX_SHUTDOWN_TIMEOUT:
            raise bad_argument(
                f"timeout_seconds must be at most {MAX_SHUTDOWN_TIMEOUT} (a day), "
                f"not {op.timeout_seconds}; 0 uses the host's STOP_TIMEOUT"
            )
        check_running_at_submit(self, op.veid, paused_ok=False)
        return op

    async def run(self, op: ops.Shutdown, ctx: JobContext) -> dict[str, Any] | None:
        """vzctl stop halts the guest and kills it only after STOP_TIMEOUT; vzctl has
        no per-call timeout (openvz-tools.md §1.2, §1.3: --stop-timeout is a saved setting), so
        a requested bound is the daemon's: past it, the stop run is killed and
        `vzctl stop --fast` kills the container. The progress step says which path."""
        await check_running_at_run(self, op.veid, paused_ok=False)
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
    """Paused is what openvzd remembers (vzlist cannot tell a frozen container
    from a running one), so a suspend whose vzctl ended after a crash reads as
    not yet: it runs again, and `chkpnt --suspend` of a frozen container leaves it
    frozen."""

    SETTLES = "running"
    ENDS_IN = frozenset({"paused"})
    REPEATABLE = True

    def repeatable(self, op: ops.Suspend, finding: Finding) -> bool:
        return self.state_word(op.veid) == "running"

    async def run(self, op: ops.Suspend, ctx: JobContext) -> dict[str, Any] | None:
        await self.vzctl("suspend", "chkpnt", str(op.veid), "--suspend")
        self.runtime.set_paused(op.veid, True)
        self.work.events.publish(LifecycleEvent(op.veid, "PAUSED", "paused", "job", ctx.job.id))
        return None


class ResumeExecutor(Executor[ops.Resume]):
    SETTLES = "running"
    ENDS_IN = frozenset({"running"})
    REPEATABLE = True

    def repeatable(self, op: ops.Resume, finding: Finding) -> bool:
        return self.state_word(op.veid) == "paused"

    async def run(self, op: ops.Resume, ctx: JobContext) -> dict[str, Any] | None:
        await self.vzctl("suspend", "chkpnt", str(op.veid), "--resume")
        self.runtime.set_paused(op.veid, False)
        self.work.events.publish(LifecycleEvent(op.veid, "RESUMED", "running", "job", ctx.job.id))
        return None


class DefineExecutor(Executor[ops.Define]):
    """A define makes a container, or, when its <name> is an existing container,
    redefines it as virsh's define does (libvirt's virDomainDefineXML replaces
    the persistent definition of a domain of that name and UUID): the difference
    is planned against the config as it is when the job runs and applied with
    one `vzctl set --save`. libvirt's OpenVZ driver itself would run vzctl create
    again and fail (openvzDomainDefineXMLFlags); virsh edit needs the redefine."""

    LIFECYCLE = "DEFINED"
    # create (CreateExecutor) never redefines: it makes and starts a new container.
    REDEFINES: ClassVar[bool] = True
    # Not yet means no config: nothing was made, so it is made afresh; a redefine
    # plans against the config as it is, so running it again is harmless.
    REPEATABLE = True

    def check(self, op: ops.Define) -> ops.Define:
        unnamed: list[bool] = []

        def placeholder() -> int:
            unnamed.append(True)
            return FIRST_FREE_VEID

        spec = parse_domain(op.xml, pick_veid=placeholder)
        plan_define(spec, vswap=self.runtime.vswap)  # and what this host cannot honour
        if unnamed:
            # The ID is picked when the job runs, on the host-wide lane, so two
            # defines at once never pick the same one. Its UUID and default veth
            # names are checked against the host then, under the picked ID.
            return dataclasses.replace(op, veid=HOST_LANE, pick_veid=True)
        if spec.veid in self.runtime.host.containers:
            if not self.REDEFINES:
                raise OpenvzError(
                    ErrorKind.ALREADY_EXISTS,
                    f"container {spec.veid} already exists; define to change it, start it "
                    f"(ovzsh start {spec.veid}), or use another <name>",
                )
            # Refused now if it could never apply; planned again when the job runs.
            self._plan_redefine(op.xml, spec)
        else:
            self._check_against_host(spec)
        return dataclasses.replace(op, veid=spec.veid, pick_veid=False)

    async def run(self, op: ops.Define, ctx: JobContext) -> dict[str, Any] | None:
        # Without <name> the job runs on the host-wide lane, alone, so the ID it
        # picks cannot be picked by another define before its config exists.
        pick = self.runtime.host.next_free_veid if op.pick_veid else None
        spec = parse_domain(op.xml, pick_veid=pick)
        if self.REDEFINES and not op.pick_veid and spec.veid in self.runtime.host.containers:
            return await self._redefine(op.xml, spec, ctx)
        if (
            spec.veid in self.runtime.host.containers
            or self.runtime.paths.ct_conf(spec.veid).exists()
        ):
            raise OpenvzError(
                ErrorKind.ALREADY_EXISTS,
                f"container {spec.veid} already exists; undefine it first or choose another ID",
            )
        # At run time too: an unnamed define's ID is known only now, and another
        # define may have taken the UUID or a veth name since submit.
        self._check_against_host(spec)
        if spec.private_dir:
            spec.private_dir = self._mount_source(spec.private_dir)
        steps = plan_define(spec, vswap=self.runtime.vswap)
        conf = self.runtime.paths.ct_conf(spec.veid)
        if spec.private_dir:
            sample = self._mount_sample(spec.private_dir)
        # Before anything is made: the ID and UUID recovery reads back (issue 18).
        ctx.record_plan(veid=spec.veid, uuid=spec.uuid, private_dir=spec.private_dir)
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
                lambda: storage.mark_created(
                    updated_text(conf.read_text(), {}, uuid=spec.uuid, title=spec.title),
                    created=not spec.private_dir,
                ),
            )
        except BaseException:
            await self._roll_back_define(spec.veid, keep_private=bool(spec.private_dir))
            raise
        return {"veid": spec.veid, "uuid": spec.uuid}

    def _plan_redefine(self, xml: str, spec: ContainerSpec) -> tuple[ContainerSpec, list[str]]:
        """The existing container's spec as it is now and the `vzctl set` options
        that turn it into spec; refuses another UUID and a changed root filesystem
        (plan_update), which a define cannot change."""
        veid = spec.veid
        current = self.current_spec(veid)
        given = given_uuid(xml)
        if given is not None and given != current.uuid:
            raise OpenvzError(
                ErrorKind.ALREADY_EXISTS,
                f"domain '{veid}' is already defined with uuid {current.uuid}; give that "
                "<uuid> (or none) to change it, or another <name> for a new container",
            )
        spec.uuid = current.uuid
        if spec.private_dir:
            # The config keeps the resolved directory (see _mount_source).
            spec.private_dir = storage.resolved(self.runtime.paths.root, spec.private_dir)
        check_host_devs_free(spec, {v: c.values for v, c in self.runtime.host.containers.items()})
        return current, plan_update(current, spec, vswap=self.runtime.vswap)

    async def _redefine(
        self, xml: str, spec: ContainerSpec, ctx: JobContext
    ) -> dict[str, Any] | None:
        ctx.progress(10, "plan")
        current, args = self._plan_redefine(xml, spec)
        veid = spec.veid
        ctx.record_plan(veid=veid, uuid=spec.uuid, redefined=True)
        result: dict[str, Any] = {"veid": veid, "uuid": spec.uuid, "redefined": True}
        if not args and spec.title == current.title:
            ctx.progress(100, NOTHING_TO_CHANGE)
            return {**result, "changed": False, "step": NOTHING_TO_CHANGE}
        if args:
            ctx.progress(50, "set")
            await self.vzctl("set", "set", str(veid), *args, "--save")
        if spec.title != current.title:
            conf = self.runtime.paths.ct_conf(veid)
            _write_config(conf, lambda: updated_text(conf.read_text(), {}, title=spec.title))
        return {**result, "changed": True}

    def _check_against_host(self, spec: ContainerSpec) -> None:
        """What the XML alone cannot show: a reserved ID, a UUID or a veth host
        name another container already has."""
        containers = self.runtime.host.containers
        check_new_container(spec, {veid: self.runtime.uuid_of(veid) for veid in containers})
        check_host_devs_free(spec, {veid: c.values for veid, c in containers.items()})

    def _mount_source(self, private_dir: str) -> str:
        """The resolved directory of a type='mount' container, once vz/storage.py
        accepts where it is (the config stores this resolved path)."""
        paths = self.runtime.paths
        vz_conf = read_config(paths.vz_conf).values
        configs = {veid: c.values for veid, c in self.runtime.host.containers.items()}
        source = storage.resolved(paths.root, private_dir)
        storage.check_mount_source(
            source,
            _private_roots(self.runtime, vz_conf),
            storage.container_paths(
                paths.root, configs, vz_conf, "VE_PRIVATE", storage.DEFAULT_VE_PRIVATE
            ),
            storage.container_paths(
                paths.root, configs, vz_conf, "VE_ROOT", storage.DEFAULT_VE_ROOT
            ),
        )
        return source

    def postcondition(self, op: ops.Define, plan: Mapping[str, Any], started: float) -> Finding:
        """The config exists with the job's UUID (written last, after create and
        set). The run journals its ID and UUID before it makes anything, so no plan
        means nothing was made."""
        veid = int(plan.get("veid") or 0) or (0 if op.pick_veid else op.veid)
        if plan.get("redefined") or (not plan and self.REDEFINES and veid):
            # A redefine is planned against the config as it is when it runs, so
            # running it again applies what is still missing, or nothing.
            return Finding(Verdict.NOT_YET, f"container {veid}'s redefine may not have run")
        if not plan:
            if veid and self.runtime.paths.ct_conf(veid).exists():
                return Finding(
                    Verdict.UNKNOWABLE,
                    f"container {veid} exists, but this job recorded nothing it made",
                    f"look at container {veid}: if it is not the one asked for, undefine it; "
                    "then define again",
                )
            return Finding(Verdict.NOT_YET, "the run had not begun making the container")
        conf = self.runtime.paths.ct_conf(veid)
        if not conf.exists():
            return Finding(Verdict.NOT_YET, f"container {veid} has no config")
        uuid = read_config(conf).uuid
        if uuid == str(plan.get("uuid", "")).lower():
            return Finding(Verdict.HOLDS, f"container {veid} exists with the job's UUID {uuid}")
        return Finding(
            Verdict.UNKNOWABLE,
            f"container {veid} was half made (its config has not the job's UUID)",
            "define it again",
        )

    async def clean_up(self, op: ops.Define, plan: Mapping[str, Any]) -> str:
        """A half-made container goes as vzctl removes one whose create failed
        (openvz-tools.md §5.2 step 9): its private area (and the .tmp one it unpacks into) and
        its config. A type='mount' directory was never ours: only the config goes."""
        veid = int(plan.get("veid") or 0)
        if not veid:
            return ""
        paths = self.runtime.paths
        conf = paths.ct_conf(veid)
        config = read_config(conf)
        if not conf.exists() or config.uuid == str(plan.get("uuid", "")).lower():
            return ""
        if self.runtime.host.lock_holder(veid) is not None or self.state_word(veid) not in (
            "stopped",
            "gone",
        ):
            return f"container {veid} is in use, so it was left as it is"
        private_dir = str(plan.get("private_dir") or "")
        removed = []
        if not private_dir:
            configured = config.values.get("VE_PRIVATE") or read_config(paths.vz_conf).values.get(
                "VE_PRIVATE", ""
            )
            private = expand_veid(configured, veid) if configured else ""
            if not _removable_private(private, veid):
                return (
                    f"its private area {private!r} is not a path openvzd removes, so the "
                    "container was left as it is"
                )
            for path in (f"{private}.tmp", private):
                if paths.host_path(path).exists():
                    shutil.rmtree(paths.host_path(path))
                    removed.append(f"{path}")
        conf.unlink(missing_ok=True)
        removed.append(f"its config {conf.name}")
        log.warning(
            "half-made container %s removed after a restart: %s",
            veid,
            ", ".join(removed),
            extra={"veid": veid},
        )
        return "removed it as vzctl does when create fails: " + ", ".join(removed)

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
        # vzctl start needs it. (Where the directory may be is _mount_source's.)
        if not os.path.lexists(paths.host_path(private_dir) / "sbin" / "init"):
            raise OpenvzError(
                ErrorKind.BAD_ARGUMENT,
                f"<filesystem type='mount'>: {private_dir} has no sbin/init, so it does not "
                "hold a container's files (vzctl start would fail)",
            )
        vz_conf = read_config(paths.vz_conf).values
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
    REDEFINES = False

    def postcondition(self, op: ops.Define, plan: Mapping[str, Any], started: float) -> Finding:
        defined = super().postcondition(op, plan, started)
        if defined.verdict is not Verdict.HOLDS:
            return defined
        veid = int(plan["veid"])
        state = self.state_word(veid)
        if state in ("running", "paused"):
            return Finding(Verdict.HOLDS, f"{defined.found}, {state}")
        return Finding(
            Verdict.UNKNOWABLE,
            f"{defined.found}, but {state}",
            f"it was made but not started: ovzsh start {veid}",
        )

    async def run(self, op: ops.Define, ctx: JobContext) -> dict[str, Any] | None:
        result = await super().run(op, ctx)
        ctx.progress(90, "start")
        assert result is not None
        await self.vzctl("start", "start", str(result["veid"]))
        return result


class UndefineExecutor(Executor[ops.Undefine]):
    LIFECYCLE = "UNDEFINED"

    def postcondition(self, op: ops.Undefine, plan: Mapping[str, Any], started: float) -> Finding:
        if not self.runtime.paths.ct_conf(op.veid).exists():
            return Finding(Verdict.HOLDS, f"container {op.veid} has no config")
        state = self.state_word(op.veid)
        return Finding(
            Verdict.NOT_YET,
            f"container {op.veid} still has its config and is {state}",
            f"undefine it again once it is stopped (ovzsh undefine {op.veid})"
            if not op.keep_storage
            else f"its private area may already be kept beside it as *.undefined-*; look, "
            f"then undefine it again (ovzsh undefine {op.veid})",
        )

    def repeatable(self, op: ops.Undefine, finding: Finding) -> bool:
        # With keep_storage the private area may already have been moved aside.
        return not op.keep_storage and self.state_word(op.veid) in STOPPED_STATES

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
        private, removable = self._private_area(op.veid)
        if not removable:
            # vzctl destroy always deletes VE_PRIVATE: only the config may go, and
            # the empty mount point vzctl destroy would remove with it.
            ctx.set_cancellable(False, "the container's config is being removed")
            mount_point = self._default_mount_point(op.veid)
            self.runtime.paths.ct_conf(op.veid).unlink(missing_ok=True)
            if mount_point is not None:
                with contextlib.suppress(OSError):  # not empty, busy or gone: it stays
                    os.rmdir(mount_point)
            log.warning(
                "undefined %s and left its private area %s in place: openvzd did not create "
                "it and it is not inside a private root",
                veid,
                private,
                extra={"veid": op.veid},
            )
            return {
                "left_in_place": private,
                "outcome": f"left the private area {private} in place: openvzd did not create "
                "it and it is not inside a private root (vz.conf's VE_PRIVATE folder or "
                "[storage] mount_roots)",
            }
        kept = self._keep_private_area(op.veid, private) if op.keep_storage else None
        ctx.set_cancellable(False, "vzctl destroy is removing the private area")
        await self.vzctl("destroy", "destroy", veid)
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
        except OpenvzError:
            return private, False
        created = storage.has_created_marker(conf_text)
        return private, storage.may_remove(private, _private_roots(self.runtime, vz_conf), created)

    def _default_mount_point(self, veid: int) -> Path | None:
        """The container's VE_ROOT on the host when it is vz.conf's own (the
        /vz/root/CTID kind): a VE_ROOT set elsewhere by hand is not touched."""
        paths = self.runtime.paths
        default = read_config(paths.vz_conf).values.get("VE_ROOT") or storage.DEFAULT_VE_ROOT
        own = read_config(paths.ct_conf(veid)).values.get("VE_ROOT") or default
        if expand_veid(own, veid) != expand_veid(default, veid):
            return None
        return paths.host_path(expand_veid(default, veid))

    def _keep_private_area(self, veid: int, private: str) -> str:
        """Move VE_PRIVATE aside as CTID.undefined-TIMESTAMP beside it, so that
        vzctl destroy (which always deletes it) finds none to delete."""
        paths = self.runtime.paths
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
    def postcondition(self, op: ops.Migrate, plan: Mapping[str, Any], started: float) -> Finding:
        here = self.state_word(op.veid)
        return Finding(
            Verdict.UNKNOWABLE,
            f"container {op.veid} is {here} here; whether vzmigrate moved it to "
            f"{op.destination} cannot be read from this host",
            f"look on {op.destination} (vzlist -a {op.veid}) and here, then migrate again "
            "or remove the copy that should not be",
        )

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


def _removable_private(private: str, veid: int) -> bool:
    """A private area path recovery may delete: absolute, plain, and named for
    this container (vzctl's /vz/private/$VEID), never / or a host directory."""
    parts = private.split("/")
    return (
        private.startswith("/")
        and len(parts) >= 3
        and ".." not in parts
        and "" not in parts[1:]
        and str(veid) in parts[-1]
    )
