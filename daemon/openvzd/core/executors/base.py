"""The executor's shape: check() at submit, run() at the front of the lane.
See the package's docstring."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from openvzd.core import ops
from openvzd.core.secret import Secret
from openvzd.jobs import JobContext
from openvzd.vz.conffile import read_config
from openvzd.vz.errors import ErrorKind, OpenvzError
from openvzd.vz.plan import plan_update
from openvzd.vz.spec import ContainerSpec, spec_from_config

if TYPE_CHECKING:
    from openvzd.core.executors import Executors

NOTHING_TO_CHANGE = "nothing to change"

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
