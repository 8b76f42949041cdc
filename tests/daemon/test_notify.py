"""sd_notify without systemd-python: the real daemon tells a real datagram socket
that it is READY, RELOADING, alive (WATCHDOG) and STOPPING.

The daemon runs as a plain `pip install openvzd` would: a `systemd` package that
refuses to import shadows systemd-python (installed in this virtualenv when
libsystemd-dev is there), so nothing but our own datagrams can reach the socket.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from openvzd.notify import SystemdNotifier, notify_address

from tests.daemon_process import start_daemon

NO_SYSTEMD_PYTHON = 'raise ImportError("systemd-python is not installed (test)")\n'


@pytest.fixture
def plain_install(tmp_path: Path) -> dict[str, str]:
    """The environment of a daemon process in which `import systemd` fails."""
    shadow = tmp_path / "no-extras"
    (shadow / "systemd").mkdir(parents=True)
    (shadow / "systemd" / "__init__.py").write_text(NO_SYSTEMD_PYTHON)
    return {"PYTHONPATH": str(shadow)}


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[socket.socket]:
    # A short path: sun_path holds 108 bytes and pytest's tmp paths can be long.
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = Path(f"/tmp/openvzd-notify-{secrets.token_hex(6)}")
    sock.bind(str(path))
    try:
        yield sock
    finally:
        sock.close()
        path.unlink(missing_ok=True)


def messages_until(sock: socket.socket, key: str, timeout: float = 30) -> list[dict[str, str]]:
    """Every datagram received until one carrying key (e.g. READY=1); fails on timeout."""
    received: list[dict[str, str]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            data = sock.recv(4096)
        except TimeoutError:
            break
        fields = dict(line.split("=", 1) for line in data.decode().splitlines())
        received.append(fields)
        if key in data.decode().splitlines():
            return received
    pytest.fail(f"no {key} within {timeout} s; received {received}")


def test_the_daemon_notifies_a_datagram_socket_on_a_plain_install(
    tmp_path: Path, plain_install: dict[str, str], listener: socket.socket
) -> None:
    env = {
        **plain_install,
        "NOTIFY_SOCKET": listener.getsockname(),
        "WATCHDOG_USEC": "200000",
    }
    daemon = start_daemon(tmp_path / "sim", env=env)
    try:
        ready = messages_until(listener, "READY=1")[-1]
        assert ready["MAINPID"] == str(daemon.process.pid)
        assert ready["STATUS"].startswith("serving 0 containers")
        # WatchdogSec=0.2 s: a keep-alive every 0.1 s.
        messages_until(listener, "WATCHDOG=1", timeout=5)
        messages_until(listener, "WATCHDOG=1", timeout=5)

        daemon.process.send_signal(signal.SIGHUP)
        reloading = messages_until(listener, "RELOADING=1", timeout=10)[-1]
        now_usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        assert 0 < now_usec - int(reloading["MONOTONIC_USEC"]) < 10_000_000
        messages_until(listener, "READY=1", timeout=10)

        assert daemon.stop() == 0
        messages_until(listener, "STOPPING=1", timeout=5)
    finally:
        daemon.stop(signal.SIGKILL)
    log = daemon.log()
    assert "systemd-python" not in log
    assert "cannot notify systemd" not in log


def test_an_abstract_notify_socket_gets_ready_too(
    tmp_path: Path, plain_install: dict[str, str]
) -> None:
    name = f"openvzd-notify-test-{secrets.token_hex(6)}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(b"\0" + name.encode())
        daemon = start_daemon(tmp_path / "sim", env={**plain_install, "NOTIFY_SOCKET": "@" + name})
        try:
            ready = messages_until(sock, "READY=1")[-1]
            assert ready["MAINPID"] == str(daemon.process.pid)
        finally:
            daemon.stop()


def test_notify_addresses() -> None:
    assert notify_address("") is None
    assert notify_address("/run/systemd/notify") == "/run/systemd/notify"
    assert notify_address("@abstract") == b"\0abstract"
    assert notify_address("@") is None
    assert notify_address("vsock:2:1234") is None


def test_without_notify_socket_nothing_is_sent_and_no_watchdog_runs() -> None:
    notifier = SystemdNotifier({"WATCHDOG_USEC": "200000"})
    notifier.ready("serving")  # must not raise
    assert notifier.watchdog_interval() is None


def test_the_watchdog_is_only_for_the_pid_systemd_named(listener: socket.socket) -> None:
    address = listener.getsockname()
    mine = {"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}
    assert SystemdNotifier(mine).watchdog_interval() == 15.0
    other = {**mine, "WATCHDOG_PID": str(os.getpid() + 1)}
    assert SystemdNotifier(other).watchdog_interval() is None


def test_a_vanished_socket_is_a_warning_not_a_crash(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    notifier = SystemdNotifier({"NOTIFY_SOCKET": str(tmp_path / "gone")})
    notifier.ready("serving")
    assert "cannot notify systemd (READY=1)" in caplog.text
