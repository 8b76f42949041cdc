"""Debian's real virsh (libvirt 9.0) against openvzd on vzsim, over the libvirt
front-end's unix sockets."""

from __future__ import annotations

import subprocess
import time

import pytest

from tests.daemon_process import DaemonProcess
from tests.libvirt.conftest import SEED_XML, domain_xml, libvirt_sockets, uri, virsh


def ok(daemon: DaemonProcess, *args: str) -> str:
    result = virsh(daemon, *args)
    assert result.returncode == 0, f"virsh {' '.join(args)}: {result.stderr}"
    return result.stdout


def wait_for_state(daemon: DaemonProcess, name: str, state: str, within: float = 15) -> None:
    """Until the daemon's monitor has seen a change made behind its back."""
    deadline = time.monotonic() + within
    while ok(daemon, "domstate", name).strip() != state:
        assert time.monotonic() < deadline, f"{name} is not {state} after {within} s"
        time.sleep(0.2)


def fields(text: str) -> dict[str, str]:
    return {
        key.strip(): value.strip()
        for key, _, value in (line.partition(":") for line in text.splitlines())
    }


def test_sockets_have_libvirts_paths_and_modes(libvirt_daemon: DaemonProcess) -> None:
    rw, ro = libvirt_sockets(libvirt_daemon)
    assert rw.stat().st_mode & 0o777 == 0o600
    assert ro.stat().st_mode & 0o777 == 0o666


def test_the_seed_example_through_its_whole_life(libvirt_daemon: DaemonProcess) -> None:
    daemon = libvirt_daemon
    ok(daemon, "define", str(SEED_XML))
    assert ok(daemon, "list", "--all").split() == ["-", "104", "shut", "off"]
    assert ok(daemon, "domstate", "104").strip() == "shut off"

    ok(daemon, "start", "104")
    info = fields(ok(daemon, "dominfo", "104"))
    assert info["Id"] == "104"
    assert info["UUID"] == "7109d234-f5a8-30a6-5dd2-39ca85ce3958"
    assert info["State"] == "running"
    assert info["OS Type"] == "exe"
    assert info["Max memory"] == "278528 KiB"
    assert info["Persistent"] == "yes"
    assert ok(daemon, "domstate", "--reason", "104").strip() == "running (booted)"

    stats = ok(daemon, "domstats", "104").split()
    assert {"state.state=1", "balloon.maximum=278528", "vcpu.current=1", "net.count=1"} <= set(
        stats
    )
    memory = dict(line.split() for line in ok(daemon, "dommemstat", "104").splitlines() if line)
    assert memory["actual"] == "278528" and int(memory["rss"]) > 0
    # The host end keeps the name the XML gave it.
    assert "veth101.0 rx_bytes" in ok(daemon, "domifstat", "104", "veth101.0")
    no_veth = virsh(daemon, "domifstat", "104", "veth104.0")
    assert no_veth.returncode == 1 and "not a known interface" in no_veth.stderr

    xml = ok(daemon, "dumpxml", "104")
    assert "<name>104</name>" in xml
    assert "<uuid>7109d234-f5a8-30a6-5dd2-39ca85ce3958</uuid>" in xml
    assert "<source name='debian'/>" in xml or '<source name="debian"/>' in xml

    ok(daemon, "suspend", "104")
    assert ok(daemon, "domstate", "--reason", "104").strip() == "paused (user)"
    ok(daemon, "resume", "104")
    assert ok(daemon, "domstate", "104").strip() == "running"

    ok(daemon, "setvcpus", "104", "2")
    ok(daemon, "setmem", "104", "300M")
    info = fields(ok(daemon, "dominfo", "104"))
    assert info["CPU(s)"] == "2"
    assert info["Max memory"] == "307200 KiB"
    assert ok(daemon, "vcpucount", "104", "--current", "--live").strip() == "2"

    ok(daemon, "memtune", "104", "--hard-limit", "400000", "--min-guarantee", "140000")
    tuned = fields(ok(daemon, "memtune", "104"))
    assert (tuned["hard_limit"], tuned["min_guarantee"]) == ("400000", "140000")
    ok(daemon, "setmaxmem", "104", "500M")
    assert fields(ok(daemon, "dominfo", "104"))["Max memory"] == "512000 KiB"

    ok(daemon, "autostart", "104")
    assert fields(ok(daemon, "dominfo", "104"))["Autostart"] == "enable"
    ok(daemon, "autostart", "--disable", "104")
    assert fields(ok(daemon, "dominfo", "104"))["Autostart"] == "disable"

    ok(daemon, "shutdown", "104")
    assert ok(daemon, "domstate", "--reason", "104").strip() == "shut off (shutdown)"
    ok(daemon, "start", "104")
    ok(daemon, "destroy", "104")
    assert ok(daemon, "domstate", "--reason", "104").strip() == "shut off (destroyed)"
    # define over an existing domain updates its definition, as libvirtd's does:
    # the file's one vCPU replaces the two setvcpus gave it.
    assert fields(ok(daemon, "dominfo", "104"))["CPU(s)"] == "2"
    ok(daemon, "define", str(SEED_XML))
    assert fields(ok(daemon, "dominfo", "104"))["CPU(s)"] == "1"
    ok(daemon, "undefine", "104")
    assert ok(daemon, "list", "--all").strip() == ""


def test_errors_clients_branch_on(libvirt_daemon: DaemonProcess) -> None:
    daemon = libvirt_daemon
    missing = virsh(daemon, "dominfo", "999")
    assert missing.returncode == 1
    assert "failed to get domain '999'" in missing.stderr

    (daemon.sim_dir / "d110.xml").write_text(domain_xml(110))
    ok(daemon, "define", str(daemon.sim_dir / "d110.xml"))
    not_running = virsh(daemon, "suspend", "110")
    assert not_running.returncode == 1
    assert "container is not running" in not_running.stderr, not_running.stderr

    ok(daemon, "start", "110")
    exists = virsh(daemon, "create", str(daemon.sim_dir / "d110.xml"))
    assert exists.returncode == 1
    assert "already exists" in exists.stderr
    ok(daemon, "destroy", "110")
    ok(daemon, "undefine", "110")


def test_read_only_socket_refuses_every_change(libvirt_daemon: DaemonProcess) -> None:
    daemon = libvirt_daemon
    (daemon.sim_dir / "d120.xml").write_text(domain_xml(120))
    ok(daemon, "define", str(daemon.sim_dir / "d120.xml"))
    reads = virsh(daemon, "list", "--all", read_only_socket=True)
    assert reads.returncode == 0 and "120" in reads.stdout
    for command in (
        ["start", "120"],
        ["undefine", "120"],
        ["setmem", "120", "300M"],
        ["define", str(daemon.sim_dir / "d120.xml")],
    ):
        refused = virsh(daemon, *command, read_only_socket=True)
        assert refused.returncode == 1, command
        assert "read only access prevents" in refused.stderr, refused.stderr
    assert ok(daemon, "domstate", "120").strip() == "shut off"
    ok(daemon, "undefine", "120")


def test_read_only_open_is_refused_too(libvirt_daemon: DaemonProcess) -> None:
    """virsh -r on the read-write socket: CONNECT_OPEN with VIR_CONNECT_RO."""
    daemon = libvirt_daemon
    (daemon.sim_dir / "d121.xml").write_text(domain_xml(121))
    ok(daemon, "define", str(daemon.sim_dir / "d121.xml"))
    rw, _ = libvirt_sockets(daemon)
    refused = subprocess.run(
        ["virsh", "-r", "-c", uri(rw), "start", "121"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"LC_ALL": "C", "PATH": "/usr/bin:/bin", "HOME": str(daemon.sim_dir)},
    )
    assert refused.returncode == 1
    assert "read only access prevents" in refused.stderr
    assert ok(daemon, "domstate", "121").strip() == "shut off"
    ok(daemon, "undefine", "121")


def test_unknown_procedures_are_no_support_and_the_connection_lives(
    libvirt_daemon: DaemonProcess,
) -> None:
    # net-list calls procedures openvzd does not serve; the next command in the same
    # virsh session must still work.
    result = virsh(libvirt_daemon, "net-list --all ; list --all ; hostname")
    assert "unknown procedure: 52" in result.stderr
    assert result.stdout.strip().endswith(
        (libvirt_daemon.host_root / "etc" / "hostname").read_text().strip()
    )


def test_event_loop_sees_an_out_of_band_vzctl_stop(libvirt_daemon: DaemonProcess) -> None:
    daemon = libvirt_daemon
    (daemon.sim_dir / "d130.xml").write_text(domain_xml(130))
    ok(daemon, "define", str(daemon.sim_dir / "d130.xml"))
    ok(daemon, "start", "130")
    rw, _ = libvirt_sockets(daemon)
    watcher = subprocess.Popen(
        ["virsh", "-c", uri(rw), "event", "--loop", "--all", "--timeout", "12"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={"LC_ALL": "C", "PATH": "/usr/bin:/bin", "HOME": str(daemon.sim_dir)},
    )
    try:
        time.sleep(2)  # virsh registers its 27 callbacks
        daemon.vzctl("stop", "130")
        wait_for_state(daemon, "130", "shut off")
        ok(daemon, "start", "130")
        out, err = watcher.communicate(timeout=40)
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.wait(timeout=10)
    assert "event 'lifecycle' for domain '130': Stopped Shutdown" in out, (out, err)
    assert "event 'lifecycle' for domain '130': Started Booted" in out, (out, err)
    ok(daemon, "destroy", "130")
    ok(daemon, "undefine", "130")


@pytest.mark.parametrize("command", ["nodeinfo", "version", "uri", "hostname", "capabilities"])
def test_host_commands(libvirt_daemon: DaemonProcess, command: str) -> None:
    out = ok(libvirt_daemon, command)
    assert out.strip()
    if command == "version":
        assert "Running hypervisor: OpenVZ 3.0.23" in out
