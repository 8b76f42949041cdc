"""populate, and the timing the issue requires: 1,000 CTs defined in < 60 s, vzlist -a < 1 s."""

from __future__ import annotations

import time
from pathlib import Path

from tests.vzsim.vzsim_harness import SimHost, vzsim


def test_init_plus_1000_containers_and_vzlist_timing(tmp_path: Path) -> None:
    root = tmp_path / "big"
    began = time.monotonic()
    assert vzsim("init", str(root)).returncode == 0
    populated = vzsim("populate", str(root), "--count", "1000", "--running", "100")
    elapsed = time.monotonic() - began
    assert populated.returncode == 0, populated.stderr
    assert populated.stdout == "1000 containers written\n"
    assert elapsed < 60
    host = SimHost(root)
    began = time.monotonic()
    listing = host.vzlist("-a")
    listing_seconds = time.monotonic() - began
    assert listing.returncode == 0
    assert listing_seconds < 1.0
    lines = listing.stdout.splitlines()
    assert len(lines) == 1001
    assert (
        lines[1] == f"      1000 {8 + 1000 % 17:>10} running   10.0.3.232      ct1000.example.com"
    )
    assert lines[-1] == "      1999          - stopped   10.0.7.207      ct1999.example.com"
    assert len(host.vzlist("-H", "-o", "ctid").stdout.split()) == 100


def test_populated_containers_behave_like_created_ones(host: SimHost) -> None:
    assert (
        vzsim(
            "populate", str(host.root), "--count", "3", "--first-id", "200", "--running", "1"
        ).returncode
        == 0
    )
    assert host.vzctl("status", "200").stdout == "CTID 200 exist mounted running\n"
    assert host.vzctl("status", "202").stdout == "CTID 202 exist unmounted down\n"
    assert host.vzctl("stop", "200").returncode == 0
    assert host.vzctl("start", "202").returncode == 0
    assert host.vzctl("destroy", "201").returncode == 0
    assert 'OSTEMPLATE="centos-7-x86_64-minimal"' in host.conf(202)
    again = vzsim("populate", str(host.root), "--count", "3", "--first-id", "200")
    assert again.stdout == "1 containers written\n"
