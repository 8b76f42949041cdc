"""The executor's shape: check() at submit, run() at the front of the lane.
See the package's docstring."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
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


class Verdict(enum.Enum):
    """An operation's postcondition as the host shows it after a crash."""

    HOLDS = "holds"
    NOT_YET = "does not hold"
    UNKNOWABLE = "cannot be read from the host"


@dataclass(frozen=True, slots=True)
class Finding:
    verdict: Verdict
    # What the host shows, in words ("container 101 is running").
    found: str
    # For a job recovery cannot end by itself: what the administrator should do.
    advice: str = ""


class Executor(Generic[OpT]):
    """check() at submit, run() at the front of the lane, for one operation."""

    # The status a successful run leaves: "" keeps the status and only re-reads
    # the config; None reads the container back with vzlist.
    SETTLES: ClassVar[str | None] = None
    # The lifecycle event a successful run means, published even when the model
    # was stale and the read-back showed no change.
    LIFECYCLE: ClassVar[str] = ""
    # Recovery (issue 18): the states (Runtime.state_of) a successful run leaves,
    # read back after a crash; empty when the effect is no state (see postcondition).
    ENDS_IN: ClassVar[frozenset[str]] = frozenset()
    # Whether a run that did not take effect may be run again after a crash.
    REPEATABLE: ClassVar[bool] = False

    def __init__(self, work: Executors) -> None:
        self.work = work
        self.runtime = work.runtime

    def postcondition(self, op: OpT, plan: Mapping[str, Any], started: float) -> Finding:
        """Whether what a run of op does shows on the host now. `plan` is what the
        interrupted run journaled before its tool ran ({} if it got no further);
        `started` when it began (time.time())."""
        if not self.ENDS_IN:
            return Finding(
                Verdict.UNKNOWABLE,
                f"whether {op.job_name} took effect cannot be read from the host",
                f"look at container {op.veid} and submit the change again if it is missing",
            )
        state = self.state_word(op.veid)
        found = f"container {op.veid} is {state}"
        if state in self.ENDS_IN:
            return Finding(Verdict.HOLDS, found)
        if state == "gone":
            return Finding(
                Verdict.UNKNOWABLE, found, "it was undefined meanwhile; nothing is left to do"
            )
        return Finding(Verdict.NOT_YET, found)

    def repeatable(self, op: OpT, finding: Finding) -> bool:
        """Whether op may run again now that `finding` was read (NOT_YET)."""
        return self.REPEATABLE

    async def clean_up(self, op: OpT, plan: Mapping[str, Any]) -> str:
        """Undo what an interrupted run left half made, as its tool does when it
        fails; say what was done ("" when nothing)."""
        return ""

    def state_word(self, veid: int) -> str:
        if veid not in self.runtime.host.containers:
            return "gone"
        return self.runtime.state_of(veid)

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
    # `vzctl set ... --save` again, planned against the config as it is then.
    REPEATABLE = True

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

    def postcondition(self, op: OpT, plan: Mapping[str, Any], started: float) -> Finding:
        """The config holds the change when planning it again finds nothing to do
        (the same mapping the run uses, e.g. memory to --ram or --privvmpages)."""
        try:
            args = self.plan(op, self.current_spec(op.veid))
        except OpenvzError as err:
            return Finding(
                Verdict.UNKNOWABLE,
                f"the change cannot be planned against container {op.veid}'s config now: "
                f"{err.message}",
                "look at the container's config and submit the change again",
            )
        if not args:
            return Finding(Verdict.HOLDS, f"container {op.veid}'s config holds the change")
        return Finding(
            Verdict.NOT_YET,
            f"container {op.veid}'s config does not hold the change yet",
        )

    def record_plan(self, op: OpT, args: list[str], ctx: JobContext) -> None:
        """Journal what this run picked that a later plan would pick differently."""

    async def run(self, op: OpT, ctx: JobContext) -> dict[str, Any] | None:
        ctx.progress(10, "plan")
        args = self.plan(op, self.current_spec(op.veid))
        self.record_plan(op, args, ctx)
        if not args:
            ctx.progress(100, NOTHING_TO_CHANGE)
            return {"changed": False, "step": NOTHING_TO_CHANGE}
        ctx.progress(50, "set")
        await self.vzctl("set", "set", str(op.veid), *args, "--save", secrets=op.secrets)
        return {"changed": True}
