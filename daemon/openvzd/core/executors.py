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

import asyncio
import dataclasses
import errno
import logging
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

from openvzd.core import ops
from openvzd.core.secret import Secret
from openvzd.domxml import device_args, device_kind, parse_domain, update_device_spec
from openvzd.events import EventBus, JobEvent, LifecycleEvent
from openvzd.jobs import HOST_LANE, Job, JobContext
from openvzd.runtime import Runtime
from openvzd.vz.conffile import expand_veid, read_config, updated_text, write_atomically
from openvzd.vz.errors import ErrorKind, OpenvzError, bad_argument
from openvzd.vz.host import FIRST_FREE_VEID, Change
from openvzd.vz.plan import mount_config, plan_define, plan_update, with_memory
from openvzd.vz.spec import (
    ContainerSpec,
    spec_from_config,
    validate_hostname,
    validate_ip,
    validate_text,
)

log = logging.getLogger(__name__)

SAMPLE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z")
USER_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,31}\Z")
NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})
MAX_VCPUS = 4096
MAX_SHUTDOWN_TIMEOUT = 86400
NOTHING_TO_CHANGE = "nothing to change"

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


OpT = TypeVar("OpT", bound=ops.Operation)


class Executor(Generic[OpT]):
    """check() at submit, run() at the front of the lane, for one operation."""

    # The status a successful run leaves: "" keeps the status and only re-reads
    # the config; None reads the container back with vzlist.
    SETTLES: ClassVar[str | None] = None
    # The lifecycle event a successful run means, published even when the model
    # was stale and the read-back showed no change.
    LIFECYCLE: ClassVar[str] = ""

    def __init__(self, work: Executors) -> None:
        self.work = work
        self.runtime = work.runtime

    def check(self, op: OpT) -> OpT:
        """Refuse what can be refused now; return the operation to journal."""
        return op

    async def run(self, op: OpT, ctx: JobContext) -> dict[str, Any] | None:
        raise NotImplementedError

    async def vzctl(self, timeout: str, *args: str, secrets: tuple[Secret, ...] = ()) -> None:
        await self.runtime.runner.run("vzctl", args, operation=timeout, secrets=secrets)

    def current_spec(self, veid: int) -> ContainerSpec:
        """The container's spec from its config file as it is now."""
        config = read_config(self.runtime.paths.ct_conf(veid))
        if not config.values and config.problems:
            raise OpenvzError(
                ErrorKind.NOT_FOUND,
                f"cannot read the config of container {veid}: {config.problems[0].why}",
            )
        uuid = config.uuid or self.runtime.uuid_of(veid)
        return spec_from_config(config.values, veid, uuid, config.title)


class Simple(Executor[OpT]):
    """One vzctl run whose arguments do not depend on the config."""

    COMMAND: ClassVar[tuple[str, ...]] = ()
    TIMEOUT: ClassVar[str] = "default"

    async def run(self, op: OpT, ctx: JobContext) -> dict[str, Any] | None:
        command, *extra = self.COMMAND
        ctx.progress(10, command)
        await self.vzctl(self.TIMEOUT, command, str(op.veid), *extra)
        if command in ("stop", "restart"):
            self.runtime.set_paused(op.veid, False)
        return None


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


class Update(Executor[OpT]):
    """A change planned against the config as it is when the job runs: `wanted`
    gives the spec after the change, plan_update the `vzctl set` options that
    differ. `check` plans once against the config as it is at submit, so what
    this host can never honour is refused before the job is journaled."""

    SETTLES = ""

    def wanted(self, op: OpT, current: ContainerSpec) -> ContainerSpec:
        raise NotImplementedError

    def plan(self, op: OpT, current: ContainerSpec) -> list[str]:
        return plan_update(current, self.wanted(op, current), vswap=self.runtime.vswap)

    def check(self, op: OpT) -> OpT:
        self.check_values(op)
        self.plan(op, self.current_spec(op.veid))
        return op

    def check_values(self, op: OpT) -> None:
        """The grammar of the operation's values, independent of the container."""

    async def run(self, op: OpT, ctx: JobContext) -> dict[str, Any] | None:
        ctx.progress(10, "plan")
        args = self.plan(op, self.current_spec(op.veid))
        if not args:
            ctx.progress(100, NOTHING_TO_CHANGE)
            return {"changed": False, "step": NOTHING_TO_CHANGE}
        ctx.progress(50, "set")
        await self.vzctl("set", "set", str(op.veid), *args, "--save", secrets=op.secrets)
        return {"changed": True}


class SetMemoryExecutor(Update[ops.SetMemory]):
    def check_values(self, op: ops.SetMemory) -> None:
        if op.memory_kib < 1024:
            raise bad_argument("memory must be at least 1024 KiB")

    def wanted(self, op: ops.SetMemory, current: ContainerSpec) -> ContainerSpec:
        # The same mapping as memtune: --ram on a VSwap host, --privvmpages on UBC.
        return with_memory(current, hard_kib=op.memory_kib)


class SetMemoryParametersExecutor(Update[ops.SetMemoryParameters]):
    def check_values(self, op: ops.SetMemoryParameters) -> None:
        values = (
            op.hard_limit_kib,
            op.soft_limit_kib,
            op.swap_hard_limit_kib,
            op.min_guarantee_kib,
        )
        if all(value is None for value in values):
            raise bad_argument("give at least one memory parameter to change")
        if op.hard_limit_kib is not None and op.hard_limit_kib < 1024:
            raise bad_argument("the hard limit must be at least 1024 KiB")
        if any(value is not None and value < 0 for value in values):
            raise bad_argument("memory parameters are sizes in KiB, 0 or more")

    def wanted(self, op: ops.SetMemoryParameters, current: ContainerSpec) -> ContainerSpec:
        return with_memory(
            current,
            hard_kib=op.hard_limit_kib,
            soft_kib=op.soft_limit_kib,
            swap_hard_kib=op.swap_hard_limit_kib,
            min_guarantee_kib=op.min_guarantee_kib,
        )


class SetVcpusExecutor(Update[ops.SetVcpus]):
    def check_values(self, op: ops.SetVcpus) -> None:
        if not 1 <= op.vcpus <= MAX_VCPUS:
            raise bad_argument(f"vcpus must be 1..{MAX_VCPUS}, not {op.vcpus}")

    def wanted(self, op: ops.SetVcpus, current: ContainerSpec) -> ContainerSpec:
        return dataclasses.replace(current, vcpus=op.vcpus)


class SetHostnameExecutor(Update[ops.SetHostname]):
    def check_values(self, op: ops.SetHostname) -> None:
        validate_hostname(op.hostname)

    def wanted(self, op: ops.SetHostname, current: ContainerSpec) -> ContainerSpec:
        return dataclasses.replace(current, hostname=op.hostname)


class SetNameserversExecutor(Update[ops.SetNameservers]):
    def check_values(self, op: ops.SetNameservers) -> None:
        for server in op.nameservers:
            validate_ip(server)
        for domain in op.search_domains:
            validate_hostname(domain)
        if not op.nameservers and not op.search_domains:
            raise bad_argument("give nameservers or search domains")

    def wanted(self, op: ops.SetNameservers, current: ContainerSpec) -> ContainerSpec:
        return dataclasses.replace(
            current,
            nameservers=list(op.nameservers) or current.nameservers,
            search_domains=list(op.search_domains) or current.search_domains,
        )


class SetAutostartExecutor(Update[ops.SetAutostart]):
    """ONBOOT is no part of a ContainerSpec: compared with the config directly."""

    def plan(self, op: ops.SetAutostart, current: ContainerSpec) -> list[str]:
        values = read_config(self.runtime.paths.ct_conf(op.veid)).values
        onboot = values.get("ONBOOT", "no").lower() == "yes"
        if onboot == op.autostart:
            return []
        return ["--onboot", "yes" if op.autostart else "no"]


class SetUserPasswordExecutor(Update[ops.SetUserPassword]):
    """vzctl takes the password on its command line (docs/secrets.md); it is
    revealed only into that argv, and the runner hides it everywhere it shows one."""

    def check_values(self, op: ops.SetUserPassword) -> None:
        if not USER_NAME.match(op.user):
            raise bad_argument(
                f"{op.user!r} is not a user name (a letter or '_', then letters, digits, "
                "'_' or '-', at most 32)"
            )
        password = op.password.reveal()
        # Messages name the rule, never the value.
        validate_text(password, "the password")
        if not password or ":" in password:
            raise bad_argument("the password must be non-empty and without ':'")

    def check(self, op: ops.SetUserPassword) -> ops.SetUserPassword:
        self.check_values(op)
        return op

    def plan(self, op: ops.SetUserPassword, current: ContainerSpec) -> list[str]:
        return ["--userpasswd", f"{op.user}:{op.password.reveal()}"]


class DeviceExecutor(Update[ops.AttachDevice]):
    """attach-*, detach-* and update-* of one device, planned at run time: an
    attached interface gets the next free guest name (eth0, eth1, ...) and, when
    the XML gives no <mac>, a MAC picked then."""

    UPDATE: ClassVar[bool] = False

    def check(self, op: ops.AttachDevice) -> ops.AttachDevice:
        kind = device_kind(op.device_xml, op.veid, update=self.UPDATE)
        return dataclasses.replace(op, kind=kind)


class AttachDeviceExecutor(DeviceExecutor):
    def plan(self, op: ops.AttachDevice, current: ContainerSpec) -> list[str]:
        return device_args(op.device_xml, current, attach=True)


class DetachDeviceExecutor(DeviceExecutor):
    def plan(self, op: ops.AttachDevice, current: ContainerSpec) -> list[str]:
        return device_args(op.device_xml, current, attach=False)


class UpdateDeviceExecutor(DeviceExecutor):
    UPDATE = True

    def wanted(self, op: ops.AttachDevice, current: ContainerSpec) -> ContainerSpec:
        return update_device_spec(op.device_xml, current)


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
