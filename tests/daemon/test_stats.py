"""Domains.GetStats through the real daemon on vzsim: interface counters and disk usage."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from openvz.v1 import common_pb2, domains_pb2, domains_pb2_grpc

from tests.daemon_process import DaemonProcess, running_daemon


def _wait_running(stub: domains_pb2_grpc.DomainsStub, veids: list[int]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            states = [stub.Lookup(common_pb2.DomainRef(id=v), timeout=5).state for v in veids]
        except grpc.RpcError:
            states = []
        if states and all(s == domains_pb2.DOMAIN_STATE_RUNNING for s in states):
            return
        time.sleep(0.2)
    raise AssertionError(f"the daemon did not see {veids} running")


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[DaemonProcess]:
    with running_daemon(tmp_path / "sim") as process:
        template = ("--ostemplate", "centos-7-x86_64-minimal")
        process.vzctl("create", "301", *template, "--diskspace", "1048576:1153434")
        process.vzctl("set", "301", "--netif_add", "eth0,,,,vmbr0", "--save")
        process.vzctl("create", "302", *template, "--ipadd", "10.0.0.32")
        process.vzctl("start", "301")
        process.vzctl("start", "302")
        yield process


def _stats(stub: domains_pb2_grpc.DomainsStub, veid: int) -> domains_pb2.DomainStats:
    reply = stub.GetStats(
        domains_pb2.GetStatsRequest(domains=[common_pb2.DomainRef(id=veid)]), timeout=10
    )
    assert len(reply.stats) == 1
    return reply.stats[0]


def test_veth_counters_grow_and_are_seen_from_the_guest(daemon: DaemonProcess) -> None:
    with daemon.channel() as channel:
        stub = domains_pb2_grpc.DomainsStub(channel)
        _wait_running(stub, [301, 302])
        first = _stats(stub, 301)
        assert [i.device for i in first.interfaces] == ["veth301.0"]
        time.sleep(1.2)
        daemon.vzsim("tick", str(daemon.host_root))
        later = _stats(stub, 301).interfaces[0]
        assert later.rx_bytes > first.interfaces[0].rx_bytes
        assert later.tx_packets > 0
        # vzsim's guests receive more than they send; the host veth sees it the other
        # way round, so a swapped reading would show tx > rx.
        host_line = (daemon.host_root / "proc/net/dev").read_text().split("veth301.0:")[1]
        host_rx, host_tx = int(host_line.split()[0]), int(host_line.split()[8])
        assert host_tx > host_rx
        assert later.rx_bytes > later.tx_bytes
        # A venet-only container has no device of its own on the host: no numbers.
        assert list(_stats(stub, 302).interfaces) == []


def test_disk_used_comes_from_the_quota_of_the_private_area(daemon: DaemonProcess) -> None:
    with daemon.channel() as channel:
        stub = domains_pb2_grpc.DomainsStub(channel)
        _wait_running(stub, [301])
        before = _stats(stub, 301)
        assert before.disk_used_kib > 0
        assert before.disk_hard_limit_kib == 1153434
        (daemon.host_root / "vz/private/301/data").write_bytes(b"x" * 1024 * 1024)
        time.sleep(1.2)
        daemon.vzsim("tick", str(daemon.host_root))
        assert _stats(stub, 301).disk_used_kib >= before.disk_used_kib + 1000
        # Every container in one call; 302's DISKSPACE comes from its sample config.
        everything = stub.GetStats(domains_pb2.GetStatsRequest(), timeout=10).stats
        by_id = {s.domain.id: s for s in everything}
        assert by_id[301].disk_used_kib > 0 and by_id[302].disk_used_kib > 0
