"""[limits] enforced on the real daemon's unix sockets: message size, clients,
calls in flight per client, calls served at once per listener."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from openvz.v1 import domains_pb2, domains_pb2_grpc

from tests.daemon_process import CHANNEL_OPTIONS, DaemonProcess, running_daemon


@contextlib.contextmanager
def _daemon(tmp_path: Path, limits: str) -> Iterator[DaemonProcess]:
    sim = tmp_path / "sim"
    sim.mkdir()
    (sim / "openvzd.toml").write_text(f"[limits]\n{limits}\n")
    with running_daemon(sim) as daemon:
        yield daemon


def _channel(daemon: DaemonProcess) -> grpc.Channel:
    return grpc.insecure_channel(f"unix:{daemon.rw_socket}", options=CHANNEL_OPTIONS)


def _check(channel: grpc.Channel, timeout: float = 5) -> None:
    health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=timeout)


def _eventually(channel: grpc.Channel) -> None:
    """A check that passes once the server has seen a cancelled call end."""
    deadline = time.monotonic() + 20
    while True:
        try:
            _check(channel)
            return
        except grpc.RpcError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.1)


def _hold_call(channel: grpc.Channel) -> grpc.Future:  # type: ignore[type-arg]
    """A call that stays in flight: Health.Watch, after its first answer."""
    stream = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest(), timeout=60)
    next(stream)
    return stream  # type: ignore[no-any-return]


def test_a_message_over_max_message_bytes_is_refused(tmp_path: Path) -> None:
    with _daemon(tmp_path, "max_message_bytes = 65536") as daemon, _channel(daemon) as channel:
        stub = domains_pb2_grpc.DomainsStub(channel)
        with pytest.raises(grpc.RpcError) as refused:
            stub.Define(domains_pb2.DefineRequest(xml="<domain>" + "x" * 70_000), timeout=10)
        assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        # A message under the limit is read (and refused for what it says).
        with pytest.raises(grpc.RpcError) as parsed:
            stub.Define(domains_pb2.DefineRequest(xml="<domain/>"), timeout=10)
        assert parsed.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_calls_past_max_calls_per_client_wait(tmp_path: Path) -> None:
    with (
        _daemon(tmp_path, "max_calls_per_client = 2") as daemon,
        _channel(daemon) as busy,
        _channel(daemon) as other,
    ):
        held = [_hold_call(busy), _hold_call(busy)]
        with pytest.raises(grpc.RpcError) as waited:
            _check(busy, timeout=1.5)
        assert waited.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        _check(other)  # another client is not held up
        held[0].cancel()
        _eventually(busy)  # and the busy one goes on once a call ended
        held[1].cancel()


def test_clients_past_max_clients_are_refused(tmp_path: Path) -> None:
    with _daemon(tmp_path, "max_clients = 3") as daemon:
        channels = [_channel(daemon) for _ in range(4)]
        try:
            for channel in channels[:3]:
                _check(channel)
            with pytest.raises(grpc.RpcError) as refused:
                _check(channels[3])
            assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
            # The read-only socket is a listener of its own.
            with daemon.channel(read_only=True) as read_only:
                _check(read_only)
            channels[0].close()
            # A freed place is taken again (by a new connection: the refused channel
            # is in reconnect backoff).
            deadline = time.monotonic() + 20
            while True:
                with _channel(daemon) as late:
                    try:
                        _check(late, timeout=2)
                        break
                    except grpc.RpcError:
                        if time.monotonic() > deadline:
                            raise
                time.sleep(0.2)
        finally:
            for channel in channels:
                channel.close()


def test_calls_past_max_concurrent_rpcs_are_refused(tmp_path: Path) -> None:
    with (
        _daemon(tmp_path, "max_concurrent_rpcs = 2") as daemon,
        _channel(daemon) as first,
        _channel(daemon) as second,
        _channel(daemon) as third,
    ):
        held = [_hold_call(first), _hold_call(second)]
        with pytest.raises(grpc.RpcError) as refused:
            _check(third)
        assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        held[0].cancel()
        _eventually(third)
        held[1].cancel()
