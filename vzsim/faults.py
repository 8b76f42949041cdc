"""The `die_during_config_write` fault: the process is killed with a half-written CTID.conf.tmp,
leaving the original config intact and a stale lock behind, as a crashed vzctl would."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from vzsim import conffile

_armed = False


def arm_die_during_config_write() -> None:
    global _armed
    _armed = True


def die_now() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def die_if_armed() -> None:
    """Commands that never write a config still die before finishing."""
    if _armed:
        die_now()


def write_config(path: Path, text: str) -> None:
    if _armed:
        temp = path.with_name(path.name + ".tmp")
        temp.write_text(text[: len(text) // 2])
        die_now()
    conffile.write_atomically(path, text)
