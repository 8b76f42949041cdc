"""libvirt clients through openvzd's libvirt front-end, against libvirt's own
OpenVZ driver's cost, measured in the same run.

    .venv/bin/python bench/bench_libvirt.py [--runs N] [--counts 10,1000]

For each container count, on a vzsim host served by `openvzd --simulate`:
- `virsh list --all` through openvzd (openvz+unix, the libvirt front-end);
- `ovzsh list --all` through openvzd (gRPC), for comparison;
- libvirt 9.0's driver's cost model: the driver reads each domain's state with
  its own `vzlist CTID -ostatus -H` run (once per container, after one
  `vzlist -a` when it loads), so `virsh list --all` costs one vzlist process per
  container. The model runs vzsim's vzlist exactly that way. vzsim's vzlist is a
  Python program, slower to start than the real C vzlist, so this baseline is
  higher than on a real host: read the ratio with that in mind;
- libvirt-python (Debian's /usr/bin/python3): listAllDomains() and info() of
  each domain, timed inside one process (after open).

Goal: virsh through openvzd at least 15x faster than the driver's model at
1,000 containers, and no slower at 10.
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

GOAL_RATIO_1000 = 15.0
FIRST_ID = 1000  # vzsim populate's first container ID

PYTHON_CLIENT = r"""
import sys, time, libvirt
conn = libvirt.open(sys.argv[1])
began = time.perf_counter()
domains = conn.listAllDomains(0)
infos = [d.info() for d in domains]
elapsed = time.perf_counter() - began
assert all(len(i) == 5 for i in infos)
print(len(domains), elapsed)
"""


def wall_time(argv: Sequence[str], env: dict[str, str]) -> tuple[float, str]:
    began = time.perf_counter()
    result = subprocess.run(argv, capture_output=True, text=True, env=env, check=True, timeout=600)
    return time.perf_counter() - began, result.stdout


def driver_model(vzlist: str, count: int, env: dict[str, str]) -> float:
    """One `vzlist -a` and then one `vzlist CTID -ostatus -H` per container."""
    began = time.perf_counter()
    subprocess.run([vzlist, "-a", "-ovpsid,status", "-H"], check=True, capture_output=True, env=env)
    for veid in range(FIRST_ID, FIRST_ID + count):
        subprocess.run(
            [vzlist, str(veid), "-ostatus", "-H"], check=True, capture_output=True, env=env
        )
    return time.perf_counter() - began


def measure(count: int, runs: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as scratch:
        env = {**os.environ, "GRPC_VERBOSITY": "NONE", "LC_ALL": "C"}
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
            socket = sim / "run" / "libvirt" / "virtopenvzd-sock"
            virsh = ["virsh", "-c", f"openvz+unix:///system?socket={socket}", "list", "--all"]
            ovzsh_uri = f"openvz+unix:///system?socket={daemon.rw_socket}"
            ovzsh = [str(BIN / "ovzsh"), "-c", ovzsh_uri, "list", "--all"]
            _, listing = wall_time(virsh, env)  # warm up once, and check the answer
            rows = [line for line in listing.splitlines()[2:] if line.strip()]
            if len(rows) != count:
                raise SystemExit(f"virsh list --all printed {len(rows)} rows for {count} CTs")
            wall_time(ovzsh, env)
            virsh_times, ovzsh_times, python_times = [], [], []
            for _ in range(runs):
                virsh_times.append(wall_time(virsh, env)[0])
                ovzsh_times.append(wall_time(ovzsh, env)[0])
                _, out = wall_time(
                    [
                        "/usr/bin/python3",
                        "-c",
                        PYTHON_CLIENT,
                        f"openvz+unix:///system?socket={socket}",
                    ],
                    env,
                )
                listed, seconds = out.split()
                if int(listed) != count:
                    raise SystemExit(f"libvirt-python listed {listed} of {count} CTs")
                python_times.append(float(seconds))
            model_runs = runs if count <= 100 else 1
            model = [driver_model(daemon.tool("vzlist"), count, env) for _ in range(model_runs)]
        finally:
            daemon.stop()
    return {
        "virsh": statistics.median(virsh_times),
        "ovzsh": statistics.median(ovzsh_times),
        "python": statistics.median(python_times),
        "model": statistics.median(model),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--counts", default="10,1000")
    args = parser.parse_args()
    print(
        f"{'containers':>10}  {'virsh list':>10}  {'ovzsh list':>10}  "
        f"{'driver model':>12}  {'model/virsh':>11}  {'py list+info':>12}  goal"
    )
    for count in (int(c) for c in args.counts.split(",")):
        m = measure(count, args.runs)
        ratio = m["model"] / m["virsh"]
        if count >= 1000:
            goal = f"ratio {'>=' if ratio >= GOAL_RATIO_1000 else '<'} {GOAL_RATIO_1000}"
        else:
            goal = f"{'no slower' if ratio >= 1.0 else 'SLOWER'} than the driver"
        print(
            f"{count:>10}  {m['virsh'] * 1e3:>8.1f}ms  {m['ovzsh'] * 1e3:>8.1f}ms  "
            f"{m['model'] * 1e3:>10.1f}ms  {ratio:>11.1f}  {m['python'] * 1e3:>10.1f}ms  {goal}"
        )


if __name__ == "__main__":
    main()
