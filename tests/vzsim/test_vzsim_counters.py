"""/proc/net/dev (host veths) and /proc/vz/vzquota (simfs quota) as vzsim renders them."""

from __future__ import annotations

import time

from tests.vzsim.vzsim_harness import SimHost, vzsim


def _net_dev(host: SimHost) -> dict[str, list[int]]:
    lines = host.path("/proc/net/dev").read_text().splitlines()
    assert lines[0].startswith("Inter-|   Receive")
    assert lines[1].startswith(" face |bytes    packets errs drop")
    devices = {}
    for line in lines[2:]:
        name, _, numbers = line.partition(":")
        fields = [int(f) for f in numbers.split()]
        assert len(fields) == 16, line
        devices[name.strip()] = fields
    return devices


def _quota(host: SimHost) -> dict[int, dict[str, list[int]]]:
    blocks: dict[int, dict[str, list[int]]] = {}
    current: dict[str, list[int]] = {}
    for line in host.path("/proc/vz/vzquota").read_text().splitlines():
        if not line.startswith(" "):
            ctid, _, path = line.partition(": ")
            assert path == f"/vz/private/{ctid}"
            current = blocks.setdefault(int(ctid), {})
        else:
            label, *numbers = line.split()
            current[label] = [int(n) for n in numbers]
    return blocks


def test_net_dev_has_host_interfaces_and_running_veths(host: SimHost) -> None:
    host.create(101, "--ipadd", "10.0.0.101")
    host.create(102)
    assert host.vzctl("set", "102", "--netif_add", "eth0,,,,vmbr0", "--save").returncode == 0
    assert host.vzctl("set", "102", "--netif_add", "eth1", "--save").returncode == 0
    host.vzctl("start", "101")
    host.vzctl("start", "102")
    devices = _net_dev(host)
    assert {"lo", "eth0", "venet0", "vmbr0", "veth102.0", "veth102.1"} <= set(devices)
    # venet-only 101 has no device of its own on the host.
    assert not any(name.startswith("veth101") for name in devices)
    # Long names touch the colon, as the kernel's %6s prints them.
    assert "veth102.0:" in host.path("/proc/net/dev").read_text()
    first = devices["veth102.0"]
    time.sleep(1.1)
    assert vzsim("tick", str(host.root)).returncode == 0
    later = _net_dev(host)["veth102.0"]
    assert later[0] > first[0] and later[8] > first[8]
    # The host end receives what the guest sends: the guest's rx (host tx) is the larger.
    assert later[8] > later[0]
    host.vzctl("stop", "102")
    assert "veth102.0" not in _net_dev(host)


def test_vzquota_lists_mounted_cts_with_diskspace(host: SimHost) -> None:
    host.create(101, "--diskspace", "1048576:1153434")
    host.create(102)
    host.vzctl("start", "101")
    quota = _quota(host)
    assert 102 not in quota  # stopped and unmounted: its quota is off
    used, soft, hard, *_ = quota[101]["1k-blocks"]
    assert (soft, hard) == (1048576, 1153434)
    assert used > 0
    private = host.path("/vz/private/101")
    (private / "bigfile").write_bytes(b"x" * 512 * 1024)
    time.sleep(1.1)
    vzsim("tick", str(host.root))
    grown = _quota(host)[101]["1k-blocks"][0]
    assert grown >= used + 500
    assert _quota(host)[101]["inodes"][0] > 0
