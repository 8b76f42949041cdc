"""Faults through the real daemon: each vzctl exit code, a missing vzctl, a
vzctl killed half-way through a config write."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from openvz.v1 import common_pb2, domains_pb2, domains_pb2_grpc, host_pb2, host_pb2_grpc

from tests.daemon_process import DaemonProcess, running_daemon

# vzctl exit code -> the status a client gets (spec §1.8 through api/errors.py).
CODES = {
    14: grpc.StatusCode.NOT_FOUND,
    31: grpc.StatusCode.FAILED_PRECONDITION,
    32: grpc.StatusCode.FAILED_PRECONDITION,
    43: grpc.StatusCode.NOT_FOUND,
    46: grpc.StatusCode.RESOURCE_EXHAUSTED,
    78: grpc.StatusCode.ALREADY_EXISTS,
    79: grpc.StatusCode.UNKNOWN,
    91: grpc.StatusCode.NOT_FOUND,
    105: grpc.StatusCode.FAILED_PRECONDITION,
    130: grpc.StatusCode.NOT_FOUND,
}


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    with running_daemon(tmp_path_factory.mktemp("faults") / "sim") as process:
        process.vzsim("populate", str(process.host_root), "--count", "3", "--first-id", "500")
        import time

        time.sleep(2.5)
        yield process


def _knobs(daemon: DaemonProcess, knobs: dict[str, object]) -> None:
    (daemon.host_root / ".vzsim" / "knobs.json").write_text(json.dumps(knobs))


def _start(daemon: DaemonProcess, veid: int) -> grpc.RpcError:
    with daemon.channel() as channel:
        stub = domains_pb2_grpc.DomainsStub(channel)
        with pytest.raises(grpc.RpcError) as caught:
            stub.Start(domains_pb2.DomainCall(domain=common_pb2.DomainRef(id=veid)), timeout=30)
    return caught.value


@pytest.mark.parametrize(("code", "status"), sorted(CODES.items()))
def test_each_exit_code_becomes_a_status_with_the_tools_message(
    daemon: DaemonProcess, code: int, status: grpc.StatusCode
) -> None:
    _knobs(daemon, {"faults": [{"command": "start", "count": 1, "exit": code}]})
    error = _start(daemon, 500)
    assert error.code() == status  # type: ignore[attr-defined]
    details = error.details() or ""  # type: ignore[attr-defined]
    assert f"exit code {code}" in details and "injected failure" in details


def test_a_missing_vzctl_is_named(daemon: DaemonProcess) -> None:
    vzctl = Path(daemon.tool("vzctl"))
    vzctl.rename(vzctl.with_suffix(".away"))
    try:
        error = _start(daemon, 501)
    finally:
        vzctl.with_suffix(".away").rename(vzctl)
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION  # type: ignore[attr-defined]
    assert str(vzctl) in (error.details() or "")  # type: ignore[attr-defined]


def test_vzctl_killed_during_a_config_write_leaves_the_config_whole(daemon: DaemonProcess) -> None:
    conf = daemon.host_root / "etc" / "vz" / "conf" / "502.conf"
    before = conf.read_text()
    _knobs(daemon, {"faults": [{"command": "set", "count": 1, "die_during_config_write": True}]})
    with daemon.channel() as channel:
        stub = domains_pb2_grpc.DomainsStub(channel)
        with pytest.raises(grpc.RpcError):
            stub.SetHostname(
                domains_pb2.SetHostnameRequest(
                    domain=common_pb2.DomainRef(id=502), hostname="changed.example.com"
                ),
                timeout=30,
            )
        assert conf.read_text() == before
        # The daemon is still up, and the next change goes through.
        host_pb2_grpc.HostStub(channel).GetHostname(host_pb2.HostnameRequest(), timeout=5)
        stub.SetHostname(
            domains_pb2.SetHostnameRequest(
                domain=common_pb2.DomainRef(id=502), hostname="changed.example.com"
            ),
            timeout=30,
        )
        assert stub.Lookup(common_pb2.DomainRef(id=502)).hostname == "changed.example.com"
