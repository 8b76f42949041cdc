"""chkpnt/restore and suspend/resume, exec/exec2, vzmigrate between two simulated roots."""

from __future__ import annotations

import subprocess
from collections.abc import Callable

from tests.vzsim.vzsim_harness import SimHost


def test_libvirt_pause_and_resume(host: SimHost) -> None:
    host.create(101)
    host.vzctl("start", "101")
    paused = host.vzctl("--quiet", "chkpnt", "101", "--suspend")
    assert (paused.returncode, paused.stdout, paused.stderr) == (0, "", "")
    assert host.vzlist("101", "-ostatus", "-H").stdout == "running\n"
    resumed = host.vzctl("chkpnt", "101", "--resume")
    assert (resumed.returncode, resumed.stdout) == (0, "Resuming...\n")
    two = host.vzctl("chkpnt", "101", "--suspend", "--resume")
    assert (two.returncode, two.stderr) == (
        20,
        "Invalid syntax: only one sub command may be used\n",
    )


def test_full_checkpoint_and_restore(host: SimHost) -> None:
    host.create(101, "--ipadd", "10.0.0.1")
    not_running = host.vzctl("chkpnt", "101")
    assert not_running.returncode == 31
    host.vzctl("start", "101")
    result = host.vzctl("suspend", "101")
    assert result.returncode == 0
    assert result.stdout == (
        "Setting up checkpoint...\n\tsuspend...\n\tdump...\n\tkill...\n"
        "Checkpointing completed successfully\nContainer is unmounted\n"
    )
    assert host.path("/vz/dump/Dump.101").is_file()
    assert host.vzctl("status", "101").stdout == "CTID 101 exist unmounted down suspended\n"
    assert host.vzlist("-a", "-H", "-o", "ctid,status").stdout == "       101 suspended\n"
    restored = host.vzctl("resume", "101")
    assert restored.returncode == 0
    assert restored.stdout.endswith("Restoring completed successfully\n")
    assert not host.path("/vz/dump/Dump.101").exists()
    assert host.vzlist("101", "-H", "-o", "ip").stdout == "10.0.0.1\n"
    again = host.vzctl("restore", "101")
    assert (again.returncode, again.stderr) == (
        32,
        "Unable to perform restore: container already running\n",
    )


def test_start_restores_from_dump(host: SimHost) -> None:
    host.create(101)
    host.vzctl("start", "101")
    host.vzctl("chkpnt", "101")
    result = host.vzctl("start", "101")
    assert result.returncode == 0
    assert result.stdout.startswith(
        "Dump file /vz/dump/Dump.101 exists, trying to restore from it\n"
    )
    assert host.vzctl("status", "101").stdout == "CTID 101 exist mounted running\n"


def test_exec_and_exec2(host: SimHost) -> None:
    host.create(101)
    stopped = host.vzctl("exec", "101", "true")
    assert (stopped.returncode, stopped.stderr) == (8, "Container is not running\n")
    assert host.vzctl("exec2", "101", "true").returncode == 31
    host.vzctl("start", "101")
    shown = host.vzctl("exec", "101", "echo", "$VEID", ";", "pwd")
    assert (shown.returncode, shown.stdout) == (0, f"101\n{host.root}/vz/root/101\n")
    assert host.vzctl("exec", "101", "exit", "3").returncode == 8
    assert host.vzctl("exec2", "101", "exit", "3").returncode == 3
    piped = host.run("vzctl", "exec", "101", "-", stdin="echo from-stdin\n")
    assert piped.stdout == "from-stdin\n"


def test_offline_migration(make_host: Callable[..., SimHost]) -> None:
    source, dest = make_host("src"), make_host("dst")
    source.create(101, "--ipadd", "10.0.0.1", "--name", "web1")
    source.vzctl("start", "101")
    result = source.run("vzmigrate", str(dest.root), "101")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"Locked CT 101\nStarting migration of CT 101 to {dest.root}\n")
    assert dest.vzctl("status", "101").stdout == "CTID 101 exist mounted running\n"
    assert dest.vzlist("101", "-ostatus", "-H").stdout == "running\n"
    assert str(dest.path("/etc/vz/names/web1").readlink()) == "/etc/vz/conf/101.conf"
    assert source.vzctl("status", "101").stdout == "CTID 101 deleted unmounted down\n"
    assert not source.path("/vz/lock/101.lck").exists()
    again = dest.run("vzmigrate", str(source.root), "101", "-r", "no")
    assert again.returncode == 0
    assert dest.path("/etc/vz/conf/101.conf.migrated").exists()


def test_live_migration_and_errors(make_host: Callable[..., SimHost]) -> None:
    source, dest = make_host("src"), make_host("dst")
    source.create(101, "--ipadd", "10.0.0.1")
    stopped = source.run("vzmigrate", "--live", str(dest.root), "101")
    assert stopped.returncode == 2
    source.vzctl("start", "101")
    assert source.run("vzmigrate", "/nonexistent/host", "101").returncode == 4
    assert source.run("vzmigrate", str(dest.root), "555").returncode == 10
    usage = source.run("vzmigrate", str(dest.root))
    assert usage.returncode == 1
    dest.create(102, "--ipadd", "10.0.0.1")
    dest.vzctl("start", "102")
    conflict = source.run("vzmigrate", str(dest.root), "101")
    assert conflict.returncode == 12
    dest.vzctl("stop", "102")
    live = source.run("vzmigrate", "--online", str(dest.root), "101")
    assert live.returncode == 0, live.stderr
    assert "Starting live migration of CT 101" in live.stdout
    assert dest.vzlist("101", "-ostatus", "-H").stdout == "running\n"
    assert source.vzctl("status", "101").stdout == "CTID 101 deleted unmounted down\n"
    exists = dest.run("vzmigrate", str(dest.root), "101")
    assert exists.returncode == 9


def test_migration_of_locked_ct_is_20(make_host: Callable[..., SimHost]) -> None:
    source, dest = make_host("src"), make_host("dst")
    source.create(101)
    holder = subprocess.Popen(["sleep", "5"])
    try:
        source.path("/vz/lock/101.lck").write_text(f"{holder.pid}\n\n")
        locked = source.run("vzmigrate", str(dest.root), "101")
        assert (locked.returncode, locked.stderr) == (
            20,
            f"Error: CT 101 already locked by PID {holder.pid}\n",
        )
    finally:
        holder.kill()
        holder.wait()
