"""User beancounter parameters: units, size suffixes, barrier:limit values (openvz-tools.md §1.3,
§3.3)."""

from __future__ import annotations

import math

LONG_MAX = 9223372036854775807
PAGE_SIZE = 4096

BYTE_PARAMS = ("kmemsize", "tcpsndbuf", "tcprcvbuf", "othersockbuf", "dgramrcvbuf", "dcachesize")
PAGE_PARAMS = (
    "lockedpages",
    "privvmpages",
    "shmpages",
    "physpages",
    "vmguarpages",
    "oomguarpages",
    "swappages",
)
ITEM_PARAMS = (
    "numproc",
    "numtcpsock",
    "numothersock",
    "numfile",
    "numflock",
    "numpty",
    "numsiginfo",
    "numiptent",
    "avnumproc",
)
# The kernel's row order in /proc/user_beancounters, dummy rows included (openvz-tools.md §7.3).
PROC_ROWS = (
    "kmemsize",
    "lockedpages",
    "privvmpages",
    "shmpages",
    "dummy",
    "numproc",
    "physpages",
    "vmguarpages",
    "oomguarpages",
    "numtcpsock",
    "numflock",
    "numpty",
    "numsiginfo",
    "tcpsndbuf",
    "tcprcvbuf",
    "othersockbuf",
    "dgramrcvbuf",
    "numothersock",
    "dcachesize",
    "numfile",
    "dummy",
    "dummy",
    "dummy",
    "numiptent",
)
KERNEL_PARAMS = (*(name for name in PROC_ROWS if name != "dummy"), "swappages")

_MULTIPLIERS = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


class BadValue(ValueError):
    pass


def unit_of(param: str) -> str:
    if param in BYTE_PARAMS:
        return "bytes"
    if param in PAGE_PARAMS:
        return "pages"
    return "items"


def parse_number(text: str, unit: str, modern: bool = True) -> int:
    """One value in `unit` ("bytes", "pages", "items" or "kb"), suffixes per version."""
    if text == "unlimited":
        return LONG_MAX
    if not text:
        raise BadValue(text)
    suffix = text[-1].upper()
    number_text = text[:-1] if suffix.isalpha() else text
    if suffix.isalpha() and unit == "items":
        raise BadValue(text)
    allowed = "KMGTPB" if modern else "KMGP"
    if suffix.isalpha() and suffix not in allowed:
        raise BadValue(text)
    try:
        number = float(number_text) if "." in number_text else int(number_text)
    except ValueError as error:
        raise BadValue(text) from error
    if number < 0:
        raise BadValue(text)
    if not suffix.isalpha():
        return min(int(number), LONG_MAX)
    if suffix == "P":
        byte_count = number * PAGE_SIZE
    elif suffix == "B":
        byte_count = number
    else:
        byte_count = number * _MULTIPLIERS[suffix]
    return min(_from_bytes(byte_count, unit), LONG_MAX)


def _from_bytes(byte_count: float, unit: str) -> int:
    if unit == "pages":
        return math.ceil(byte_count / PAGE_SIZE)
    if unit == "kb":
        return int(byte_count / 1024)
    return int(byte_count)


def parse_pair(text: str, unit: str, modern: bool = True) -> tuple[int, int]:
    """`barrier[:limit]`; one number sets both."""
    parts = text.split(":")
    if len(parts) > 2:
        raise BadValue(text)
    barrier = parse_number(parts[0], unit, modern)
    limit = parse_number(parts[1], unit, modern) if len(parts) == 2 else barrier
    return barrier, limit


def format_number(value: int, modern: bool) -> str:
    return "unlimited" if modern and value == LONG_MAX else str(value)


def format_pair(barrier: int, limit: int, modern: bool) -> str:
    """[3.0.29+, 4.x] a single value when barrier = limit; [3.0.23] always `B:L`."""
    if modern and barrier == limit:
        return format_number(barrier, modern)
    return f"{format_number(barrier, modern)}:{format_number(limit, modern)}"


def config_pair(values: dict[str, str], param: str) -> tuple[int, int] | None:
    """The barrier/limit a CTID.conf gives for `param`, or None when unset or unreadable."""
    raw = values.get(param.upper())
    if not raw:
        return None
    try:
        return parse_pair(raw, unit_of(param))
    except BadValue:
        return None
