"""vzctl's config file rules (openvz-tools.md §3.1): first key wins, in-place rewrites, atomic
saves."""

from __future__ import annotations

import os
from pathlib import Path

# The order vzctl appends keys that are not in the file yet (openvz-tools.md §3.3).
UBC_KEYS = (
    "KMEMSIZE",
    "LOCKEDPAGES",
    "PRIVVMPAGES",
    "SHMPAGES",
    "NUMPROC",
    "PHYSPAGES",
    "VMGUARPAGES",
    "OOMGUARPAGES",
    "NUMTCPSOCK",
    "NUMFLOCK",
    "NUMPTY",
    "NUMSIGINFO",
    "TCPSNDBUF",
    "TCPRCVBUF",
    "OTHERSOCKBUF",
    "DGRAMRCVBUF",
    "NUMOTHERSOCK",
    "DCACHESIZE",
    "NUMFILE",
    "NUMIPTENT",
    "AVNUMPROC",
    "SWAPPAGES",
)
APPEND_ORDER = (
    *UBC_KEYS,
    "IPTABLES",
    "NETFILTER",
    "CAPABILITY",
    "IP_ADDRESS",
    "NETDEV",
    "HOSTNAME",
    "DESCRIPTION",
    "NAMESERVER",
    "SEARCHDOMAIN",
    "DEVICES",
    "DEVNODES",
    "PCI",
    "VE_ROOT",
    "VE_PRIVATE",
    "MOUNT_OPTS",
    "VE_LAYOUT",
    "OSTEMPLATE",
    "CPUUNITS",
    "CPULIMIT",
    "CPUS",
    "CPUMASK",
    "NODEMASK",
    "ONBOOT",
    "ORIGIN_SAMPLE",
    "DISABLED",
    "DISK_QUOTA",
    "DISKSPACE",
    "DISKINODES",
    "QUOTATIME",
    "QUOTAUGIDLIMIT",
    "MEMINFO",
    "NETIF",
    "NAME",
    "FEATURES",
    "IOPRIO",
    "IOLIMIT",
    "IOPSLIMIT",
    "BOOTORDER",
    "STOP_TIMEOUT",
    "VM_OVERCOMMIT",
)
_ORDER_INDEX = {key: i for i, key in enumerate(APPEND_ORDER)}
_KEY_ALIASES = {"DCACHE": "DCACHESIZE", "IPTENTRIES": "NUMIPTENT"}


def parse_line(line: str) -> tuple[str, str] | None:
    stripped = line.strip()
    if not stripped or stripped.startswith("#") or "=" not in stripped:
        return None
    key, raw = stripped.split("=", 1)
    if raw.startswith('"'):
        end = raw.rfind('"')
        if end == 0:
            return None
        raw = raw[1:end]
    if "\\" in raw:
        raw = _unescape(raw)
    return _KEY_ALIASES.get(key, key), raw


def _unescape(raw: str) -> str:
    out = []
    chars = iter(raw)
    for ch in chars:
        out.append(next(chars, "") if ch == "\\" else ch)
    return "".join(out)


def parse_text(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in text.splitlines():
        parsed = parse_line(line)
        if parsed is not None and parsed[0] not in values:
            values[parsed[0]] = parsed[1]
    return values


def read_config(path: Path) -> dict[str, str] | None:
    try:
        text = path.read_text(encoding="utf-8", errors="surrogateescape")
    except (FileNotFoundError, NotADirectoryError):
        return None
    return parse_text(text)


def expand_veid(value: str, ctid: int) -> str:
    expanded = value.replace("${VEID}", str(ctid)).replace("$VEID", str(ctid))
    return expanded.rstrip("/") or expanded


def render_update(text: str, changes: dict[str, str]) -> str:
    """Rewrite the first line of each changed key in place, append the rest in vzctl order."""
    lines = text.splitlines()
    pending = dict(changes)
    for index, line in enumerate(lines):
        parsed = parse_line(line)
        if parsed is not None and parsed[0] in pending:
            key = parsed[0]
            lines[index] = f'{key}="{pending.pop(key)}"'
    appended = sorted(pending, key=lambda k: _ORDER_INDEX.get(k, len(APPEND_ORDER)))
    lines.extend(f'{key}="{pending[key]}"' for key in appended)
    return "".join(line + "\n" for line in lines)


def write_atomically(path: Path, text: str) -> None:
    """Write `path` the way vzctl does: a `.tmp` sibling, then rename over the original."""
    temp = path.with_name(path.name + ".tmp")
    with open(temp, "w", encoding="utf-8", errors="surrogateescape") as handle:
        handle.write(text)
    os.replace(temp, path)
