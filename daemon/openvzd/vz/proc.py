"""The host's /proc files (under the host root): node info, CPU time (the host's
and each container's), beancounters,
interface counters and simfs disk quota.

The readers never raise on content: a field that is not a number the wire can
carry (uint32 counts, uint64 sizes and times) is skipped, as an unreadable file is.
"""

from __future__ import annotations

import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path

USER_HZ = 100
UINT32_MAX = 2**32 - 1
UINT64_MAX = 2**64 - 1
# ASCII digits only: str.isdigit() also accepts '²', which int() refuses.
_NATURAL = re.compile(r"[0-9]{1,20}\Z", re.ASCII)
_MHZ = re.compile(r"([0-9]{1,10})(?:\.[0-9]*)?\Z", re.ASCII)


def _natural(text: str, maximum: int = UINT64_MAX) -> int | None:
    """text as a whole number 0..maximum, or None."""
    if not _NATURAL.match(text):
        return None
    value = int(text)
    return value if value <= maximum else None


@dataclass(frozen=True, slots=True)
class NodeInfo:
    model: str
    cpus: int
    mhz: int
    sockets: int
    cores: int
    threads: int
    memory_kib: int
    free_memory_kib: int


def read_node_info(proc: Path) -> NodeInfo:
    """CPUs, model and memory from proc/cpuinfo and proc/meminfo."""
    processors = 0
    model, mhz = "", 0
    physical: set[str] = set()
    cores = 1
    siblings = 1
    for line in _read(proc / "cpuinfo").splitlines():
        key, _, value = (part.strip() for part in line.partition(":"))
        if key == "processor":
            processors += 1
        elif key == "model name" and not model:
            model = value
        elif key == "cpu MHz" and not mhz:
            match = _MHZ.match(value)
            mhz = min(int(match[1]), UINT32_MAX) if match else 0
        elif key == "physical id":
            physical.add(value)
        elif key == "cpu cores":
            cores = _natural(value, UINT32_MAX) or cores
        elif key == "siblings":
            siblings = _natural(value, UINT32_MAX) or siblings
    memory = _meminfo(proc / "meminfo")
    free = memory.get("MemFree", 0) + memory.get("Buffers", 0) + memory.get("Cached", 0)
    free = min(free, UINT64_MAX)
    return NodeInfo(
        model=model or "unknown",
        cpus=min(processors, UINT32_MAX) or (os.cpu_count() or 1),
        mhz=mhz,
        sockets=min(max(len(physical), 1), UINT32_MAX),
        cores=cores,
        threads=max(siblings // max(cores, 1), 1),
        memory_kib=memory.get("MemTotal", 0),
        free_memory_kib=free,
    )


@dataclass(frozen=True, slots=True)
class CpuTimes:
    """A CPU's times since boot in nanoseconds, summed as libvirt's
    virHostCPUGetStats does on Linux: kernel = system + irq + softirq, user = user + nice."""

    kernel_ns: int
    user_ns: int
    idle_ns: int
    iowait_ns: int


ALL_CPUS = -1
# /proc/stat's cpu lines: user nice system idle iowait irq softirq ...
_CPU_FIELDS = 7


def read_cpu_times(proc: Path) -> dict[int, CpuTimes]:
    """The times of /proc/stat's cpu lines, by CPU number; ALL_CPUS for the sum
    line. Lines that are not numbers the wire can carry are skipped."""
    nanoseconds_per_tick = 1_000_000_000 // USER_HZ
    found: dict[int, CpuTimes] = {}
    for line in _read(proc / "stat").splitlines():
        label, *fields = line.split() or [""]
        if not label.startswith("cpu") or len(fields) < _CPU_FIELDS:
            continue
        number = ALL_CPUS if label == "cpu" else _natural(label[3:], UINT32_MAX)
        ticks = [_natural(field) for field in fields[:_CPU_FIELDS]]
        if number is None or any(tick is None for tick in ticks):
            continue
        user, nice, system, idle, iowait, irq, softirq = (
            tick * nanoseconds_per_tick for tick in ticks if tick is not None
        )
        times = (system + irq + softirq, user + nice, idle, iowait)
        if any(value > UINT64_MAX for value in times):
            continue
        found[number] = CpuTimes(*times)
    return found


def read_hostname(root: Path) -> str:
    if root == Path("/"):
        return socket.gethostname()
    text = _read(root / "etc" / "hostname").strip()
    return text or socket.gethostname()


@dataclass(frozen=True, slots=True)
class CpuTime:
    user_ns: int
    nice_ns: int
    system_ns: int
    uptime_seconds: float

    @property
    def total_ns(self) -> int:
        return self.user_ns + self.nice_ns + self.system_ns


def read_vestat(proc: Path) -> dict[int, CpuTime]:
    """proc/vz/vestat: user, nice, system in jiffies; uptime in jiffies too."""
    tick_ns = 1_000_000_000 // USER_HZ
    result: dict[int, CpuTime] = {}
    for line in _read(proc / "vz" / "vestat").splitlines():
        fields = line.split()
        numbers = [_natural(f) for f in fields[:5]]
        if len(numbers) < 5 or None in numbers:
            continue
        veid, user, nice, system, uptime = (n or 0 for n in numbers)
        cpu = CpuTime(user * tick_ns, nice * tick_ns, system * tick_ns, uptime / USER_HZ)
        if cpu.total_ns <= UINT64_MAX:
            result[veid] = cpu
    return result


@dataclass(frozen=True, slots=True)
class BeanCounter:
    resource: str
    held: int
    maxheld: int
    barrier: int
    limit: int
    failcnt: int


def read_beancounters(proc: Path) -> dict[int, list[BeanCounter]]:
    """proc/user_beancounters: a 'uid:' line opens each container's block."""
    result: dict[int, list[BeanCounter]] = {}
    current: list[BeanCounter] | None = None
    for line in _read(proc / "user_beancounters").splitlines():
        fields = line.split()
        if not fields or fields[0] in ("Version:", "uid"):
            continue
        if fields[0].endswith(":"):
            uid = _natural(fields[0][:-1])
            if uid is not None:
                current = result.setdefault(uid, [])
                fields = fields[1:]
        if current is None or len(fields) != 6:
            continue
        numbers = [_natural(f) for f in fields[1:]]
        if None not in numbers:
            current.append(BeanCounter(fields[0], *(n or 0 for n in numbers)))
    return result


@dataclass(frozen=True, slots=True)
class InterfaceCounters:
    """One /proc/net/dev line: (bytes, packets, errs, drop) received and sent."""

    name: str
    rx: tuple[int, int, int, int]
    tx: tuple[int, int, int, int]


def read_net_dev(proc: Path) -> dict[str, InterfaceCounters]:
    """proc/net/dev: two header lines, then `name: 16 numbers` (rx 8, tx 8). Names
    longer than six characters touch the colon, so the line is split there."""
    result: dict[str, InterfaceCounters] = {}
    for line in _read(proc / "net" / "dev").splitlines():
        name, colon, rest = line.partition(":")
        fields = rest.split()
        if not colon or "|" in name or len(fields) != 16:
            continue
        parsed = [_natural(f) for f in fields]
        if None in parsed:
            continue
        numbers = [n for n in parsed if n is not None]
        rx = (numbers[0], numbers[1], numbers[2], numbers[3])
        tx = (numbers[8], numbers[9], numbers[10], numbers[11])
        result[name.strip()] = InterfaceCounters(name.strip(), rx, tx)
    return result


@dataclass(frozen=True, slots=True)
class DiskQuota:
    used_kib: int
    soft_kib: int
    hard_kib: int
    inodes_used: int


def read_vzquota(proc: Path) -> dict[int, DiskQuota]:
    """proc/vz/vzquota (openvz-tools.md §7.4): a `CTID: path` line opens each block, then
    `1k-blocks` and `inodes` lines of usage, soft, hard, time, expire."""
    result: dict[int, DiskQuota] = {}
    veid: int | None = None
    lines: dict[str, list[int]] = {}

    def close() -> None:
        if veid is not None and "1k-blocks" in lines:
            used, soft, hard = lines["1k-blocks"][:3]
            result[veid] = DiskQuota(used, soft, hard, lines.get("inodes", [0])[0])

    for line in _read(proc / "vz" / "vzquota").splitlines():
        fields = line.split()
        if not fields:
            continue
        if not line[0].isspace():
            close()
            head = fields[0]
            veid = _natural(head[:-1], UINT32_MAX) if head.endswith(":") else None
            lines = {}
            continue
        if veid is None or fields[0] not in ("1k-blocks", "inodes") or len(fields) < 4:
            continue
        numbers = [_natural(f) for f in fields[1:4]]
        if None not in numbers:
            lines[fields[0]] = [n for n in numbers if n is not None]
    close()
    return result


def _meminfo(path: Path) -> dict[str, int]:
    values: dict[str, int] = {}
    for line in _read(path).splitlines():
        key, _, rest = line.partition(":")
        number = rest.split()
        kib = _natural(number[0]) if number else None
        if kib is not None:
            values[key.strip()] = kib
    return values


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""
