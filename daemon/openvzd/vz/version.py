"""vzctl's version, from every form it has printed: `vzctl version 3.0.22`,
`vzctl version 4.11.1`, and OpenVZ 7's `vzctl v.7.0.200`."""

from __future__ import annotations

import re
from dataclasses import dataclass

# ASCII digits, at most nine a part (int() refuses more than 4,300), and the whole
# number: no version is read from the start of an overlong one.
_FORMS = re.compile(
    r"vzctl\s+(?:version\s+|v\.)([0-9]{1,9}(?:\.[0-9]{1,9})*)(?!\.?[0-9])", re.ASCII
)


@dataclass(frozen=True, slots=True, order=True)
class VzctlVersion:
    numbers: tuple[int, ...]
    text: str

    @property
    def flavour(self) -> str:
        major = self.numbers[0]
        return "legacy3" if major < 4 else "legacy4" if major < 7 else "ovz7"


def parse_vzctl_version(output: str) -> VzctlVersion | None:
    """The version in `vzctl --version` (or --help) output; None if there is none."""
    match = _FORMS.search(output)
    if match is None:
        return None
    text = match.group(1)
    return VzctlVersion(tuple(int(part) for part in text.split(".")), text)
