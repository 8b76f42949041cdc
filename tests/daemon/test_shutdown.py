"""Domains.Shutdown with a timeout through the real daemon, on vzsim's stop delay."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from openvz.v1 import common_pb2, domains_pb2, domains_pb2_grpc

from tests.daemon_process import BIN, DaemonProcess, running_daemon


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[DaemonProcess]:
    with running_daemon(tmp_path / "sim") as process:
        process.vzctl("create", "401", "--ostemplate", "centos-7-x86_64-minimal")
        yield process


def _start(daemon: DaemonProcess, stub: domains_pb2_grpc.DomainsStub) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            stub.Start(domains_pb2.DomainCall(domain=common_pb2.DomainRef(id=401)), timeout=30)
            return
        except grpc.RpcError as err:
            if err.code() != grpc.StatusCode.NOT_FOUND:
                raise
        time.sleep(0.2)  # the monitor has not seen the new container yet


def _stop_runs(daemon: DaemonProcess) -> list[list[str]]:
    runs = []
    for line in (daemon.host_root / ".vzsim" / "runs.log").read_text().splitlines():
        record = json.loads(line)
        if record["event"] == "end" and "stop" in record["argv"][:2]:
            runs.append([*record["argv"], f"exit={record['exit']}"])
    return runs


def _shutdown(stub: domains_pb2_grpc.DomainsStub, seconds: int) -> common_pb2.Job:
    request = domains_pb2.ShutdownRequest(
        domain=common_pb2.DomainRef(id=401), timeout_seconds=seconds
    )
    return stub.Shutdown(request, timeout=60).job


def test_a_guest_that_does_not_halt_in_time_is_killed(daemon: DaemonProcess) -> None:
    with daemon.channel() as channel:
        stub = domains_pb2_grpc.DomainsStub(channel)
        _start(daemon, stub)
        (daemon.host_root / ".vzsim" / "knobs.json").write_text(
            json.dumps({"delay": {"stop": 30, "stop_fast": 0}})
        )
        job = _shutdown(stub, 1)
        assert job.state == common_pb2.JOB_STATE_SUCCEEDED
        assert job.progress_step.startswith("stop --fast (did not halt within 1 s)")
        lookup = stub.Lookup(common_pb2.DomainRef(id=401), timeout=5)
        assert lookup.state == domains_pb2.DOMAIN_STATE_SHUTOFF
    runs = _stop_runs(daemon)
    assert runs[-2][-1] != "exit=0" and "--fast" not in runs[-2]  # the halt, killed
    assert "--fast" in runs[-1] and runs[-1][-1] == "exit=0"


def test_a_guest_that_halts_in_time_takes_the_halt_path(daemon: DaemonProcess) -> None:
    with daemon.channel() as channel:
        stub = domains_pb2_grpc.DomainsStub(channel)
        _start(daemon, stub)
        (daemon.host_root / ".vzsim" / "knobs.json").write_text(
            json.dumps({"delay": {"stop": 0.3}})
        )
        job = _shutdown(stub, 20)
        assert job.state == common_pb2.JOB_STATE_SUCCEEDED
        assert job.progress_step == "stop (halt, at most 20 s)"
        with pytest.raises(grpc.RpcError) as refused:
            _shutdown(stub, 86401)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "at most 86400" in (refused.value.details() or "")
    assert not any("--fast" in run for run in _stop_runs(daemon))


def test_ovzsh_shutdown_timeout_bounds_the_halt(daemon: DaemonProcess) -> None:
    with daemon.channel() as channel:
        _start(daemon, domains_pb2_grpc.DomainsStub(channel))
    (daemon.host_root / ".vzsim" / "knobs.json").write_text(
        json.dumps({"delay": {"stop": 30, "stop_fast": 0}})
    )
    uri = f"openvz+unix:///system?socket={daemon.rw_socket}"
    shut = subprocess.run(
        [str(BIN / "ovzsh"), "-c", uri, "shutdown", "--timeout", "1", "401"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert shut.returncode == 0, shut.stderr
    assert "--fast" in _stop_runs(daemon)[-1]
    bad = subprocess.run(
        [str(BIN / "ovzsh"), "-c", uri, "shutdown", "--timeout", "-1", "401"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert bad.returncode == 1 and "0 to 86400" in bad.stderr
