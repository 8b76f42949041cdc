"""Sizes as vzctl reads them: suffixes, `unlimited`, and `barrier:limit` pairs."""

from __future__ import annotations

import re

LONG_MAX = 9223372036854775807
PAGE_SIZE = 4096

_SIZE = re.compile(r"(\d+(?:\.\d+)?)([KMGTP]?)\Z", re.IGNORECASE)
_FACTOR = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def parse_bytes(text: str, *, unit: int = 1) -> int:
    """A size in units of `unit` bytes (1 for bytes, 1024 for KB, 4096 for pages).

    A bare number is already in that unit; a suffix K/M/G/T is bytes times the
    factor, P is pages; `unlimited` is LONG_MAX. Raises ValueError otherwise.
    """
    text = text.strip()
    if text.lower() == "unlimited":
        return LONG_MAX
    match = _SIZE.match(text)
    if not match:
        raise ValueError(f"not a size: {text!r}")
    number, suffix = match.group(1), match.group(2).upper()
    if not suffix:
        if "." in number:
            raise ValueError(f"not a whole number: {text!r}")
        return min(int(number), LONG_MAX)
    if suffix == "P":
        return min(int(float(number) * PAGE_SIZE) // unit, LONG_MAX)
    return min(int(float(number) * _FACTOR[suffix]) // unit, LONG_MAX)


def parse_pair(text: str, *, unit: int = 1) -> tuple[int, int]:
    """`barrier[:limit]`; one number sets both."""
    barrier, sep, limit = text.partition(":")
    first = parse_bytes(barrier, unit=unit)
    return first, (parse_bytes(limit, unit=unit) if sep else first)


def format_value(value: int) -> str:
    return "unlimited" if value >= LONG_MAX else str(value)


def format_pair(barrier: int, limit: int) -> str:
    """The 4.x form: one value when barrier equals limit."""
    if barrier == limit:
        return format_value(barrier)
    return f"{format_value(barrier)}:{format_value(limit)}"
