"""ovzsh exec, enter and console against a real daemon, on pipes and on a real pty."""

from __future__ import annotations

import fcntl
import signal
import struct
import subprocess
import termios
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.client.helpers import OVZSH, ovzsh, ovzsh_env, uri_of
from tests.client.pty_process import PtyProcess
from tests.daemon_process import DaemonProcess
from tests.sessions_host import pids_running, session_daemon


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    with session_daemon(tmp_path_factory.mktemp("ovzsh-sessions") / "sim") as process:
        yield process


def _on_pty(daemon: DaemonProcess, *args: str) -> PtyProcess:
    return PtyProcess([OVZSH, "-c", uri_of(daemon), *args], ovzsh_env(TERM="xterm"))


def test_exec_passes_stdin_through_and_leaves_with_the_commands_status(
    daemon: DaemonProcess,
) -> None:
    result = subprocess.run(
        [
            OVZSH,
            "-c",
            uri_of(daemon),
            "exec",
            "101",
            "--",
            "sh",
            "-c",
            "cat; echo oops >&2; exit 3",
        ],
        input=b"line one\nline two\n",
        capture_output=True,
        env=ovzsh_env(),
        timeout=60,
    )
    assert (result.stdout, result.stderr, result.returncode) == (
        b"line one\nline two\n",
        b"oops\n",
        3,
    )


def test_exec_options_come_before_the_command(daemon: DaemonProcess) -> None:
    result = ovzsh(
        daemon,
        "exec",
        "101",
        "-e",
        "WHO=ovzsh",
        "--cwd",
        "/",
        "--",
        "sh",
        "-c",
        'echo "$WHO $(pwd)" -x',
    )
    assert (result.stdout, result.returncode) == ("ovzsh / -x\n", 0)
    missing = ovzsh(daemon, "exec", "101")
    assert missing.returncode == 1 and "give the command after --" in missing.stderr
    stopped = ovzsh(daemon, "exec", "102", "--", "true")
    assert stopped.returncode == 1 and "start it first" in stopped.stderr


def test_exec_and_console_are_refused_read_only(daemon: DaemonProcess) -> None:
    for args in (("exec", "101", "--", "true"), ("console", "101")):
        result = ovzsh(daemon, *args, read_only=True)
        assert result.returncode == 1
        assert "read-only" in result.stderr


def test_exec_t_runs_on_a_pty(daemon: DaemonProcess) -> None:
    session = _on_pty(daemon, "exec", "101", "-t", "--", "sh", "-c", "tty; stty size; exit 6")
    try:
        session.expect(rb"/dev/pts/\d+")
        session.expect(b"40 120")
        assert session.finish() == 6
    finally:
        session.close()


def test_enter_is_a_shell_that_follows_the_window(daemon: DaemonProcess) -> None:
    session = _on_pty(daemon, "enter", "101")
    try:
        session.expect(b"CT-101-sh# ")
        session.send(b"stty size; echo term=$TERM\r")
        session.expect(b"40 120")
        session.expect(b"term=xterm")
        fcntl.ioctl(session.master, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 77, 0, 0))
        session.process.send_signal(signal.SIGWINCH)
        time.sleep(0.3)
        session.send(b"stty size\r")
        session.expect(b"33 77")
        session.send(b"exit 4\r")
        assert session.finish() == 4
    finally:
        session.close()


def test_console_leaves_on_ctrl_right_bracket(daemon: DaemonProcess) -> None:
    session = _on_pty(daemon, "console", "101")
    try:
        session.expect(rb"Connected to domain '101'\r\nEscape character is \^\]")
        session.expect(b"CT-101-console# ")
        session.send(b"echo via-$((3*14))\r")
        session.expect(b"via-42")
        session.send(b"\x1d")
        assert session.finish() == 0
    finally:
        session.close()
    # The console is free again: a plain attach works.
    again = _on_pty(daemon, "console", "101")
    try:
        again.expect(b"Escape character")
        again.send(b"\x1d")
        assert again.finish() == 0
    finally:
        again.close()


def test_a_killed_ovzsh_leaves_no_process_behind(daemon: DaemonProcess) -> None:
    marker = "sleep 2999.625"
    session = _on_pty(daemon, "exec", "101", "--", "sh", "-c", f"echo up; {marker}")
    try:
        session.expect(b"up")
        left = [pid for pid in pids_running(marker) if pid != session.process.pid]
        assert len(left) >= 2  # vzctl exec2 and the command
        session.process.kill()
        session.process.wait(timeout=10)
        deadline = time.monotonic() + 10
        while [p for p in left if _exists(p)] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [p for p in left if _exists(p)] == []
    finally:
        session.close()


def _exists(pid: int) -> bool:
    """Still in the process table (running, or dead and not reaped)."""
    return Path(f"/proc/{pid}").exists()
