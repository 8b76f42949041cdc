"""The per-CT lock, fault injection, delays and runs.log."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

from tests.vzsim.vzsim_harness import SimHost


def _wait_for(predicate: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.02)
    raise AssertionError("condition not reached")


def _set_knobs(host: SimHost, **values: object) -> None:
    path = host.root / ".vzsim" / "knobs.json"
    data = json.loads(path.read_text())
    data.update(values)
    path.write_text(json.dumps(data))


def test_second_vzctl_on_same_ct_fails_with_9(host: SimHost) -> None:
    host.create(101)
    lock_file = host.path("/vz/lock/101.lck")
    env = dict(os.environ, VZSIM_HOLD_LOCK="3")
    holder = subprocess.Popen(
        [str(host.root / "usr/sbin/vzctl"), "start", "101"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(lock_file.exists)
        assert lock_file.read_text() == f"{holder.pid}\n\n"
        second = host.vzctl("stop", "101")
        assert second.returncode == 9
        cmdline = f"{host.root}/usr/sbin/vzctl start 101"
        assert second.stderr == (
            f"Locked by: pid {holder.pid}, cmdline {cmdline}\nContainer already locked\n"
        )
        other_ct = host.vzctl("status", "101")
        assert other_ct.returncode == 0
        assert host.vzlist("-a", "-H", "-o", "ctid").returncode == 0
    finally:
        assert holder.wait(timeout=20) == 0
    assert not lock_file.exists()
    assert host.vzctl("status", "101").stdout == "CTID 101 exist mounted running\n"


def test_concurrent_starts_one_wins(host: SimHost) -> None:
    host.create(101)
    env = dict(os.environ, VZSIM_DELAY_START="1")
    starts = [
        subprocess.Popen(
            [str(host.root / "usr/sbin/vzctl"), "start", "101"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    codes = sorted(p.wait(timeout=20) for p in starts)
    assert codes == [0, 9]


def test_stale_lock_is_removed(host: SimHost) -> None:
    host.create(101)
    dead = subprocess.Popen(["true"])
    dead.wait()
    host.path("/vz/lock/101.lck").write_text(f"{dead.pid}\n\n")
    result = host.vzctl("start", "101")
    assert result.returncode == 0
    assert result.stdout.startswith("Removing stale lock file /vz/lock/101.lck\n")


def test_fault_exit_consumed_count_times(host: SimHost) -> None:
    host.create(101)
    _set_knobs(host, faults=[{"command": "start", "count": 2, "exit": 78}])
    assert host.vzctl("start", "101").returncode == 78
    failed = host.vzctl("start", "101")
    assert (failed.returncode, failed.stderr) == (78, "vzsim: injected failure of start\n")
    assert host.vzctl("status", "101").stdout == "CTID 101 exist unmounted down\n"
    assert host.vzctl("start", "101").returncode == 0


def test_fault_hang_holds_lock_until_killed(host: SimHost) -> None:
    host.create(101)
    _set_knobs(host, faults=[{"command": "stop", "count": 1, "hang": True}])
    host.vzctl("start", "101")
    hung = subprocess.Popen(
        [str(host.root / "usr/sbin/vzctl"), "stop", "101"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _wait_for(host.path("/vz/lock/101.lck").exists)
    time.sleep(0.3)
    assert hung.poll() is None
    assert host.vzctl("stop", "101").returncode == 9
    hung.send_signal(signal.SIGTERM)
    assert hung.wait(timeout=10) == 143
    assert not host.path("/vz/lock/101.lck").exists()
    assert host.vzctl("stop", "101").returncode == 0


def test_fault_die_during_config_write(host: SimHost) -> None:
    host.create(101)
    before = host.conf(101)
    _set_knobs(host, faults=[{"command": "set", "count": 1, "die_during_config_write": True}])
    result = host.vzctl("set", "101", "--hostname", "new.example.com", "--save")
    assert result.returncode == -signal.SIGKILL
    assert host.conf(101) == before
    partial = host.path("/etc/vz/conf/101.conf.tmp").read_text()
    assert 0 < len(partial) < len(before)
    again = host.vzctl("set", "101", "--hostname", "new.example.com", "--save")
    assert again.returncode == 0
    assert again.stdout.startswith("Removing stale lock file /vz/lock/101.lck\n")
    assert 'HOSTNAME="new.example.com"' in host.conf(101)


def test_concurrent_fault_consumption_takes_each_count_once(host: SimHost) -> None:
    for ctid in range(101, 107):
        host.create(ctid)
    _set_knobs(host, faults=[{"command": "start", "count": 3, "exit": 7}])
    runs = [
        subprocess.Popen(
            [str(host.root / "usr/sbin/vzctl"), "start", str(ctid)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for ctid in range(101, 107)
    ]
    codes = sorted(p.wait(timeout=30) for p in runs)
    assert codes == [0, 0, 0, 7, 7, 7]
    running = host.vzlist("-H", "-o", "ctid").stdout.split()
    assert len(running) == 3


def test_delay_knob(host: SimHost) -> None:
    host.create(101)
    _set_knobs(host, delay={"start": 0.6})
    began = time.monotonic()
    host.vzctl("start", "101")
    assert time.monotonic() - began >= 0.6


def test_realistic_delays_stored_by_init(make_host: object) -> None:
    demo = make_host("demo", "--delays", "realistic")  # type: ignore[operator]
    knobs = json.loads((demo.root / ".vzsim" / "knobs.json").read_text())
    assert knobs["delay"]["start"] == 1.0
    assert knobs["delay"]["create"] == 2.0


def test_runs_log_records_every_run(host: SimHost) -> None:
    host.create(101)
    host.vzctl("start", "101")
    host.vzctl("start", "101")
    host.vzlist("-a")
    records = [
        json.loads(line) for line in (host.root / ".vzsim/runs.log").read_text().splitlines()
    ]
    ends = [r for r in records if r["event"] == "end"]
    starts = [r for r in records if r["event"] == "start"]
    assert len(starts) == len(ends) == 4
    assert [r["argv"] for r in ends] == [
        ["vzctl", "create", "101", "--ostemplate", "centos-7-x86_64-minimal"],
        ["vzctl", "start", "101"],
        ["vzctl", "start", "101"],
        ["vzlist", "-a"],
    ]
    assert [r["exit"] for r in ends] == [0, 0, 32, 0]
    assert all(r["t_end"] >= r["t_start"] and r["pid"] > 0 for r in ends)
