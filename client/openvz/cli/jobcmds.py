"""ovzsh's job and event commands: jobs, job-info, job-wait, job-cancel, event."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from openvz.cli.base import JSON, as_dict, command, connect, print_fields, print_json
from openvz.connection import Job, job_state

if TYPE_CHECKING:
    from openvz.v1 import common_pb2, events_pb2

# The narrowest Operation column, so short names (start) still line up as before.
OPERATION_WIDTH = 10

# Our lifecycle kinds in virsh's event words: (event, detail).
LIFECYCLE_WORDS = {
    "DEFINED": ("Defined", "Added"),
    "UNDEFINED": ("Undefined", "Removed"),
    "STARTED": ("Started", "Booted"),
    "STOPPED": ("Stopped", "Shutdown"),
    "PAUSED": ("Suspended", "Paused"),
    "RESUMED": ("Resumed", "Unpaused"),
    "SUSPENDED": ("Stopped", "Saved"),
    "MOUNTED": ("Mounted", "Mounted"),
    "CHANGED": ("Defined", "Updated"),
    "MIGRATED": ("Stopped", "Migrated"),
}


def caller_text(caller: common_pb2.Caller) -> str:
    """Who asked, shortly: `uid 1000` on a unix socket, the DN over TLS, the user
    over SASL or ssh; `-` when the daemon recorded nobody."""
    if caller.transport == "unix" and caller.HasField("uid"):
        return f"uid {caller.uid}"
    if caller.transport == "tls" and caller.name:
        return caller.name
    if caller.name:
        return f"{caller.transport} {caller.name}"
    return caller.transport or "-"


def caller_detail(caller: common_pb2.Caller) -> str:
    """Everything recorded of the caller, for job-info: `unix uid 0 gid 0 pid 4242`."""
    words = [caller.transport or "-"]
    words += [
        f"{field} {getattr(caller, field)}"
        for field in ("uid", "gid", "pid")
        if caller.HasField(field)
    ]
    if caller.name:
        words.append(caller.name)
    if caller.read_only:
        words.append("(read-only)")
    return " ".join(words)


def job_line(job: Job, operation_width: int = OPERATION_WIDTH) -> str:
    m = job.message
    error = f"  {m.error.message}" if m.error.message else ""
    return (
        f" {m.id}  {m.operation:<{operation_width}} {m.veid:>6}  {job.state:<11} "
        f"{m.progress_percent:>3}%  {caller_text(m.caller)}{error}"
    )


def job_header(operation_width: int) -> str:
    return f" {'Id':<32}  {'Operation':<{operation_width}} {'CT':>6}  {'State':<11} Done  Caller"


@command(
    "jobs",
    "recent jobs, newest first",
    [
        (("--domain",), {"type": int, "default": 0, "help": "one container's jobs"}),
        (("--limit",), {"type": int, "default": 20}),
        *JSON,
    ],
)
def cmd_jobs(args: argparse.Namespace) -> None:
    with connect(args) as conn:
        jobs = conn.list_jobs(args.domain, args.limit)
    if args.json:
        print_json([as_dict(j.message) for j in jobs])
        return
    width = max([OPERATION_WIDTH, *(len(j.message.operation) for j in jobs)])
    print(job_header(width))
    for job in jobs:
        print(job_line(job, width))


def print_job(job: Job) -> None:
    m = job.message
    rows: list[tuple[str, object]] = [
        ("Id", m.id),
        ("Operation", m.operation),
        ("Domain", m.veid or "-"),
        ("Caller", caller_detail(m.caller)),
        ("State", job.state),
        (
            "Progress",
            f"{m.progress_percent}%" + (f" ({m.progress_step})" if m.progress_step else ""),
        ),
    ]
    for name in ("created", "started", "finished"):
        if m.HasField(name):
            rows.append((name.capitalize(), getattr(m, name).ToDatetime().isoformat() + "Z"))
    if m.outcome:
        rows.append(("Outcome", m.outcome))
    if m.error.message:
        rows.append(("Error", m.error.message))
    # An interrupted job's error is what recovery found; a recovered one has no error.
    if m.recovery and m.recovery != m.error.message:
        rows.append(("Recovery", m.recovery))
    if m.retries:
        rows.append(("Retries", m.retries))
    if not job.done:
        rows.append(("Cancellable", "yes" if m.cancellable else f"no ({m.not_cancellable_reason})"))
    print_fields(rows, 15)


@command("job-info", "one job", [(("job",), {}), *JSON])
def cmd_job_info(args: argparse.Namespace) -> None:
    with connect(args) as conn:
        job = conn.job(args.job)
    print_json(as_dict(job.message)) if args.json else print_job(job)


@command(
    "job-wait",
    "wait for a job to end; its error is ovzsh's",
    [(("job",), {}), (("--timeout",), {"type": float, "help": "seconds"}), *JSON],
)
def cmd_job_wait(args: argparse.Namespace) -> None:
    from openvz.cli.progress import follow

    with connect(args) as conn:
        job = conn.job(args.job)
        if sys.stdout.isatty() and not args.json and args.timeout is None:
            follow(job, f"{job.message.operation} {job.message.veid}", sys.stdout)
        try:
            job.wait(args.timeout)
        finally:
            print_json(as_dict(job.message)) if args.json else print(job_line(job))


@command("job-cancel", "cancel a job", [(("job",), {}), *JSON])
def cmd_job_cancel(args: argparse.Namespace) -> None:
    with connect(args) as conn:
        job = conn.job(args.job).cancel()
    print_json(as_dict(job.message)) if args.json else print(job_line(job))


def event_line(event: events_pb2.Event, timestamp: bool) -> str:
    from openvz.v1 import events_pb2

    prefix = ""
    if timestamp:  # virsh's form: 2026-12-01 08:29:57.208+0000
        when = event.time.ToDatetime()
        prefix = f"{when:%Y-%m-%d %H:%M:%S}.{when.microsecond // 1000:03d}+0000: "
    if event.HasField("lifecycle"):
        life = event.lifecycle
        kind = events_pb2.LifecycleKind.Name(life.kind).removeprefix("LIFECYCLE_KIND_")
        word, detail = LIFECYCLE_WORDS.get(kind, (kind.capitalize(), ""))
        detail = life.detail.capitalize() or detail
        return f"{prefix}event 'lifecycle' for domain '{life.veid}': {word} {detail}"
    if event.HasField("job"):
        job = event.job
        return (
            f"{prefix}event 'job' for domain '{job.veid}': {job.operation} {job_state(job)} "
            f"{job.progress_percent}%"
        )
    return f"{prefix}event 'gap': {event.gap.missed_count} events missed"


# The domain events openvzd sends, by virsh's names (job is openvzd's own).
EVENT_NAMES = ("lifecycle", "job")
# virsh's other domain event names: known to virsh, never sent for a container.
VIRSH_ONLY_EVENTS = (
    "reboot",
    "rtc-change",
    "watchdog",
    "io-error",
    "graphics",
    "io-error-reason",
    "control-error",
    "block-job",
    "disk-change",
    "tray-change",
    "pmwakeup",
    "pmsuspend",
    "balloon-change",
    "pmsuspend-disk",
    "device-removed",
    "block-job-2",
    "tunable",
    "agent-lifecycle",
    "device-added",
    "migration-iteration",
    "job-completed",
    "device-removal-failed",
    "metadata-change",
    "block-threshold",
    "memory-failure",
    "memory-device-size-change",
)


def event_kinds(name: str | None, include_jobs: bool) -> set[str]:
    """What `event` prints: --event's one kind, else lifecycle (and job with --all)."""
    from openvz.errors import InvalidArgument, NotSupported

    if name is None:
        return {"lifecycle", "job"} if include_jobs else {"lifecycle"}
    if name in EVENT_NAMES:
        return {name, "job"} if include_jobs else {name}
    if name in VIRSH_ONLY_EVENTS:
        raise NotSupported(
            f"openvzd sends no '{name}' events for containers; it sends: {', '.join(EVENT_NAMES)}"
        )
    raise InvalidArgument(f"unknown event type {name}")


@command(
    "event",
    "wait for events and print them (one, or all with --loop)",
    [
        (("--domain",), {"type": int, "help": "one container's events"}),
        (("--loop",), {"action": "store_true", "help": "go on after the first event"}),
        (("--timeout",), {"type": float, "help": "stop after this many seconds"}),
        (("--all",), {"action": "store_true", "help": "job events too"}),
        (("--timestamp",), {"action": "store_true", "help": "prefix each with its time"}),
        (("--event",), {"metavar": "NAME", "help": "only these events (--list names them)"}),
        (("--list",), {"action": "store_true", "help": "the events openvzd sends"}),
        *JSON,
    ],
)
def cmd_event(args: argparse.Namespace) -> None:
    import threading

    if args.list:
        print("\n".join(EVENT_NAMES))
        return
    wanted = event_kinds(args.event, args.all)
    conn = connect(args)
    timed_out = threading.Event()

    def time_out() -> None:
        timed_out.set()
        conn.close()  # ends the stream: the iteration stops

    timer = threading.Timer(args.timeout, time_out) if args.timeout else None
    count = 0
    try:
        if timer is not None:
            timer.start()
        veids = [args.domain] if args.domain else None
        for event in conn.events(include_jobs="job" in wanted, veids=veids):
            if event.HasField("lifecycle") and "lifecycle" not in wanted:
                continue
            count += 1
            print_json(as_dict(event)) if args.json else print(event_line(event, args.timestamp))
            sys.stdout.flush()
            if not args.loop:
                break
    finally:
        if timer is not None:
            timer.cancel()
        conn.close()
    if args.json:
        return
    if timed_out.is_set():
        print("event loop timed out")
    print(f"events received: {count}")
