"""systemd/openvzd.service passes systemd-analyze verify and keeps its promises."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parent.parent / "systemd" / "openvzd.service"


def _service_section() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(UNIT)
    return parser["Service"]


def test_unit_is_type_notify_and_never_stops_containers() -> None:
    service = _service_section()
    assert service["Type"] == "notify"
    assert service["KillMode"] == "process"
    assert service["Restart"] == "on-failure"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_systemd_analyze_verify_accepts_the_unit(tmp_path: Path) -> None:
    # verify insists that ExecStart exists, so point it at this interpreter.
    text = UNIT.read_text().replace("/opt/openvzd/bin/openvzd", sys.executable)
    unit = tmp_path / "openvzd.service"
    unit.write_text(text)
    # verify also looks up every man: page of Documentation=: the ones make install puts.
    man = tmp_path / "man"
    subprocess.run(
        [sys.executable, str(UNIT.parent.parent / "scripts" / "build_manpages.py"), str(man)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    result = subprocess.run(
        ["systemd-analyze", "verify", str(unit)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "MANPATH": str(man)},
    )
    assert result.returncode == 0, result.stderr
    assert "openvzd.service" not in result.stderr, result.stderr
