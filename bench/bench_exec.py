"""Exec through the daemon against vzsim's bare `vzctl exec2`, in one run.

    .venv/bin/python bench/bench_exec.py [--runs N] [--megabytes M]

A fresh vzsim host with CT 101 running and a real `openvzd --simulate` serving it.
Latency, interleaved runs (so all see the same noise), best and median wall time:
  * bare:   ROOT/usr/sbin/vzctl exec2 101 true   (the simulated host's own vzctl)
  * ovzsh:  ovzsh exec 101 -- true               (a whole new ovzsh process, on the
            local exec channel), as `make install` puts it (staged in a scratch
            folder: what users run) and from the dev venv (whose editable
            install's import hook makes every Python start slower)
  * python: python -c pass, of each of the two   (a Python process's own start)
  * import: python -c 'import grpc'              (what a gRPC client process pays first)
  * call:   dom.exec(["true"]).wait() from a client already connected (Domains.Exec)
The goal is the installed ovzsh's overhead over bare within 20 ms: the median of
the paired differences of each round. Its share that is the Python start, the dev
venv's figure and the gRPC call's own overhead are printed beside it.
Throughput: M MiB through the installed `ovzsh exec 101 -- cat` over the unix socket (stdin fed
and stdout counted by this process), and through the library's session in process;
the goal is at least 50 MB/s. Bytecode is cached in a scratch PYTHONPYCACHEPREFIX,
as an installed package has it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import openvz

from tests.daemon_process import BIN
from tests.sessions_host import session_daemon

TOP = Path(__file__).resolve().parent.parent
GOAL_OVERHEAD_SECONDS = 0.020
GOAL_MEGABYTES_PER_SECOND = 50.0
BLOCK = 1024 * 1024


def wall_time(argv: Sequence[str], env: dict[str, str]) -> float:
    began = time.perf_counter()
    subprocess.run(argv, capture_output=True, env=env, check=True, timeout=60)
    return time.perf_counter() - began


def timed(action: Callable[[], object]) -> float:
    began = time.perf_counter()
    action()
    return time.perf_counter() - began


def pipe_through(argv: Sequence[str], env: dict[str, str], megabytes: int) -> float:
    """MB/s of megabytes MiB written to argv's stdin and read back from its stdout."""
    process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
    assert process.stdin is not None and process.stdout is not None
    block = b"\0" * BLOCK
    stdin = process.stdin

    def feed() -> None:
        for _ in range(megabytes):
            stdin.write(block)
        stdin.close()

    began = time.perf_counter()
    feeder = threading.Thread(target=feed)
    feeder.start()
    received = 0
    while chunk := process.stdout.read1(BLOCK):
        received += len(chunk)
    elapsed = time.perf_counter() - began
    feeder.join()
    if process.wait(timeout=60) != 0 or received != megabytes * BLOCK:
        raise SystemExit(f"{argv} passed {received} of {megabytes * BLOCK} bytes")
    return received / elapsed / 1e6


def library_throughput(conn: openvz.Connection, megabytes: int) -> float:
    run = conn.lookup("101").exec(["cat"])
    block = b"\0" * BLOCK

    def feed() -> None:
        for _ in range(megabytes):
            run.write(block)
        run.close_stdin()

    began = time.perf_counter()
    feeder = threading.Thread(target=feed)
    feeder.start()
    received = sum(len(data) for _, data in run)
    elapsed = time.perf_counter() - began
    feeder.join()
    if received != megabytes * BLOCK or run.exit_status != 0:
        raise SystemExit(f"the library's session passed {received} bytes")
    return received / elapsed / 1e6


def installed_ovzsh(scratch: Path) -> list[str]:
    """ovzsh as `make install` puts it (scripts/install.sh, staged under scratch): its
    own venv with a current pip's entry script and no setuptools .pth. Run through the
    venv's python, as the staged script's first line names where it would live. An
    editable install's import hook costs every Python start in the dev venv ~17 ms of
    site; users do not pay it."""
    stage = scratch / "stage"
    subprocess.run(
        ["make", "--no-print-directory", "install", f"DESTDIR={stage}", "PREFIX=/opt/openvzd"],
        cwd=TOP,
        check=True,
        timeout=900,
        capture_output=True,
    )
    venv = stage / "opt" / "openvzd"
    return [str(venv / "bin" / "python"), str(venv / "bin" / "ovzsh")]


def line(name: str, times: list[float]) -> str:
    best, median = min(times) * 1e3, statistics.median(times) * 1e3
    return f"{name:<34} best {best:7.1f} ms   median {median:7.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--megabytes", type=int, default=256)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        env = {**os.environ, "GRPC_VERBOSITY": "NONE"}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(Path(scratch) / "pycache")
        with session_daemon(Path(scratch) / "sim") as daemon:
            uri = f"openvz+unix:///system?socket={daemon.rw_socket}"
            dev_ovzsh = [str(BIN / "ovzsh"), "-c", uri, "exec", "101", "--", "true"]
            installed = installed_ovzsh(Path(scratch))
            commands = {
                "bare": [daemon.tool("vzctl"), "exec2", "101", "true"],
                "installed": [*installed, *dev_ovzsh[1:]],
                "installed python": [installed[0], "-c", "pass"],
                "dev": dev_ovzsh,
                "dev python": [sys.executable, "-c", "pass"],
                "import": [sys.executable, "-c", "import grpc"],
            }
            with openvz.open(uri) as conn:
                dom = conn.lookup("101")
                # Warm caches and bytecode.
                for argv in commands.values():
                    wall_time(argv, env)
                dom.exec(["true"]).wait()
                times: dict[str, list[float]] = {name: [] for name in (*commands, "call")}
                for _ in range(args.runs):
                    for name, argv in commands.items():
                        times[name].append(wall_time(argv, env))
                    times["call"].append(timed(lambda: dom.exec(["true"]).wait()))
                cat = [*installed, "-c", uri, "exec", "101", "--", "cat"]
                ovzsh_rate = pipe_through(cat, env, args.megabytes)
                library_rate = library_throughput(conn, args.megabytes)
    report(times)
    for name, rate in (("ovzsh exec -- cat", ovzsh_rate), ("library session, cat", library_rate)):
        verdict = ">=" if rate >= GOAL_MEGABYTES_PER_SECOND else "<"
        print(
            f"throughput, {name}, {args.megabytes} MiB: {rate:.0f} MB/s "
            f"({verdict} {GOAL_MEGABYTES_PER_SECOND:.0f} MB/s goal)"
        )


def paired_overhead(times: dict[str, list[float]], name: str) -> float:
    """The median of name's run minus bare's run of the same round: each round's two
    runs see the same noise, which a difference of two medians would carry over."""
    return statistics.median(
        run - bare for run, bare in zip(times[name], times["bare"], strict=True)
    )


def report(times: dict[str, list[float]]) -> None:
    print(line("vzctl exec2 101 true (bare)", times["bare"]))
    print(line("ovzsh exec 101 -- true, installed", times["installed"]))
    print(line("  its python -c pass", times["installed python"]))
    print(line("ovzsh exec 101 -- true, dev venv", times["dev"]))
    print(line("  its python -c pass", times["dev python"]))
    print(line("python -c 'import grpc'", times["import"]))
    print(line("dom.exec(['true']).wait(), warm", times["call"]))
    median = {name: statistics.median(values) for name, values in times.items()}
    goal = f"{GOAL_OVERHEAD_SECONDS * 1e3:.0f} ms goal"
    overhead = paired_overhead(times, "installed")
    verdict = "<=" if overhead <= GOAL_OVERHEAD_SECONDS else ">"
    print(
        f"overhead of ovzsh exec over bare, installed as make install does "
        f"(paired median): {overhead * 1e3:.1f} ms ({verdict} {goal})"
    )
    print(
        f"  of which its Python's start: {median['installed python'] * 1e3:.1f} ms; the rest "
        f"(ovzsh's imports, the daemon): {(overhead - median['installed python']) * 1e3:.1f} ms"
    )
    dev_overhead = paired_overhead(times, "dev")
    print(
        f"  from the dev venv: {dev_overhead * 1e3:.1f} ms, its Python's start "
        f"{median['dev python'] * 1e3:.1f} ms (the editable install's import hook)"
    )
    print(
        f"  a gRPC client process would add import grpc: {median['import'] * 1e3:.1f} ms; "
        f"the gRPC Exec call itself (warm library client - bare): "
        f"{paired_overhead(times, 'call') * 1e3:.1f} ms"
    )


if __name__ == "__main__":
    main()
