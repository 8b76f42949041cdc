"""ovzsh and the library against a real `openvzd --simulate` process."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import openvz
import pytest

from tests.client.helpers import ovzsh
from tests.daemon_process import BIN, DaemonProcess, running_daemon


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    with running_daemon(tmp_path_factory.mktemp("ovzsh") / "sim") as process:
        yield process


def test_tour(daemon: DaemonProcess) -> None:
    example = daemon.sim_dir / "example-150.xml"
    defined = ovzsh(daemon, "define", str(example))
    assert defined.returncode == 0, defined.stderr
    assert defined.stdout.strip() == f"Domain '150' defined from {example}"
    assert ovzsh(daemon, "start", "150").returncode == 0
    listed = ovzsh(daemon, "list", "--all").stdout.splitlines()
    assert listed[0].split() == ["Id", "Name", "State"]
    assert listed[2].split() == ["150", "150", "running"]
    info = ovzsh(daemon, "dominfo", "150").stdout
    assert "State:          running" in info
    assert "Max memory:     524288 KiB" in info
    xml = ovzsh(daemon, "dumpxml", "150").stdout
    assert "<name>150</name>" in xml and "centos-7-x86_64-minimal" in xml
    assert ovzsh(daemon, "destroy", "150").returncode == 0
    assert ovzsh(daemon, "domstate", "--reason", "150").stdout.strip() == "shut off (destroyed)"
    # What dumpxml printed defines an identical container again.
    saved = ovzsh(daemon, "dumpxml", "--inactive", "150").stdout
    assert ovzsh(daemon, "undefine", "150").returncode == 0
    assert "150" not in ovzsh(daemon, "list", "--all", "--name").stdout.split()
    private = daemon.host_root / "vz" / "private"
    kept = [p.name for p in private.iterdir() if p.name.startswith("150.undefined-")]
    assert len(kept) == 1 and not (private / "150").exists()
    again = daemon.sim_dir / "again.xml"
    again.write_text(saved)
    redefined = ovzsh(daemon, "define", str(again))
    assert redefined.returncode == 0, redefined.stderr
    assert ovzsh(daemon, "dumpxml", "--inactive", "150").stdout == saved


def test_errors_say_what_is_wrong(daemon: DaemonProcess) -> None:
    unknown = ovzsh(daemon, "start", "4242")
    assert unknown.returncode == 1
    assert unknown.stderr.startswith("error: no container named '4242'")
    refused = ovzsh(daemon, "start", "150", read_only=True)
    assert refused.returncode == 1
    assert "read-only" in refused.stderr
    missing = subprocess.run(
        [
            str(BIN / "ovzsh"),
            "-c",
            "openvz+unix:///system?socket=/nonexistent/openvzd.sock",
            "list",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert missing.returncode == 1
    assert "/nonexistent/openvzd.sock" in missing.stderr
    assert "openvzd --simulate" in missing.stderr


def test_library_round_trip(daemon: DaemonProcess) -> None:
    uri = f"openvz+unix:///system?socket={daemon.rw_socket}"
    with openvz.open(uri) as conn:
        xml = (daemon.sim_dir / "example-150.xml").read_text().replace("150", "160")
        dom = conn.define_xml(xml)
        assert isinstance(dom, openvz.Domain)
        job = dom.create(wait=False)
        assert job is not None
        job.wait(timeout=30)
        assert job.state == "succeeded"
        assert dom.state() == ("running", "booted")
        with pytest.raises(openvz.WrongState):
            dom.undefine()
        dom.destroy()
        dom.undefine()
        with pytest.raises(openvz.NotFound):
            conn.lookup_by_id(160)
        leftovers = [
            p for p in (daemon.host_root / "vz" / "private").iterdir() if p.name.startswith("160")
        ]
        assert leftovers == []  # without keep_storage the private area goes, as vzctl does
    with openvz.open_read_only(uri) as conn:
        assert conn.version().simulated
        with pytest.raises(openvz.PermissionDenied):
            conn.lookup_by_name("150").create()


def test_bad_xml_is_refused_before_it_becomes_a_job(daemon: DaemonProcess, tmp_path: Path) -> None:
    bad = tmp_path / "bad.xml"
    bad.write_text(
        '<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        "<domain type='openvz'><name>&x;</name></domain>"
    )
    result = ovzsh(daemon, "define", str(bad))
    assert result.returncode == 1
    assert "DOCTYPE" in result.stderr
    disk = tmp_path / "disk.xml"
    disk.write_text(
        "<domain type='openvz'><name>170</name><devices><disk type='file'/></devices></domain>"
    )
    result = ovzsh(daemon, "define", str(disk))
    assert result.returncode == 1 and "<disk>" in result.stderr


def test_event_loop_prints_virsh_lines_until_its_timeout(daemon: DaemonProcess) -> None:
    uri = f"openvz+unix:///system?socket={daemon.rw_socket}"
    xml = (daemon.sim_dir / "example-150.xml").read_text().replace("150", "165")
    (daemon.sim_dir / "ct-165.xml").write_text(xml)
    assert ovzsh(daemon, "define", str(daemon.sim_dir / "ct-165.xml")).returncode == 0
    watcher = subprocess.Popen(
        [str(BIN / "ovzsh"), "-c", uri, "event", "--loop", "--domain", "165", "--timeout", "6"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # The stream may open after the first change: change until one is seen (bounded).
        for action in ("start", "destroy", "start", "shutdown", "start", "destroy"):
            time.sleep(0.4)
            assert ovzsh(daemon, action, "165").returncode == 0
        stdout, stderr = watcher.communicate(timeout=60)
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.wait(timeout=10)
    assert watcher.returncode == 0, stderr
    lines = stdout.splitlines()
    assert lines.pop() == ""  # virsh's blank line after a command
    assert lines[-2:] == ["event loop timed out", f"events received: {len(lines) - 2}"]
    # virsh's details: how each stop came about.
    assert "event 'lifecycle' for domain '165': Stopped Shutdown" in lines
    assert "event 'lifecycle' for domain '165': Stopped Destroyed" in lines
    assert set(lines[:-2]) <= {
        "event 'lifecycle' for domain '165': Started Booted",
        "event 'lifecycle' for domain '165': Stopped Shutdown",
        "event 'lifecycle' for domain '165': Stopped Destroyed",
    }


def test_the_default_uri_comes_from_the_environment(daemon: DaemonProcess) -> None:
    uri = f"openvz+unix:///system?socket={daemon.rw_socket}"
    env = {**os.environ, "GRPC_VERBOSITY": "NONE", "OPENVZ_DEFAULT_URI": uri}
    outputs = []
    for argv in (["uri"], ["hostname"]):
        result = subprocess.run(
            [str(BIN / "ovzsh"), *argv], capture_output=True, text=True, timeout=60, env=env
        )
        assert result.returncode == 0, result.stderr
        outputs.append(result.stdout)
    assert outputs == [f"{uri}\n\n", ovzsh(daemon, "hostname").stdout]


def test_commands_piped_into_the_shell(daemon: DaemonProcess) -> None:
    uri = f"openvz+unix:///system?socket={daemon.rw_socket}"
    result = subprocess.run(
        [str(BIN / "ovzsh"), "-c", uri],
        input="hostname\ndomstate 4242\nuri\n",
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "GRPC_VERBOSITY": "NONE"},
    )
    hostname = ovzsh(daemon, "hostname").stdout
    assert result.stdout == f"{hostname}{uri}\n\n"  # no banner, no prompts
    assert result.stderr.startswith("error: no container named '4242'")
    assert result.returncode == 0  # the last command's status


def test_the_shells_connect_fails_at_once_and_keeps_the_connection(
    daemon: DaemonProcess, tmp_path: Path
) -> None:
    uri = f"openvz+unix:///system?socket={daemon.rw_socket}"
    nowhere = f"openvz+unix:///system?socket={tmp_path / 'openvzd.sock'}"
    result = subprocess.run(
        [str(BIN / "ovzsh"), "-c", uri],
        input=f"connect {nowhere}\nuri\n",
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "GRPC_VERBOSITY": "NONE"},
    )
    assert result.stderr.startswith("error: cannot reach openvzd: there is no socket")
    assert result.stdout == f"{uri}\n\n"  # uri still names the daemon that answers
