"""A local flood by one uid against another uid's List latency (issue 13 item 3).

    .venv/bin/python bench/bench_flood.py [--quick]      (as root: clients change uid)

In one run, against one `openvzd --simulate` with 100 containers and the
documented [limits]: a client of uid 1 measures Domains.List p50 on the
read-only socket quiet, then while `nobody` floods (256 idle connections, 3,200
event watchers that never read, 64 loops of Host.Check) and root runs start/stop
jobs so events flow, then while root itself (not capped per uid) holds 3,200
non-reading watchers. Prints each p50, its ratio to the quiet one (target: ≤ 2),
the job time in each phase, and what the daemon admitted of the flood.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from openvz.v1 import common_pb2, domains_pb2, domains_pb2_grpc

from tests.daemon.flood import flood_daemon, flooding, list_p50
from tests.daemon_process import DaemonProcess


@contextlib.contextmanager
def job_loop(daemon: DaemonProcess, veid: int = 1000) -> Iterator[list[float]]:
    """Root starts and stops one container over and over; yields the job times."""
    times: list[float] = []
    stop = threading.Event()

    def run() -> None:
        with daemon.channel() as channel:
            stub = domains_pb2_grpc.DomainsStub(channel)
            call = domains_pb2.DomainCall(
                domain=common_pb2.DomainRef(id=veid),
                options=common_pb2.JobOptions(wait_timeout_seconds=60),
            )
            while not stop.is_set():
                for method in (stub.Start, stub.Destroy):
                    began = time.perf_counter()
                    try:
                        reply = method(call, timeout=90)
                    except grpc.RpcError:
                        continue
                    if reply.job.state == common_pb2.JOB_STATE_SUCCEEDED:
                        times.append(time.perf_counter() - began)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield times
    finally:
        stop.set()
        thread.join(timeout=120)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer samples")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench_flood needs root: its clients run as other uids")
    count = 100 if args.quick else 300
    rows: list[tuple[str, str, str]] = []
    with flood_daemon() as daemon:
        quiet = list_p50(daemon, count)
        with job_loop(daemon) as quiet_jobs:
            time.sleep(3)
        rows.append(("List p50, quiet (uid 1, ro)", f"{quiet * 1e3:.2f} ms", "baseline"))
        with flooding(daemon) as admitted, job_loop(daemon) as flood_jobs:
            flooded = list_p50(daemon, count)
        rows.append(
            (
                "List p50, nobody floods",
                f"{flooded * 1e3:.2f} ms",
                f"{flooded / quiet:.2f}x quiet (target <= 2)",
            )
        )
        rows.append(
            (
                "  flood admitted",
                f"{admitted['idle_admitted']}/{admitted['idle_tried']} idle, "
                f"{admitted['watches_open']}/{admitted['watches_tried']} watches",
                f"{admitted.get('checks', 0)} Host.Check answered",
            )
        )
        with (
            flooding(daemon, 0, idle=0, watches=3200, check_loops=0, read_only=False) as root,
            job_loop(daemon) as root_jobs,
        ):
            rooted = list_p50(daemon, count)
        rows.append(
            (
                "List p50, root's 3,200 watchers",
                f"{rooted * 1e3:.2f} ms",
                f"{rooted / quiet:.2f}x quiet ({root['watches_open']} open, events flowing)",
            )
        )
        for label, jobs in (
            ("quiet", quiet_jobs),
            ("nobody floods", flood_jobs),
            ("root's watchers", root_jobs),
        ):
            if jobs:
                rows.append(
                    (
                        f"start/stop job p50, {label}",
                        f"{statistics.median(jobs) * 1e3:.1f} ms",
                        f"{len(jobs)} jobs",
                    )
                )
    width = max(len(r[0]) for r in rows)
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>28}  {note}")


if __name__ == "__main__":
    main()
