"""Allow-lists of remote identities: who gets in, and at which level."""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence

from openvzd.access import Level


def level_for(identity: str, allowed: Sequence[str], readonly: Sequence[str]) -> Level | None:
    """The access level of identity, or None when no pattern admits it.

    Patterns are shell wildcards matched case-sensitively. Read-only wins over
    read-write, so a broad allowed pattern cannot lift a listed read-only identity.
    """
    if any(fnmatch.fnmatchcase(identity, pattern) for pattern in readonly):
        return Level.READ_ONLY
    if any(fnmatch.fnmatchcase(identity, pattern) for pattern in allowed):
        return Level.READ_WRITE
    return None
