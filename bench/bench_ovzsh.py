"""ovzsh's start-up, as a whole process, against `python -c 'import grpc'` in the same run.

    .venv/bin/python bench/bench_ovzsh.py [--runs N] [--counts 10,1000]

For each container count: a fresh vzsim host with that many containers, a real
`openvzd --simulate` serving it, then N runs each (interleaved, so both see the
same noise) of `ovzsh list --all` and of the bare `python -c 'import grpc'`.
Bytecode is cached in a scratch PYTHONPYCACHEPREFIX (as `pip install` compiles an
installed package), overriding PYTHONDONTWRITEBYTECODE; --no-bytecode measures
with every module compiled at each start instead.
Prints best and median wall time of each and the ratios; the goals are
`list --all` with 1,000 containers within 0.25 s and with 10 containers within
1.5x of the bare grpc import.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.daemon_process import BIN, start_daemon

GOAL_1000_SECONDS = 0.25
GOAL_RATIO_10 = 1.5


def wall_time(argv: Sequence[str], env: dict[str, str]) -> tuple[float, bytes]:
    began = time.perf_counter()
    result = subprocess.run(argv, capture_output=True, env=env, check=True, timeout=60)
    return time.perf_counter() - began, result.stdout


def measure(count: int, runs: int, bytecode: bool) -> tuple[list[float], list[float]]:
    with tempfile.TemporaryDirectory() as scratch:
        env = {**os.environ, "GRPC_VERBOSITY": "NONE"}
        if bytecode:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = str(Path(scratch) / "pycache")
        sim = Path(scratch) / "sim"
        host = str(sim / "host")
        subprocess.run([str(BIN / "vzsim"), "init", host], check=True, capture_output=True)
        subprocess.run(
            [str(BIN / "vzsim"), "populate", host, "--count", str(count), "--running", "1"],
            check=True,
            capture_output=True,
            timeout=600,
        )
        daemon = start_daemon(sim, timeout=300)
        try:
            uri = f"openvz+unix:///system?socket={daemon.rw_socket}"
            ovzsh = [str(BIN / "ovzsh"), "-c", uri, "list", "--all"]
            bare = [sys.executable, "-c", "import grpc"]
            _, listing = wall_time(ovzsh, env)  # warm the page cache once, and check it
            lines = listing.decode().splitlines()
            if len([line for line in lines if line.strip()]) != count + 2:
                raise SystemExit(f"ovzsh list --all printed {len(lines)} lines for {count} CTs")
            wall_time(bare, env)
            ovzsh_times, bare_times = [], []
            for _ in range(runs):
                ovzsh_times.append(wall_time(ovzsh, env)[0])
                bare_times.append(wall_time(bare, env)[0])
        finally:
            daemon.stop()
    return ovzsh_times, bare_times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--counts", default="10,1000")
    parser.add_argument("--no-bytecode", action="store_true", help="no cached bytecode")
    args = parser.parse_args()
    print(
        f"{'containers':>10}  {'ovzsh best':>10}  {'median':>8}  {'import grpc best':>16}  "
        f"{'median':>8}  {'ratio best':>10}  {'ratio median':>12}  goal"
    )
    for count in (int(c) for c in args.counts.split(",")):
        ovzsh_times, bare_times = measure(count, args.runs, not args.no_bytecode)
        best, median = min(ovzsh_times), statistics.median(ovzsh_times)
        bare_best, bare_median = min(bare_times), statistics.median(bare_times)
        if count >= 1000:
            goal = f"median {'<=' if median <= GOAL_1000_SECONDS else '>'} {GOAL_1000_SECONDS} s"
        else:
            ratio = median / bare_median
            goal = f"ratio {'<=' if ratio <= GOAL_RATIO_10 else '>'} {GOAL_RATIO_10}"
        print(
            f"{count:>10}  {best * 1e3:>8.1f}ms  {median * 1e3:>6.1f}ms  "
            f"{bare_best * 1e3:>14.1f}ms  {bare_median * 1e3:>6.1f}ms  "
            f"{best / bare_best:>10.2f}  {median / bare_median:>12.2f}  {goal}"
        )


if __name__ == "__main__":
    main()
