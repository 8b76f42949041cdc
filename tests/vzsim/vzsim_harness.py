"""Run vzsim the way a client would: the executables under ROOT/usr/sbin, argv, exact output."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

VZSIM = [sys.executable, "-m", "vzsim.cli"]


class SimHost:
    def __init__(self, root: Path) -> None:
        self.root = root

    def run(
        self, tool: str, *args: str, env: dict[str, str] | None = None, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.root / "usr" / "sbin" / tool), *args],
            capture_output=True,
            text=True,
            env=env,
            input=stdin,
            check=False,
        )

    def vzctl(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return self.run("vzctl", *args, env=env)

    def vzlist(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run("vzlist", *args)

    def path(self, host_path: str) -> Path:
        return self.root / host_path.lstrip("/")

    def conf(self, ctid: int) -> str:
        return self.path(f"/etc/vz/conf/{ctid}.conf").read_text()

    def create(self, ctid: int, *extra: str) -> None:
        result = self.vzctl("create", str(ctid), "--ostemplate", "centos-7-x86_64-minimal", *extra)
        assert result.returncode == 0, result.stderr


def vzsim(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*VZSIM, *args], capture_output=True, text=True, check=False)
