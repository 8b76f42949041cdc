"""The built package carries the client's type information: py.typed and the .pyi stubs."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

TOP = Path(__file__).resolve().parent.parent.parent


def test_the_wheel_has_the_typed_marker_and_every_generated_stub(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(TOP / name, source / name)
    for folder in ("daemon", "client", "vzsim"):
        shutil.copytree(TOP / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path / "dist"),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = (tmp_path / "dist").glob("openvzd-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    stubs = {f"openvz/v1/{p.name}" for p in (TOP / "client" / "openvz" / "v1").glob("*.pyi")}
    assert len(stubs) == 10
    assert "openvz/py.typed" in names
    assert stubs <= names, sorted(stubs - names)
    assert {"openvz/service.py", "openvz/cli/main.py", "openvz/aio.py"} <= names
