"""Test knobs: ROOT/.vzsim/knobs.json, re-read on every run, overridden by VZSIM_* variables.

Faults are consumed under an flock on ROOT/.vzsim/knobs.lock, so two tools running at the
same moment never both take the same count.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

REALISTIC_DELAYS = {
    "create": 2.0,
    "start": 1.0,
    "stop": 0.5,
    "stop_fast": 0.1,
    "destroy": 0.2,
    "chkpnt": 1.0,
    "restore": 1.0,
    "set": 0.1,
    "mount": 0.2,
    "umount": 0.2,
    "vzmigrate": 3.0,
}


class Fault:
    def __init__(
        self,
        command: str,
        exit: int | None = None,
        hang: bool = False,
        die_during_config_write: bool = False,
    ) -> None:
        self.command = command
        self.exit = exit
        self.hang = hang
        self.die_during_config_write = die_during_config_write


class Knobs:
    def __init__(self, personality: str, delays: dict[str, float], hold_lock: float) -> None:
        self.personality = personality
        self.delays = delays
        self.hold_lock = hold_lock
        self.env_faults: list[Fault] = []


def knobs_path(state_dir: Path) -> Path:
    return state_dir / "knobs.json"


def read_file(state_dir: Path) -> dict[str, object]:
    try:
        data = json.loads(knobs_path(state_dir).read_text())
    except (FileNotFoundError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_file(state_dir: Path, data: dict[str, object]) -> None:
    path = knobs_path(state_dir)
    temp = path.with_name(f"knobs.json.{os.getpid()}.tmp")
    temp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(temp, path)


def delays_from(value: object) -> dict[str, float]:
    if value == "realistic":
        return dict(REALISTIC_DELAYS)
    if isinstance(value, dict):
        return {str(k): float(v) for k, v in value.items()}
    return {}


def load(state_dir: Path) -> Knobs:
    data = read_file(state_dir)
    env = os.environ
    knobs = Knobs(
        personality=str(env.get("VZSIM_PERSONALITY") or data.get("personality") or "4.x"),
        delays=delays_from(data.get("delay")),
        hold_lock=float(env.get("VZSIM_HOLD_LOCK") or str(data.get("hold_lock") or 0)),
    )
    if "VZSIM_DELAYS" in env:
        knobs.delays = delays_from(env["VZSIM_DELAYS"])
    for name, value in env.items():
        if name.startswith("VZSIM_DELAY_"):
            knobs.delays[name[len("VZSIM_DELAY_") :].lower()] = float(value)
    if env.get("VZSIM_FAULT"):
        knobs.env_faults = [_parse_env_fault(spec) for spec in env["VZSIM_FAULT"].split(",")]
    return knobs


def _parse_env_fault(spec: str) -> Fault:
    """`start:exit=78`, `stop:hang` or `set:die`; applies to every call while set."""
    command, _, action = spec.partition(":")
    if action == "hang":
        return Fault(command, hang=True)
    if action == "die":
        return Fault(command, die_during_config_write=True)
    return Fault(command, exit=int(action.removeprefix("exit=") or "1"))


def take_fault(state_dir: Path, knobs: Knobs, command: str) -> Fault | None:
    """Consume one count of the first fault registered for `command`, if any."""
    for fault in knobs.env_faults:
        if fault.command == command:
            return fault
    if not knobs_path(state_dir).exists():
        return None
    with open(state_dir / "knobs.lock", "a") as lock_handle:
        fcntl.flock(lock_handle, fcntl.LOCK_EX)
        data = read_file(state_dir)
        faults = data.get("faults")
        if not isinstance(faults, list):
            return None
        for entry in faults:
            if entry.get("command") != command or int(entry.get("count", 1)) <= 0:
                continue
            entry["count"] = int(entry.get("count", 1)) - 1
            write_file(state_dir, data)
            return Fault(
                command,
                exit=entry.get("exit"),
                hang=bool(entry.get("hang")),
                die_during_config_write=bool(entry.get("die_during_config_write")),
            )
    return None
