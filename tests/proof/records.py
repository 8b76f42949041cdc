"""The two records a proof is checked against: vzsim's log of tool runs and the
daemon's SQLite journal; and the rule that ties them together (every vzctl run
that changes a container belongs to exactly one job, no job runs a command twice).

Lanes serialize the jobs of one container, and a job is journaled RUNNING (with
its start time) before its tool runs and ended after the tool exits, so the run
of a job is the one on its container that began inside the job's time span. A
job interrupted by a crash ends at the next start's recovery, which comes before
the lane runs anything else, so its orphaned run still falls inside its span.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

# The vzctl commands a job of each operation may run (at most once each).
COMMANDS_OF_OPERATION: dict[str, frozenset[str]] = {
    "start": frozenset({"start"}),
    "destroy": frozenset({"stop"}),
    "shutdown": frozenset({"stop"}),
    "reboot": frozenset({"restart"}),
    # create, the settings, and the roll-back's destroy when a later step failed
    "define": frozenset({"create", "set", "destroy"}),
    "create": frozenset({"create", "set", "start", "destroy"}),
    "undefine": frozenset({"umount", "destroy"}),
    "set": frozenset({"set"}),  # a journal of openvzd before jobs carried intent
    "suspend": frozenset({"chkpnt"}),
    "resume": frozenset({"chkpnt"}),
}
# Planned when they run: one `vzctl set`, or none when there is nothing to change.
SET_OPERATIONS = (
    "set-memory",
    "set-memory-parameters",
    "set-vcpus",
    "set-autostart",
    "set-hostname",
    "set-nameservers",
    "set-user-password",
    "attach-interface",
    "attach-ip",
    "detach-interface",
    "detach-ip",
    "update-interface",
    "update-ip",
    "update-filesystem",
)
COMMANDS_OF_OPERATION.update({name: frozenset({"set"}) for name in SET_OPERATIONS})
# The command that does a job's work: a SUCCEEDED job ran it exactly once, with exit 0.
MAIN_COMMAND = {
    "start": "start",
    "destroy": "stop",
    "shutdown": "stop",
    "reboot": "restart",
    "define": "create",
    "undefine": "destroy",
    "set": "set",
}
LANE_COMMANDS = frozenset().union(*COMMANDS_OF_OPERATION.values())
VZCTL_LOCKED_EXIT = 9
FINAL_STATES = frozenset({"succeeded", "failed", "cancelled", "interrupted"})


@dataclass(frozen=True, slots=True)
class ToolRun:
    pid: int
    tool: str
    argv: tuple[str, ...]
    t_start: float
    t_end: float | None  # None: the run was killed (only its start line exists)
    exit: int | None

    @property
    def command(self) -> str:
        """vzctl's command word: the first argument that is not a global option."""
        words = [a for a in self.argv[1:] if not a.startswith("-")]
        return words[0] if words else ""

    @property
    def ctid(self) -> int | None:
        words = [a for a in self.argv[1:] if not a.startswith("-")]
        return int(words[1]) if len(words) > 1 and words[1].isdigit() else None

    def __str__(self) -> str:
        return f"{' '.join(self.argv)} (pid {self.pid}, exit {self.exit})"


@dataclass(frozen=True, slots=True)
class JournalJob:
    seq: int
    id: str
    operation: str
    veid: int
    state: str
    started: float | None
    finished: float | None
    error_kind: str

    def spans(self, moment: float) -> bool:
        return (
            self.started is not None
            and self.started <= moment
            and (self.finished is None or moment <= self.finished)
        )


@dataclass(slots=True)
class Reconciliation:
    """Which job each container-changing vzctl run belongs to, and what does not fit."""

    runs_of_job: dict[str, list[ToolRun]] = field(default_factory=lambda: defaultdict(list))
    problems: list[str] = field(default_factory=list)

    def effective_runs(
        self, veid: int, jobs: Iterable[JournalJob]
    ) -> list[tuple[JournalJob, ToolRun]]:
        """The runs that changed veid (exit 0), with their jobs, in the order they ran."""
        found = [
            (job, run)
            for job in jobs
            if job.veid == veid
            for run in self.runs_of_job.get(job.id, [])
            if run.exit == 0
        ]
        return sorted(found, key=lambda pair: pair[1].t_start)


def tool_runs(host_root: Path, tool: str = "vzctl") -> list[ToolRun]:
    """Every run of tool in ROOT/.vzsim/runs.log, joined from its start and end lines."""
    started: dict[tuple[int, float], dict[str, object]] = {}
    ended: dict[tuple[int, float], dict[str, object]] = {}
    log = host_root / ".vzsim" / "runs.log"
    for line in log.read_text().splitlines():
        record = json.loads(line)
        if record.get("tool") != tool:
            continue
        key = (int(record["pid"]), float(record["t_start"]))
        (ended if record["event"] == "end" else started)[key] = record
    runs = []
    for key, record in started.items():
        end = ended.get(key)
        runs.append(
            ToolRun(
                pid=key[0],
                tool=tool,
                argv=tuple(str(a) for a in record["argv"]),  # type: ignore[attr-defined]
                t_start=key[1],
                t_end=None if end is None else float(end["t_end"]),  # type: ignore[arg-type]
                exit=None if end is None else int(end["exit"]),  # type: ignore[call-overload]
            )
        )
    return sorted(runs, key=lambda run: run.t_start)


def journal_jobs(sim_dir: Path) -> list[JournalJob]:
    """Every job in the daemon's journal (live table and archive), oldest first."""
    path = sim_dir / "state" / "jobs.sqlite"
    if not path.exists():
        return []  # the daemon died before it made its journal
    with sqlite3.connect(path) as db:
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master")}
        if not {"jobs", "archive"} <= tables:
            return []
        rows = db.execute(
            "SELECT seq, id, operation, veid, state, started, finished, error FROM jobs"
        ).fetchall()
        archived = db.execute("SELECT record FROM archive").fetchall()
    jobs = [
        JournalJob(seq, job_id, op, veid, state, started, finished, _error_kind(error))
        for seq, job_id, op, veid, state, started, finished, error in rows
    ]
    for (record,) in archived:
        data = json.loads(record)
        jobs.append(
            JournalJob(
                0,
                data["id"],
                data["operation"],
                data["veid"],
                data["state"],
                data["started"],
                data["finished"],
                "",
            )
        )
    return sorted(jobs, key=lambda job: (job.started or float("inf"), job.seq))


def _error_kind(error: str | None) -> str:
    return str(json.loads(error)["kind"]) if error else ""


def reconcile(runs: Iterable[ToolRun], jobs: Iterable[JournalJob]) -> Reconciliation:
    """Tie every container-changing vzctl run to the one job whose span holds its start."""
    result = Reconciliation()
    by_veid: dict[int, list[JournalJob]] = defaultdict(list)
    jobs = list(jobs)
    for job in jobs:
        by_veid[job.veid].append(job)
    for run in runs:
        if run.command not in LANE_COMMANDS or run.ctid is None:
            continue  # `vzctl --version`, `status`: reads, no job needed
        if run.exit == VZCTL_LOCKED_EXIT:
            result.problems.append(f"{run} met the container lock")
        owners = [job for job in by_veid.get(run.ctid, []) if job.spans(run.t_start)]
        if len(owners) != 1:
            result.problems.append(f"{run} belongs to {len(owners)} jobs: {[j.id for j in owners]}")
            continue
        owner = owners[0]
        if run.command not in COMMANDS_OF_OPERATION.get(owner.operation, frozenset()):
            result.problems.append(f"{run} is not a step of {owner.operation} job {owner.id}")
        result.runs_of_job[owner.id].append(run)
    for job in jobs:
        commands = Counter(run.command for run in result.runs_of_job.get(job.id, []))
        twice = sorted(c for c, n in commands.items() if n > 1)
        if twice:
            result.problems.append(f"job {job.id} ({job.operation}) ran {twice} more than once")
        main = MAIN_COMMAND.get(job.operation)
        if job.state == "succeeded" and main is not None:
            ok = [r for r in result.runs_of_job.get(job.id, []) if r.command == main]
            if len(ok) != 1 or ok[0].exit != 0:
                result.problems.append(
                    f"job {job.id} ({job.operation} {job.veid}) succeeded "
                    f"without one clean vzctl {main}: {[str(r) for r in ok]}"
                )
    return result


def running_veids(host_root: Path) -> set[int]:
    """The simulated kernel's view: the containers in /proc/vz/veinfo (CT0 is the host)."""
    text = (host_root / "proc" / "vz" / "veinfo").read_text()
    return {int(line.split()[0]) for line in text.splitlines() if line.split()} - {0}


def set_knobs(host_root: Path, knobs: Mapping[str, object]) -> None:
    (host_root / ".vzsim" / "knobs.json").write_text(json.dumps(knobs))
