"""The real openvzd process: readiness, single instance, signals, the read-only socket."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import grpc
import pytest
from openvz.v1 import domains_pb2, host_pb2, host_pb2_grpc
from openvzd.access import OUR_SERVICES, is_read

from tests.daemon_process import BIN, DaemonProcess, running_daemon, start_daemon


@pytest.fixture
def daemon(tmp_path: Path):  # type: ignore[no-untyped-def]
    with running_daemon(tmp_path / "sim") as process:
        yield process


def test_ready_daemon_answers_version(daemon: DaemonProcess) -> None:
    with daemon.channel() as channel:
        version = host_pb2_grpc.HostStub(channel).GetVersion(host_pb2.VersionRequest(), timeout=5)
    assert version.protocol == 1
    assert version.simulated
    assert version.vzctl.startswith("4.")


def test_second_instance_refuses_and_names_the_holder(daemon: DaemonProcess) -> None:
    result = subprocess.run(
        [str(BIN / "openvzd"), "--simulate", str(daemon.sim_dir)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode != 0
    assert f"pid {daemon.process.pid}" in result.stderr
    # The first daemon still serves on its socket.
    with daemon.channel() as channel:
        host_pb2_grpc.HostStub(channel).GetHostname(host_pb2.HostnameRequest(), timeout=5)


def test_stale_socket_of_a_killed_daemon_is_replaced(tmp_path: Path) -> None:
    first = start_daemon(tmp_path / "sim")
    first.stop(signal.SIGKILL)
    assert first.rw_socket.exists()
    with running_daemon(tmp_path / "sim") as second, second.channel() as channel:
        host_pb2_grpc.HostStub(channel).GetHostname(host_pb2.HostnameRequest(), timeout=5)


def test_read_only_socket_refuses_every_mutating_rpc(daemon: DaemonProcess) -> None:
    """Every method not marked ACCESS_READ in the protos, called with an empty request."""
    refused = []
    with daemon.channel(read_only=True) as channel:
        for service in OUR_SERVICES:
            for method in service.methods:
                path = f"/{service.full_name}/{method.name}"
                if is_read(path):
                    continue
                if method.server_streaming:
                    call = channel.unary_stream(path)
                    with pytest.raises(grpc.RpcError) as caught:
                        list(call(b"", timeout=5))
                else:
                    with pytest.raises(grpc.RpcError) as caught:
                        channel.unary_unary(path)(b"", timeout=5)
                assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED, path
                assert "read-only" in (caught.value.details() or "")
                refused.append(path)
    assert "/openvz.v1.Domains/Start" in refused
    assert "/openvz.v1.Jobs/Cancel" in refused


def test_read_only_socket_serves_reads(daemon: DaemonProcess) -> None:
    from openvz.v1 import domains_pb2_grpc

    with daemon.channel(read_only=True) as channel:
        reply = domains_pb2_grpc.DomainsStub(channel).List(
            domains_pb2.ListDomainsRequest(), timeout=5
        )
    assert isinstance(reply, domains_pb2.ListDomainsResponse)


def test_socket_modes(daemon: DaemonProcess) -> None:
    assert daemon.rw_socket.stat().st_mode & 0o777 == 0o600
    assert daemon.ro_socket.stat().st_mode & 0o777 == 0o666


def test_sigterm_exits_cleanly_and_removes_sockets(daemon: DaemonProcess) -> None:
    assert daemon.stop(signal.SIGTERM) == 0
    assert not daemon.rw_socket.exists()
    assert not daemon.ro_socket.exists()
