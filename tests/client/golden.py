"""Expected ovzsh output kept in files (virt-manager's tests/data/cli/compare style).

A case's file holds the command, its exit status, stdout and stderr, after the
masks the case names (what varies from run to run, spelled out per case).
OVZSH_REGENERATE_OUTPUT=1 rewrites the files; a missing file is written and
the test fails, so a new case is looked at once before it is committed.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Sequence
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "data" / "cli"
REGENERATE = os.environ.get("OVZSH_REGENERATE_OUTPUT", "") not in ("", "0")

UUID = (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "<UUID>")
# As wide as what it hides, so columns stay aligned.
JOB_ID = (re.compile(r"\b[0-9a-f]{32}\b"), "<JOB-ID" + "-" * 24 + ">")
TIMESTAMP = (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z?"), "<TIME>")

Mask = tuple["re.Pattern[str]", str]


def render(argv: Sequence[str], status: int, stdout: str, stderr: str) -> str:
    return (
        f"$ ovzsh {' '.join(argv)}\nexit status: {status}\n"
        f"--- stdout\n{stdout}--- stderr\n{stderr}--- end\n"
    )


def apply_masks(text: str, masks: Sequence[Mask]) -> str:
    for pattern, replacement in masks:
        text = pattern.sub(replacement, text)
    return text


def compare(case: str, actual: str) -> None:
    path = DATA / f"{case}.txt"
    if REGENERATE or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        missing = not path.exists()
        path.write_text(actual)
        if missing and not REGENERATE:
            raise AssertionError(f"{path} did not exist and was written: check it, commit it")
        return
    expected = path.read_text()
    if actual != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(keepends=True),
                actual.splitlines(keepends=True),
                str(path),
                "actual",
            )
        )
        raise AssertionError(
            f"ovzsh output differs from {path} (OVZSH_REGENERATE_OUTPUT=1 rewrites it):\n{diff}"
        )
