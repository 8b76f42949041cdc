"""Running ovzsh against a real `openvzd --simulate` on a fixed vzsim host."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.daemon_process import BIN, DaemonProcess

OVZSH = str(BIN / "ovzsh")
# The fixed host: the same name, CPUs and memory on every machine.
FIXED_HOST = ("--hostname", "golden.test", "--cpus", "2", "--memory-mb", "2048")


def lay_out_fixed_host(sim_dir: Path) -> None:
    """A vzsim host openvzd --simulate finds already there, so it keeps these settings."""
    subprocess.run(
        [str(BIN / "vzsim"), "init", str(sim_dir / "host"), *FIXED_HOST],
        check=True,
        capture_output=True,
        timeout=120,
    )


def uri_of(daemon: DaemonProcess) -> str:
    return f"openvz+unix:///system?socket={daemon.rw_socket}"


def ovzsh_env(**extra: str) -> dict[str, str]:
    return {**os.environ, "GRPC_VERBOSITY": "NONE", "COLUMNS": "100", **extra}


def ovzsh(
    daemon: DaemonProcess, *args: str, read_only: bool = False, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    flags = ["-r"] if read_only else []
    return subprocess.run(
        [OVZSH, "-c", uri_of(daemon), *flags, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=ovzsh_env(),
    )


def example_xml(daemon: DaemonProcess, veid: int) -> str:
    return (daemon.sim_dir / "example-150.xml").read_text().replace("150", str(veid))


def define(daemon: DaemonProcess, veid: int, tmp: Path) -> None:
    path = tmp / f"ct-{veid}.xml"
    path.write_text(example_xml(daemon, veid))
    result = ovzsh(daemon, "define", str(path))
    assert result.returncode == 0, result.stderr


def set_knobs(daemon: DaemonProcess, **values: object) -> None:
    """Change vzsim's knobs (ROOT/.vzsim/knobs.json, re-read by every tool run)."""
    path = daemon.host_root / ".vzsim" / "knobs.json"
    knobs = json.loads(path.read_text()) if path.exists() else {}
    knobs.update(values)
    temp = path.with_suffix(".tmp")
    temp.write_text(json.dumps(knobs))
    temp.replace(path)
