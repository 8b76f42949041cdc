"""The host's /proc/net/dev and /proc/vz/vzquota (openvz-tools.md §6.1, §7.4), rendered with the
other /proc files.

/proc/net/dev is the host's view: lo, the physical NIC, venet0, the bridges and, for
each running CT with NETIF entries, its host-side veth (vethCTID.N). A veth's host end
receives what the guest sends, so its rx counters are the guest's tx and the other way
round. Counters grow with time alive, like vestat's. venet-only CTs have no per-CT
device on the host, hence no line.

/proc/vz/vzquota lists the simfs quota of every mounted CT (running ones are mounted)
whose config sets DISKSPACE: usage is the real size of its private area.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from vzsim import conffile, ubc
from vzsim.host import Host

NET_DEV_HEADER = (
    "Inter-|   Receive                                                |  Transmit\n"
    " face |bytes    packets errs drop fifo frame compressed multicast|"
    "bytes    packets errs drop fifo colls carrier compressed\n"
)
HOST_INTERFACES = ("lo", "eth0", "venet0")
_WIDTHS = (8, 7, 4, 4, 4, 5, 10, 9, 8, 7, 4, 4, 4, 5, 7, 10)


def net_dev_line(name: str, rx: tuple[int, int], tx: tuple[int, int]) -> str:
    """One line as the kernel prints it (`%6s:%8llu %7llu ...`); rx/tx are (bytes, packets).
    Names longer than six characters touch the colon, as on a real host."""
    numbers = [rx[0], rx[1], 0, 0, 0, 0, 0, 0, tx[0], tx[1], 0, 0, 0, 0, 0, 0]
    return f"{name:>6}:" + " ".join(f"{n:>{w}}" for n, w in zip(numbers, _WIDTHS, strict=True))


def guest_traffic(ctid: int, index: int, seconds: float) -> tuple[tuple[int, int], ...]:
    """(rx, tx) of a CT's interface as the guest counts them, each (bytes, packets)."""
    rate = 1500 + (ctid * 97 + index * 31) % 5000
    rx_bytes = int(rate * seconds)
    tx_bytes = int(rate * seconds / 3)
    return (rx_bytes, rx_bytes // 600), (tx_bytes, tx_bytes // 200)


def render_net_dev(
    host: Host, veths: dict[int, list[str]], starts: dict[int, float], now: float
) -> str:
    """veths: each running CT's host-side devices in NETIF order; starts: its start time."""
    try:
        boot = (host.proc_dir / "cpuinfo").stat().st_mtime
    except FileNotFoundError:
        boot = now
    host_seconds = max(now - boot, 0.0) + 3600.0
    names = list(HOST_INTERFACES)
    with contextlib.suppress(FileNotFoundError):
        names += sorted(n for n in os.listdir(host.state_dir / "bridges") if not n.startswith("."))
    lines = [NET_DEV_HEADER]
    for number, name in enumerate(names):
        rx, tx = guest_traffic(0, number, host_seconds)
        lines.append(net_dev_line(name, rx, tx) + "\n")
    for ctid in sorted(veths):
        elapsed = max(now - starts[ctid], 0.0)
        for index, veth in enumerate(veths[ctid]):
            guest_rx, guest_tx = guest_traffic(ctid, index, elapsed)
            lines.append(net_dev_line(veth, guest_tx, guest_rx) + "\n")
    return "".join(lines)


def disk_usage(path: Path) -> tuple[int, int]:
    """(KiB in use, inodes) of a directory tree, like `du -sk` and a file count."""
    blocks = 0
    inodes = 0
    for folder, dirs, files in os.walk(path):
        for name in [*dirs, *files]:
            try:
                blocks += os.lstat(os.path.join(folder, name)).st_blocks
            except OSError:
                continue
            inodes += 1
    try:
        blocks += os.lstat(path).st_blocks
        inodes += 1
    except OSError:
        return 0, 0
    return blocks // 2, inodes


def _pair(value: str, unit: str) -> tuple[int, int]:
    try:
        return ubc.parse_pair(value, unit)
    except ubc.BadValue:
        return 0, 0


def render_vzquota(host: Host, ctids: set[int]) -> str:
    """Quota blocks of the mounted CTs in ctids whose config sets DISKSPACE."""
    defaults = host.vz_conf or {}
    lines: list[str] = []
    for ctid in sorted(ctids):
        config = {**defaults, **(conffile.read_config(host.conf_file(ctid)) or {})}
        if not config.get("DISKSPACE") or config.get("DISK_QUOTA", "yes") == "no":
            continue
        private = conffile.expand_veid(config.get("VE_PRIVATE", "/vz/private/$VEID"), ctid)
        used_kib, inodes = disk_usage(host.path(private))
        block_soft, block_hard = _pair(config["DISKSPACE"], "kb")
        inode_soft, inode_hard = _pair(config.get("DISKINODES", "0:0"), "items")
        lines.append(f"{ctid}: {private}\n")
        for label, values in (
            ("1k-blocks", (used_kib, block_soft, block_hard)),
            ("inodes", (inodes, inode_soft, inode_hard)),
        ):
            lines.append(f"  {label:<11}" + "".join(f" {v:>12}" for v in (*values, 0, 0)) + "\n")
    return "".join(lines)
