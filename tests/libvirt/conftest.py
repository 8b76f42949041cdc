"""A real openvzd on a simulated host for Debian's real libvirt clients.

The host has the UBC personality (vzctl 3.0.23: no VSwap), the kind libvirt's
OpenVZ driver and its example XML were written for, and an OS template named
"debian" in its cache, which that example asks for."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.daemon_process import BIN, DaemonProcess, running_daemon

DATA = Path(__file__).parent.parent / "data" / "libvirt"
SEED_XML = DATA / "seed-example.xml"


def prepare_host(sim_dir: Path) -> None:
    subprocess.run(
        [
            str(BIN / "vzsim"),
            "init",
            str(sim_dir / "host"),
            "--personality",
            "3.0.23",
            "--delays",
            "none",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    cache = sim_dir / "host" / "vz" / "template" / "cache"
    shutil.copyfile(cache / "centos-6-x86.tar.gz", cache / "debian.tar.gz")


def libvirt_sockets(daemon: DaemonProcess) -> tuple[Path, Path]:
    folder = daemon.sim_dir / "run" / "libvirt"
    return folder / "virtopenvzd-sock", folder / "virtopenvzd-sock-ro"


def uri(socket: Path) -> str:
    return f"openvz+unix:///system?socket={socket}"


def domain_xml(veid: int) -> str:
    """The seed's example with another <name>, and without what is one container's
    own: its <uuid>, its interface's <mac> and host end name (<target>)."""
    text = SEED_XML.read_text()
    text = text.replace("<name>104</name>", f"<name>{veid}</name>")
    own = ("<uuid>", "<mac ", "<target dev=")
    return "\n".join(line for line in text.splitlines() if not any(o in line for o in own))


@pytest.fixture(scope="module")
def libvirt_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    sim_dir = tmp_path_factory.mktemp("libvirt-sim")
    prepare_host(sim_dir)
    with running_daemon(sim_dir) as daemon:
        yield daemon


def virsh(
    daemon: DaemonProcess, *args: str, read_only_socket: bool = False, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    rw, ro = libvirt_sockets(daemon)
    return subprocess.run(
        ["virsh", "-q", "-c", uri(ro if read_only_socket else rw), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={"LC_ALL": "C", "PATH": "/usr/bin:/bin", "HOME": str(daemon.sim_dir)},
    )
