"""`ovzsh domifstat` and Domain.interface_stats (sync and asyncio) on the real daemon."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator

import openvz
import openvz.aio
import pytest

from tests.daemon_process import BIN, DaemonProcess, running_daemon

COUNTERS = [
    "rx_bytes",
    "rx_packets",
    "rx_errs",
    "rx_drop",
    "tx_bytes",
    "tx_packets",
    "tx_errs",
    "tx_drop",
]


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    with running_daemon(tmp_path_factory.mktemp("domifstat") / "sim") as process:
        for args in (
            ["create", "701", "--ostemplate", "centos-7-x86_64-minimal"],
            ["set", "701", "--netif_add", "eth0,,,,vmbr0", "--save"],
            ["start", "701"],
            ["create", "702", "--ostemplate", "centos-7-x86_64-minimal"],
            ["start", "702"],
        ):
            process.vzctl(*args)
        deadline = time.monotonic() + 30
        while "702" not in ovzsh(process, "list", "--name").stdout.split():
            assert time.monotonic() < deadline, "the daemon never saw the containers"
            time.sleep(0.2)
        yield process


def ovzsh(daemon: DaemonProcess, *args: str) -> subprocess.CompletedProcess[str]:
    uri = f"openvz+unix:///system?socket={daemon.rw_socket}"
    return subprocess.run(
        [str(BIN / "ovzsh"), "-c", uri, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_domifstat_prints_virsh_lines_by_host_or_guest_name(daemon: DaemonProcess) -> None:
    by_host = ovzsh(daemon, "domifstat", "701", "veth701.0")
    assert by_host.returncode == 0, by_host.stderr
    lines = [line.split() for line in by_host.stdout.splitlines() if line.strip()]
    assert [line[:2] for line in lines] == [["veth701.0", name] for name in COUNTERS]
    assert int(lines[0][2]) > 0  # rx_bytes grows with uptime
    by_guest = ovzsh(daemon, "domifstat", "701", "eth0")
    assert by_guest.returncode == 0, by_guest.stderr
    assert by_guest.stdout.splitlines()[0].startswith("eth0 rx_bytes ")
    as_json = json.loads(ovzsh(daemon, "domifstat", "701", "eth0", "--json").stdout)
    assert as_json["device"] == "veth701.0"
    assert set(as_json) == {"device", *COUNTERS}


def test_an_unknown_device_is_not_found_with_the_choices(daemon: DaemonProcess) -> None:
    unknown = ovzsh(daemon, "domifstat", "701", "eth7")
    assert unknown.returncode == 1
    assert "has no interface 'eth7'; it has veth701.0 (eth0)" in unknown.stderr
    venet = ovzsh(daemon, "domifstat", "702", "venet0")
    assert venet.returncode == 1
    assert "venet has no per-container device" in venet.stderr


def test_library_sync_and_asyncio(daemon: DaemonProcess) -> None:
    uri = f"openvz+unix:///system?socket={daemon.rw_socket}"
    with openvz.open(uri) as conn:
        counters = conn.lookup_by_id(701).interface_stats("eth0")
        assert counters.device == "veth701.0" and counters.rx_bytes > 0
        with pytest.raises(openvz.NotFound):
            conn.lookup_by_id(701).interface_stats("veth999.0")

    async def via_asyncio() -> None:
        async with await openvz.aio.open(uri) as conn:
            domain = await conn.lookup_by_id(701)
            assert (await domain.interface_stats("veth701.0")).rx_bytes > 0
            with pytest.raises(openvz.NotFound):
                await domain.interface_stats("eth3")

    import asyncio

    asyncio.run(via_asyncio())
