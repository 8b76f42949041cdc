"""The local flood of issue 13 item 3, as processes of other uids, for
bench/bench_flood.py and the local-DoS soak profile.

A flooder process becomes its uid before it connects (the daemon sees that uid
from the kernel) and holds, until its stdin closes: up to N idle connections,
W event watches that never read (over channels of 60 streams), and L loops of
Host.Check. It prints what the daemon admitted. A measurer process, as another
uid, times Domains.List on the read-only socket (50 calls a second, under the
per-caller rate) and prints the samples' p50.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from tests.daemon_process import DaemonProcess, running_daemon

NOBODY = 65534
MEASURER_UID = 1  # "daemon" on Debian: neither root nor the flooder

FLOODER = r"""
import json, os, socket, sys, threading, time
import grpc
from openvz.v1 import events_pb2, events_pb2_grpc, host_pb2, host_pb2_grpc
uid, path, idle, watches, loops = (int(sys.argv[1]), sys.argv[2], *map(int, sys.argv[3:6]))
if uid:
    os.setgid(uid)
    os.setuid(uid)
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes.fromhex("000000040000000000")
held, channels, streams = [], [], []
# Its places are spent in the order that hurts most: one connection for the
# check loops, then the watchers, then idle connections for whatever is left.
OPTIONS = [("grpc.use_local_subchannel_pool", 1)]
check_channel = grpc.insecure_channel("unix:" + path, options=OPTIONS)
checks, refused_checks = [0], [0]
stop = threading.Event()
def check_loop():
    stub = host_pb2_grpc.HostStub(check_channel)
    while not stop.is_set():
        try:
            stub.Check(host_pb2.CheckRequest(), timeout=30)
            checks[0] += 1
        except grpc.RpcError:
            refused_checks[0] += 1
            time.sleep(0.05)
threads = [threading.Thread(target=check_loop, daemon=True) for _ in range(loops)]
for t in threads:
    t.start()
for i in range(0, watches, 60):
    channel = grpc.insecure_channel("unix:" + path, options=[("grpc.use_local_subchannel_pool", 1)])
    channels.append(channel)
    stub = events_pb2_grpc.EventsStub(channel)
    for _ in range(min(60, watches - i)):
        # Never read: grpc buffers a little, then the daemon's writes wait.
        streams.append(stub.Watch(events_pb2.WatchRequest(include_jobs=True), timeout=3600))
time.sleep(1)
for _ in range(idle):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    try:
        s.sendall(PREFACE)
    except OSError:
        pass
    held.append(s)
time.sleep(2)
open_idle = 0
for s in held:
    s.settimeout(0.2)
    try:
        while s.recv(65536):
            pass
    except TimeoutError:
        open_idle += 1
    except OSError:
        pass
open_watches = sum(1 for s in streams if not s.done())
print(json.dumps({"idle_admitted": open_idle, "idle_tried": idle,
                  "watches_open": open_watches, "watches_tried": watches}), flush=True)
sys.stdin.read()
stop.set()
print(json.dumps({"checks": checks[0], "checks_refused": refused_checks[0]}), flush=True)
os._exit(0)
"""

MEASURER = r"""
import os, statistics, sys, time
import grpc
from openvz.v1 import domains_pb2, domains_pb2_grpc
uid, path, count = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
os.setgid(uid)
os.setuid(uid)
with grpc.insecure_channel("unix:" + path) as channel:
    stub = domains_pb2_grpc.DomainsStub(channel)
    stub.List(domains_pb2.ListDomainsRequest(), timeout=30)
    samples = []
    for _ in range(count):
        began = time.perf_counter()
        stub.List(domains_pb2.ListDomainsRequest(), timeout=30)
        samples.append(time.perf_counter() - began)
        # 50 calls a second: under [limits] max_call_rate_per_caller, so what is
        # measured is latency, not the rate limit.
        time.sleep(max(0.0, 0.02 - samples[-1]))
print(statistics.median(samples))
"""


@contextlib.contextmanager
def flood_daemon(config: str = "", containers: int = 100) -> Iterator[DaemonProcess]:
    """A daemon whose sockets other uids can reach, with `containers` containers."""
    scratch = Path(tempfile.mkdtemp(prefix="openvzd-flood-"))
    scratch.chmod(0o755)
    sim = scratch / "sim"
    sim.mkdir()
    (sim / "openvzd.toml").write_text(config)
    try:
        with running_daemon(sim) as daemon:
            if containers:
                daemon.vzsim(
                    "populate",
                    str(daemon.host_root),
                    "--count",
                    str(containers),
                    "--first-id",
                    "1000",
                )
                time.sleep(3)  # the monitor's next look loads them
            yield daemon
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def list_p50(daemon: DaemonProcess, count: int = 200, uid: int = MEASURER_UID) -> float:
    """Domains.List p50, in seconds, of a client of uid on the read-only socket."""
    out = subprocess.run(
        [sys.executable, "-c", MEASURER, str(uid), str(daemon.ro_socket), str(count)],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
        env={**os.environ, "GRPC_VERBOSITY": "NONE"},
    )
    return float(out.stdout)


@contextlib.contextmanager
def flooding(
    daemon: DaemonProcess,
    uid: int = NOBODY,
    *,
    idle: int = 256,
    watches: int = 3200,
    check_loops: int = 64,
    read_only: bool = True,
) -> Iterator[dict[str, int]]:
    """A flooder process of uid for the duration; yields what the daemon admitted
    and, once it has ended, how many checks it made."""
    socket = daemon.ro_socket if read_only else daemon.rw_socket
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            FLOODER,
            str(uid),
            str(socket),
            str(idle),
            str(watches),
            str(check_loops),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "GRPC_VERBOSITY": "NONE"},
    )
    try:
        assert process.stdout is not None and process.stdin is not None
        figures: dict[str, int] = json.loads(process.stdout.readline())
        yield figures
        process.stdin.close()
        figures.update(json.loads(process.stdout.readline() or "{}"))
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)
