"""The simulated host of `openvzd --simulate DIR`: made with vzsim's own command.

The daemon never imports vzsim (it stands in for software we do not own); it runs
the `vzsim` executable installed beside this interpreter, as an administrator
would run the real host's installer.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
from pathlib import Path

log = logging.getLogger(__name__)


class SimulationError(Exception):
    pass


def vzsim_executable() -> Path:
    beside = Path(sys.executable).parent / "vzsim"
    if beside.exists():
        return beside
    found = shutil.which("vzsim")
    if found is None:
        raise SimulationError(
            "--simulate needs the vzsim command, which comes with openvzd; "
            "install the project (make run does) and try again"
        )
    return Path(found)


def ensure_simulated_host(host_root: Path, *, realistic_delays: bool = True) -> None:
    """Lay out a vzsim host at host_root unless one is there already."""
    if (host_root / "usr" / "sbin" / "vzctl").exists():
        return
    argv = [str(vzsim_executable()), "init", str(host_root)]
    if realistic_delays:
        argv += ["--delays", "realistic"]
    log.info("laying out a simulated OpenVZ host in %s", host_root)
    result = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=120)
    if result.returncode != 0:
        raise SimulationError(
            f"vzsim init {host_root} failed ({result.returncode}): {result.stderr.strip()}"
        )
