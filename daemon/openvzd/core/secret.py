"""Secrets are a type of their own, so that no path can print one by accident.

A Secret's value is reached only through reveal(), which the one place that
builds vzctl's argument vector calls. str(), repr(), format() and JSON all give
the marker, so a Secret inside an operation, an exception text, a log record or
a journal row shows as `<secret>`. What is journaled for it is the marker too:
a job holding a Secret cannot be replayed after a crash, and says why.
"""

from __future__ import annotations

from collections.abc import Iterable

MARKER = "<secret>"


class Secret:
    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return MARKER

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return MARKER

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(MARKER)

    def __reduce__(self) -> str:
        raise TypeError("a Secret is never pickled or copied out of the process")


def redacted(argv: Iterable[str], secrets: Iterable[Secret]) -> list[str]:
    """argv as it may be shown: every occurrence of a secret's value replaced by the marker."""
    values = [s.reveal() for s in secrets if s.reveal()]
    shown = []
    for arg in argv:
        for value in values:
            arg = arg.replace(value, MARKER)
        shown.append(arg)
    return shown
