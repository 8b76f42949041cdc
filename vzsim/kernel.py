"""The simulated kernel: which CTs run, and the /proc files that show it (openvz-tools.md §7).

The kernel's memory is ROOT/.vzsim/running.json ({CTID: RunningCT fields}); the /proc
files are rendered from it under the host lock and replaced by rename, so readers always
see a whole file. Counters grow with time: every render computes them from each CT's
start timestamp, and any vzctl/vzlist run (or `vzsim tick`) re-renders when the files
are older than REFRESH_SECONDS.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from vzsim import counters, ubc
from vzsim.host import Host
from vzsim.locking import host_lock, try_host_lock
from vzsim.ubc import LONG_MAX, PROC_ROWS

HZ = 100
REFRESH_SECONDS = 1.0
KERNEL_VERSION = "042stab145.3"


class RunningCT:
    """What the kernel knows of one running CT; `ubc` maps a parameter to [barrier, limit]."""

    def __init__(
        self,
        start: float,
        ips: list[str] | None = None,
        ubc: dict[str, list[int]] | None = None,
        cpuunits: int = 1000,
        cpulimit: int = 0,
        cpus: int = 0,
        veths: list[str] | None = None,
        frozen: bool = False,
    ) -> None:
        self.start = start
        self.ips = ips or []
        self.ubc = ubc or {}
        self.cpuunits = cpuunits
        self.cpulimit = cpulimit
        self.cpus = cpus
        self.veths = veths or []
        self.frozen = frozen

    def to_dict(self) -> dict[str, object]:
        return dict(vars(self))


def running_from_config(
    global_config: dict[str, str], config: dict[str, str], ips: list[str], now: float
) -> RunningCT:
    """What the kernel holds for a CT just started with this config."""
    merged = {**global_config, **config}
    limits = {}
    for param in ubc.KERNEL_PARAMS:
        pair = ubc.config_pair(merged, param)
        if pair is not None:
            limits[param] = [pair[0], pair[1]]
    return RunningCT(
        start=now,
        ips=ips,
        ubc=limits,
        cpuunits=int(merged.get("CPUUNITS") or 1000),
        cpulimit=int(merged.get("CPULIMIT") or 0),
        cpus=int(merged.get("CPUS") or 0),
    )


class Kernel:
    def __init__(self, host: Host) -> None:
        self.host = host
        self.state_file = host.state_dir / "running.json"

    def load(self) -> dict[int, RunningCT]:
        try:
            raw = json.loads(self.state_file.read_text())
        except (FileNotFoundError, ValueError):
            return {}
        return {int(ctid): RunningCT(**entry) for ctid, entry in raw.items()}

    def commit(self, running: dict[int, RunningCT]) -> None:
        """Persist the kernel state and re-render /proc; the caller holds the host lock."""
        payload = {str(ctid): ct.to_dict() for ctid, ct in sorted(running.items())}
        _replace(self.state_file, json.dumps(payload))
        self.render(running)

    def render(self, running: dict[int, RunningCT]) -> None:
        now = time.time()
        vz = self.host.proc_dir / "vz"
        _replace(vz / "veinfo", render_veinfo(running))
        _replace(vz / "vestat", render_vestat(running, now))
        _replace(vz / "veip", render_veip(running))
        _replace(self.host.proc_dir / "user_beancounters", render_beancounters(running, now))
        net = self.host.proc_dir / "net"
        net.mkdir(exist_ok=True)
        veths = {ctid: ct.veths for ctid, ct in running.items() if ct.veths}
        starts = {ctid: ct.start for ctid, ct in running.items()}
        _replace(net / "dev", counters.render_net_dev(self.host, veths, starts, now))
        mounted = self.host.mounted_ids() | set(running)
        _replace(vz / "vzquota", counters.render_vzquota(self.host, mounted))

    def refresh_if_stale(self) -> None:
        """Let counters grow for readers; skipped when another tool holds the host lock."""
        vestat = self.host.proc_dir / "vz" / "vestat"
        try:
            if time.time() - vestat.stat().st_mtime < REFRESH_SECONDS:
                return
        except FileNotFoundError:
            return
        with try_host_lock(self.host.state_dir) as locked:
            if locked:
                self.render(self.load())

    def tick(self) -> None:
        with host_lock(self.host.state_dir):
            self.render(self.load())


def _replace(path: Path, text: str) -> None:
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temp.write_text(text)
    os.replace(temp, path)


def process_count(ctid: int) -> int:
    return 8 + ctid % 17


def _busy_fraction(ctid: int) -> float:
    return ((ctid * 37) % 10 + 1) / 100


def render_veinfo(running: dict[int, RunningCT]) -> str:
    lines = [f"{0:>10} {0:>5} {96:>5}"]
    for ctid, ct in sorted(running.items()):
        ips = "".join(f" {ip.split('/')[0]:>{39 if ':' in ip else 15}}" for ip in reversed(ct.ips))
        lines.append(f"{ctid:>10} {0:>5} {process_count(ctid):>5}{ips}")
    return "".join(line + "\n" for line in lines)


def render_veip(running: dict[int, RunningCT]) -> str:
    lines = ["Version: 2.5"]
    for ct in running.values():
        lines.extend(f"{ip.split('/')[0]:>39} 0" for ip in ct.ips)
    return "".join(line + "\n" for line in lines)


VESTAT_HEADER = (
    "VEID",
    "user",
    "nice",
    "system",
    "uptime",
    "idle",
    "strv",
    "uptime",
    "used",
    "maxlat",
    "totlat",
    "numsched",
)


def _vestat_row(values: list[object]) -> str:
    return f"{values[0]!s:>20}" + "".join(f" {v!s:>20}" for v in values[1:])


def render_vestat(running: dict[int, RunningCT], now: float) -> str:
    header = _vestat_row(list(VESTAT_HEADER))
    lines = ["Version: 2.2".ljust(len(header)), header]
    for ctid, ct in sorted(running.items()):
        elapsed = max(now - ct.start, 0.0)
        busy = _busy_fraction(ctid)
        user = int(elapsed * HZ * busy)
        system = int(elapsed * HZ * busy / 5)
        uptime_ns = int(elapsed * 1e9)
        used_ns = (user + system) * (1_000_000_000 // HZ)
        idle_ns = max(uptime_ns - used_ns, 0)
        lines.append(
            _vestat_row(
                [
                    ctid,
                    user,
                    0,
                    system,
                    int(elapsed * HZ),
                    idle_ns,
                    0,
                    uptime_ns,
                    used_ns,
                    0,
                    0,
                    0,
                ]
            )
        )
    return "".join(line + "\n" for line in lines)


# Typical usage of an idle small CT, scaled by its time alive (capped by its barrier).
_BASE_USAGE = {
    "kmemsize": 2752512,
    "privvmpages": 6432,
    "shmpages": 640,
    "physpages": 3211,
    "oomguarpages": 3211,
    "numtcpsock": 5,
    "numflock": 4,
    "numpty": 1,
    "tcpsndbuf": 89440,
    "tcprcvbuf": 81920,
    "othersockbuf": 11048,
    "numothersock": 19,
    "dcachesize": 614823,
    "numfile": 211,
    "numiptent": 14,
}


def held_usage(ctid: int, ct: RunningCT, param: str, now: float) -> tuple[int, int]:
    """(held, maxheld) for one beancounter of a running CT."""
    if param == "numproc":
        held = process_count(ctid)
    else:
        base = _BASE_USAGE.get(param, 0)
        growth = min(max(now - ct.start, 0.0) / 3600.0, 1.0)
        held = int(base * (1 + growth / 4))
    barrier = ct.ubc.get(param, [LONG_MAX, LONG_MAX])[0]
    if 0 < barrier < held:
        held = barrier
    return held, held + held // 6


def render_beancounters(running: dict[int, RunningCT], now: float) -> str:
    header = f"{'uid':>10}  {'resource':<12}" + "".join(
        f" {h:>20}" for h in ("held", "maxheld", "barrier", "limit", "failcnt")
    )
    lines = ["Version: 2.5", header]
    for ctid, ct in sorted(running.items()):
        for index, param in enumerate(PROC_ROWS):
            prefix = f"{ctid:>10}:" if index == 0 else " " * 11
            if param == "dummy":
                values = [0, 0, 0, 0, 0]
            else:
                held, maxheld = held_usage(ctid, ct, param, now)
                barrier, limit = ct.ubc.get(param, [LONG_MAX, LONG_MAX])
                values = [held, maxheld, barrier, limit, 0]
            lines.append(f"{prefix} {param:<12}" + "".join(f" {v:>20}" for v in values))
    host_ct = RunningCT(start=now - 86400)
    for index, param in enumerate(PROC_ROWS):
        prefix = f"{0:>10}:" if index == 0 else " " * 11
        values = (
            [0, 0, 0, 0, 0]
            if param == "dummy"
            else [
                *held_usage(0, host_ct, param, now),
                LONG_MAX,
                LONG_MAX,
                0,
            ]
        )
        lines.append(f"{prefix} {param:<12}" + "".join(f" {v:>20}" for v in values))
    return "".join(line + "\n" for line in lines)
