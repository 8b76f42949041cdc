"""What a virsh user expects of a container's life (issue 15), on the real daemon.

Each difference is tested through ovzsh against the real daemon;
docs/libvirt-semantics.md says where openvzd follows libvirt's OpenVZ driver and
where it differs."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import openvz
import pytest

from tests.client.helpers import OVZSH, example_xml, ovzsh_env, uri_of
from tests.daemon_process import DaemonProcess, running_daemon


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    """The default simulated host, as `openvzd --simulate DIR` lays it out."""
    with running_daemon(tmp_path_factory.mktemp("semantics") / "sim") as process:
        yield process


def ovzsh(daemon: DaemonProcess, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [OVZSH, "-c", uri_of(daemon), *argv],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=ovzsh_env(),
    )


def with_bridge(xml: str, bridge: str, host_dev: str) -> str:
    """The example container with one veth on bridge, host end named host_dev."""
    interface = (
        f"<interface type='bridge'><source bridge='{bridge}'/>"
        f"<target dev='{host_dev}'/><guest dev='eth0'/></interface>"
    )
    return re.sub(r"<interface type=.ethernet.>.*?</interface>", interface, xml, flags=re.S)


def define_file(daemon: DaemonProcess, tmp_path: Path, veid: int, xml: str) -> str:
    path = tmp_path / f"ct-{veid}.xml"
    path.write_text(xml)
    result = ovzsh(daemon, "define", str(path))
    assert result.returncode == 0, result.stderr
    return str(path)


def test_a_container_on_br0_starts_on_the_default_simulated_host(
    daemon: DaemonProcess, tmp_path: Path
) -> None:
    define_file(daemon, tmp_path, 104, with_bridge(example_xml(daemon, 104), "br0", "veth104.0"))
    started = ovzsh(daemon, "start", "104")
    assert started.returncode == 0, started.stderr
    assert (daemon.host_root / ".vzsim" / "bridges" / "br0").read_text() == "veth104.0\n"
    listed = ovzsh(daemon, "domiflist", "104")
    assert " veth104.0   bridge   br0 " in listed.stdout
    assert ovzsh(daemon, "destroy", "104").returncode == 0


def test_the_seeds_example_file_defines_verbatim_and_starts(tmp_path: Path) -> None:
    """Container 104 with veth101.0 on br0, the file as it is, on a default host of its own."""
    seed = Path(__file__).parent.parent / "data" / "domxml" / "seed-veth-on-104-in.xml"
    with running_daemon(tmp_path / "sim") as daemon:
        defined = ovzsh(daemon, "define", str(seed))
        assert defined.returncode == 0, defined.stderr
        started = ovzsh(daemon, "start", "104")
        assert started.returncode == 0, started.stderr
        bridge = daemon.host_root / ".vzsim" / "bridges" / "br0"
        assert bridge.read_text() == "veth101.0\n"
        assert ovzsh(daemon, "domstate", "104").stdout.startswith("running")


def test_the_seeds_example_defines_and_starts(daemon: DaemonProcess, tmp_path: Path) -> None:
    # veth101.0 on container 105: vzctl takes any host_ifname, and libvirt passes it on.
    xml = with_bridge(example_xml(daemon, 105), "br0", "veth101.0")
    define_file(daemon, tmp_path, 105, xml)
    assert ovzsh(daemon, "start", "105").returncode == 0
    assert "<target dev='veth101.0'/>" in ovzsh(daemon, "dumpxml", "105").stdout.replace('"', "'")


def test_destroy_of_a_stopped_container_fails(daemon: DaemonProcess, tmp_path: Path) -> None:
    define_file(daemon, tmp_path, 106, example_xml(daemon, 106))
    result = ovzsh(daemon, "destroy", "106")
    assert result.returncode == 1
    assert "domain is not in running state" in result.stderr


def test_shutdown_of_a_stopped_container_fails(daemon: DaemonProcess, tmp_path: Path) -> None:
    define_file(daemon, tmp_path, 107, example_xml(daemon, 107))
    result = ovzsh(daemon, "shutdown", "107")
    assert result.returncode == 1
    assert "domain is not in running state" in result.stderr


def test_reboot_of_a_stopped_container_does_not_start_it(
    daemon: DaemonProcess, tmp_path: Path
) -> None:
    define_file(daemon, tmp_path, 108, example_xml(daemon, 108))
    result = ovzsh(daemon, "reboot", "108")
    assert result.returncode == 1
    assert ovzsh(daemon, "domstate", "108").stdout.startswith("shut off")


def test_domstate_reason_after_destroy(daemon: DaemonProcess, tmp_path: Path) -> None:
    define_file(daemon, tmp_path, 109, example_xml(daemon, 109))
    assert ovzsh(daemon, "start", "109").returncode == 0
    assert ovzsh(daemon, "destroy", "109").returncode == 0
    assert ovzsh(daemon, "domstate", "--reason", "109").stdout == "shut off (destroyed)\n\n"


def test_domstate_reason_after_resume(daemon: DaemonProcess, tmp_path: Path) -> None:
    define_file(daemon, tmp_path, 110, example_xml(daemon, 110))
    for step in ("start", "suspend", "resume"):
        assert ovzsh(daemon, step, "110").returncode == 0
    assert ovzsh(daemon, "domstate", "--reason", "110").stdout == "running (unpaused)\n\n"
    assert ovzsh(daemon, "destroy", "110").returncode == 0


def test_setvcpus_beyond_the_host_is_refused(daemon: DaemonProcess, tmp_path: Path) -> None:
    define_file(daemon, tmp_path, 111, example_xml(daemon, 111))
    result = ovzsh(daemon, "setvcpus", "111", "1000")
    assert result.returncode == 1
    maximum = ovzsh(daemon, "maxvcpus").stdout.strip()
    assert maximum in result.stderr


def test_create_is_persistent_as_in_libvirts_driver(daemon: DaemonProcess, tmp_path: Path) -> None:
    # libvirt's OpenVZ driver marks a created container persistent (openvzDomainCreateXML:
    # "All OpenVZ domains seem to be persistent"); docs/libvirt-semantics.md says why.
    path = tmp_path / "ct-112.xml"
    path.write_text(example_xml(daemon, 112))
    assert ovzsh(daemon, "create", str(path)).returncode == 0
    assert "112" not in ovzsh(daemon, "list", "--transient", "--name").stdout.split()
    assert "112" in ovzsh(daemon, "list", "--persistent", "--name").stdout.split()
    with openvz.open(uri_of(daemon)) as conn:
        assert conn.lookup_by_name("112").is_persistent()
        conn.lookup_by_name("112").destroy()
    # Stopping it does not undefine it: it is listed, shut off.
    assert ovzsh(daemon, "domstate", "112").stdout.startswith("shut off")


def test_setmem_and_setmaxmem_set_the_one_limit(daemon: DaemonProcess, tmp_path: Path) -> None:
    # A container has no balloon: current allocation and maximum are its one memory
    # limit, which both commands set (docs/libvirt-semantics.md).
    define_file(daemon, tmp_path, 113, example_xml(daemon, 113))

    def memory_elements() -> list[str]:
        xml = ovzsh(daemon, "dumpxml", "--inactive", "113").stdout.replace('"', "'")
        return re.findall(r"<(?:memory|currentMemory) unit='KiB'>(\d+)<", xml)

    assert ovzsh(daemon, "setmem", "113", "256M").returncode == 0
    assert memory_elements() == ["262144", "262144"]
    raised = ovzsh(daemon, "setmaxmem", "113", "1G")
    assert raised.returncode == 0, raised.stderr
    assert memory_elements() == ["1048576", "1048576"]
    assert "Max memory:     1048576 KiB" in ovzsh(daemon, "dominfo", "113").stdout
