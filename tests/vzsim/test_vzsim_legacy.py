"""The 3.0.23 personality: what a client can see differ from 4.x (openvz-tools.md §11 item 11)."""

from __future__ import annotations

import os
import subprocess
import time

from tests.vzsim.vzsim_harness import SimHost


def test_version_and_start_wording(legacy_host: SimHost) -> None:
    assert legacy_host.vzctl("--version").stdout == "vzctl version 3.0.23\n"
    legacy_host.create(101, "--hostname", "ct101")
    started = legacy_host.vzctl("start", "101")
    assert started.stdout == (
        "Starting container ...\n"
        "Initializing quota ...\n"
        "Container is mounted\n"
        "Setting CPU units: 1000\n"
        "Set hostname: ct101\n"
        "Container start in progress...\n"
    )


def test_create_output_and_config(legacy_host: SimHost) -> None:
    result = legacy_host.vzctl("create", "101", "--ostemplate", "fedora-9-i386-minimal")
    assert result.stdout == (
        "Creating container private area (fedora-9-i386-minimal)\n"
        "Performing postcreate actions\n"
        "Container private area was created\n"
    )
    conf = legacy_host.conf(101)
    assert 'KMEMSIZE="11055923:11377049"' in conf
    assert 'ONBOOT="yes"' in conf
    assert "VE_LAYOUT" not in conf and "ORIGIN_SAMPLE" not in conf
    missing = legacy_host.vzctl("create", "102", "--ostemplate", "nosuch")
    assert (missing.returncode, missing.stdout) == (
        91,
        "Cached os template /vz/template/cache/nosuch.tar.gz not found\n",
    )


def test_no_aliases_no_suspended_word(legacy_host: SimHost) -> None:
    legacy_host.create(101)
    for alias in ("delete", "suspend", "resume"):
        result = legacy_host.vzctl(alias, "101")
        assert (result.returncode, result.stderr) == (20, f"Bad command: {alias}\n")
    legacy_host.vzctl("start", "101")
    legacy_host.vzctl("chkpnt", "101")
    assert legacy_host.vzctl("status", "101").stdout == "CTID 101 exist unmounted down\n"
    assert legacy_host.vzlist("-a", "-H", "-o", "status").stdout == "stopped\n"


def test_umount_running_is_0(legacy_host: SimHost) -> None:
    legacy_host.create(101)
    legacy_host.vzctl("start", "101")
    result = legacy_host.vzctl("umount", "101")
    assert (result.returncode, result.stderr) == (0, "Container is running -- stop it first\n")


def test_lock_error_is_one_line(legacy_host: SimHost) -> None:
    legacy_host.create(101)
    env = dict(os.environ, VZSIM_HOLD_LOCK="2")
    holder = subprocess.Popen(
        [str(legacy_host.root / "usr/sbin/vzctl"), "mount", "101"],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    try:
        lock = legacy_host.path("/vz/lock/101.lck")
        deadline = time.monotonic() + 10
        while not lock.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        result = legacy_host.vzctl("start", "101")
        assert (result.returncode, result.stderr) == (9, "Container already locked\n")
    finally:
        holder.wait(timeout=20)


def test_failed_set_still_saves(legacy_host: SimHost) -> None:
    legacy_host.create(101, "--ipadd", "10.0.0.1")
    legacy_host.create(102)
    legacy_host.vzctl("start", "101")
    legacy_host.vzctl("start", "102")
    result = legacy_host.vzctl("set", "102", "--ipadd", "10.0.0.1", "--hostname", "h", "--save")
    assert result.returncode == 78
    assert 'HOSTNAME="h"' in legacy_host.conf(102)


def test_migrate_echoes_options(make_host: object) -> None:
    source = make_host("src", "--personality", "3.0.23")  # type: ignore[operator]
    dest = make_host("dst", "--personality", "3.0.23")  # type: ignore[operator]
    source.create(101)
    result = source.run("vzmigrate", "--keep-dst", str(dest.root), "101")
    assert result.returncode == 0
    assert result.stdout.startswith(
        f"OPT:--keep-dst\nStarting migration of CT 101 to {dest.root}\n"
    )
