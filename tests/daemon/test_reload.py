"""SIGHUP through the real daemon: the configuration is re-read, live settings apply,
restart-only ones are named and kept, a broken file changes nothing."""

from __future__ import annotations

import json
import signal
import socket
import time
from pathlib import Path

import grpc
import pytest
from openvz.v1 import common_pb2, domains_pb2, domains_pb2_grpc, host_pb2, host_pb2_grpc

from tests.daemon_process import DaemonProcess, running_daemon, start_daemon


def _sighup(daemon: DaemonProcess, toml: str, expect: str) -> str:
    """Write the overlay, SIGHUP, and return the log once it shows `expect`."""
    (daemon.sim_dir / "openvzd.toml").write_text(toml)
    seen = daemon.log().count(expect)
    daemon.process.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        text = daemon.log()
        if text.count(expect) > seen:
            return text
        time.sleep(0.05)
    raise AssertionError(f"no {expect!r} in the log after SIGHUP:\n{daemon.log()}")


def _start(stub: domains_pb2_grpc.DomainsStub, veid: int) -> None:
    call = domains_pb2.DomainCall(domain=common_pb2.DomainRef(id=veid))
    for _ in range(150):
        try:
            stub.Start(call, timeout=60)
            return
        except grpc.RpcError as err:
            if err.code() != grpc.StatusCode.NOT_FOUND:
                raise
        time.sleep(0.1)  # until the monitor has seen the container
    raise AssertionError(f"container {veid} never appeared")


def test_sighup_applies_a_new_timeout_and_survives_a_broken_file(tmp_path: Path) -> None:
    with running_daemon(tmp_path / "sim") as daemon:
        for veid in ("601", "602"):
            daemon.vzctl("create", veid, "--ostemplate", "centos-7-x86_64-minimal")
        (daemon.host_root / ".vzsim" / "knobs.json").write_text(
            json.dumps({"delay": {"start": 2.5}})
        )
        with daemon.channel() as channel:
            stub = domains_pb2_grpc.DomainsStub(channel)
            _start(stub, 601)  # 2.5 s is well within the default 300 s
            log = _sighup(
                daemon,
                "[timeouts]\nstart = 1\n[jobs]\nmax_workers = 3\n[sockets]\nro_mode = 0o600\n"
                '[log]\nlevel = "debug"\n',
                "SIGHUP: configuration re-read",
            )
            assert "[timeouts] start = 1.0 (was 300.0)" in log
            assert "[jobs] max_workers = 3 (was 8)" in log
            assert "[sockets] ro_mode = 384 needs a restart; keeping 438" in log
            assert daemon.ro_socket.stat().st_mode & 0o777 == 0o666
            with pytest.raises(grpc.RpcError) as timed_out:
                _start(stub, 602)
            assert timed_out.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
            assert "did not finish within 1 s" in (timed_out.value.details() or "")
            # [log] level = "debug" applied too: tool runs are logged at debug.
            assert "DEBUG openvzd.vz.runner:" in daemon.log()

            log = _sighup(daemon, "[timeouts]\nstart = \n", "configuration refused")
            assert "not valid TOML" in log
            # Still serving, with the last good configuration (the 1 s timeout).
            host_pb2_grpc.HostStub(channel).GetHostname(host_pb2.HostnameRequest(), timeout=5)
            with pytest.raises(grpc.RpcError) as again:
                _start(stub, 602)
            assert "did not finish within 1 s" in (again.value.details() or "")
        assert daemon.process.poll() is None


def test_sighup_tells_systemd_reloading_then_ready(tmp_path: Path) -> None:
    sim = tmp_path / "sim"
    sim.mkdir()
    notify_path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify:
        notify.bind(str(notify_path))
        notify.settimeout(30)
        daemon = start_daemon(sim, env={"NOTIFY_SOCKET": str(notify_path)})
        try:
            messages = [notify.recv(4096).decode()]
            assert messages[0].startswith("READY=1")
            daemon.process.send_signal(signal.SIGHUP)
            messages = [notify.recv(4096).decode(), notify.recv(4096).decode()]
        finally:
            daemon.stop()
    assert messages[0].startswith("RELOADING=1\nMONOTONIC_USEC=")
    assert int(messages[0].split("MONOTONIC_USEC=")[1]) > 0
    assert messages[1].startswith("READY=1")
