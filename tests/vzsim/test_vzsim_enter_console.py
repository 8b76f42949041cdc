"""vzctl enter, vzctl console and exec2's signals, as the simulator does them."""

from __future__ import annotations

import fcntl
import os
import signal
import struct
import subprocess
import termios
import time
from collections.abc import Iterator

import pytest

from tests.client.pty_process import PtyProcess
from tests.vzsim.vzsim_harness import SimHost, vzsim


@pytest.fixture
def running(host: SimHost) -> Iterator[SimHost]:
    """Host with CT 101 running (started by vzctl) and 102 stopped; 101 is stopped
    afterwards, which takes its console keeper down."""
    result = vzsim("populate", str(host.root), "--count", "2", "--first-id", "101")
    assert result.returncode == 0, result.stderr
    started = host.vzctl("start", "101")
    assert started.returncode == 0, started.stderr
    yield host
    if host.root.exists():
        host.vzctl("stop", "101", "--fast")


def _tool(host: SimHost) -> str:
    return str(host.root / "usr" / "sbin" / "vzctl")


def _keeper_pid(host: SimHost, ctid: int) -> int:
    return int((host.root / ".vzsim" / "console" / f"{ctid}.pid").read_text())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("command", ["enter", "console", "exec2"])
def test_a_stopped_container_is_refused_with_31(running: SimHost, command: str) -> None:
    args = ["102", "true"] if command == "exec2" else ["102"]
    result = running.vzctl(command, *args)
    assert (result.returncode, result.stderr.strip()) == (31, "Container is not running")


def test_enter_runs_a_shell_in_the_containers_root(running: SimHost) -> None:
    result = running.run("vzctl", "enter", "101", stdin="echo home=$HOME; pwd; exit 4\n")
    root = running.path("/vz/root/101")
    assert result.returncode == 4
    assert f"home={root}" in result.stdout
    assert f"\n{root}" in result.stdout
    assert result.stderr.splitlines() == ["entered into CT 101", "exited from CT 101"]


def test_enter_follows_its_terminals_size(running: SimHost) -> None:
    shell = PtyProcess([_tool(running), "enter", "101"], dict(os.environ))
    try:
        shell.expect(b"CT-101-sh# ")
        shell.send(b"stty size\r")
        shell.expect(b"40 120")
        fcntl.ioctl(shell.master, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 77, 0, 0))
        shell.process.send_signal(signal.SIGWINCH)
        shell.send(b"stty size\r")
        shell.expect(b"33 77")
        shell.send(b"exit 3\r")
        assert shell.finish() == 3
    finally:
        shell.close()


def test_console_attaches_detaches_and_keeps_its_output(running: SimHost) -> None:
    first = PtyProcess([_tool(running), "console", "101"], dict(os.environ))
    try:
        first.expect(rb"Attached to CT 101 \(ESC \. to detach\)")
        first.expect(b"CT-101-console# ")
        first.send(b"echo seen-$((6*7))\r")
        first.expect(b"seen-42")
        first.send(b"\x1d")  # Ctrl-]
        assert first.finish() == 0
        assert b"Detached from CT 101" in first.output
    finally:
        first.close()
    second = PtyProcess([_tool(running), "console", "101"], dict(os.environ))
    try:
        second.expect(b"seen-42")  # the console kept what it showed
        second.send(b"\x1b.")  # vzctl's own escape
        assert second.finish() == 0
    finally:
        second.close()


def _attach_once(host: SimHost) -> None:
    """What brings the console up: a first attach (here left at once by its input's end)."""
    result = host.run("vzctl", "console", "101", stdin="")
    assert result.returncode == 0, result.stderr


def test_stopping_the_container_takes_its_console_down(running: SimHost) -> None:
    assert not (running.root / ".vzsim" / "console" / "101.pid").exists()  # none before
    _attach_once(running)
    keeper = _keeper_pid(running, 101)
    assert _alive(keeper)
    assert running.vzctl("stop", "101").returncode == 0
    deadline = time.monotonic() + 10
    while _alive(keeper) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(keeper)
    assert not (running.root / ".vzsim" / "console" / "101.sock").exists()


def test_exec2_passes_a_signal_on_to_the_command(running: SimHost) -> None:
    process = subprocess.Popen(
        [_tool(running), "exec2", "101", "trap 'exit 9' TERM; sleep 30 & wait"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    time.sleep(0.5)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 9


def test_keepers_leave_when_the_host_is_gone(running: SimHost) -> None:
    _attach_once(running)
    keeper = _keeper_pid(running, 101)
    subprocess.run(["rm", "-rf", str(running.root)], check=True)
    deadline = time.monotonic() + 10
    while _alive(keeper) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(keeper)
