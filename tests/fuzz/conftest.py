"""The fuzz tests' Hypothesis profiles (tests/fuzz/profiles.py) are registered on
import; HYPOTHESIS_PROFILE=soak also makes soak the default for the whole run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import settings

from tests.fuzz.profiles import SOAK, profile_name

if profile_name() == SOAK:
    settings.load_profile(SOAK)


@pytest.fixture(scope="session")
def vzsim_host(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A simulated host (vzsim init + populate: 5 containers, 2 running) whose
    vzlist output and /proc files seed the structured strategies."""
    root = tmp_path_factory.mktemp("fuzz-host") / "host"
    vzsim = str(Path(sys.executable).parent / "vzsim")
    subprocess.run([vzsim, "init", str(root)], check=True, capture_output=True, timeout=120)
    subprocess.run(
        [vzsim, "populate", str(root), "--count", "5", "--running", "2"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return root
