"""The local exec channel (openvz.execwire, api/local_exec.py) on the real daemon:
raw frames for what a well-behaved client never sends, ovzsh for the rest."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from openvz import execwire
from openvz.error_classes import PermissionDenied
from openvz.localexec import LocalExecSession

from tests.daemon_process import BIN, DaemonProcess
from tests.sessions_host import kill_mid_session, session_daemon, wait_gone

OVZSH = str(BIN / "ovzsh")


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    with session_daemon(tmp_path_factory.mktemp("local-exec") / "sim") as process:
        yield process


def _connect(path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(30)
    sock.connect(str(path))
    sock.sendall(execwire.PREAMBLE)
    return sock


def _frames(sock: socket.socket, greeted: bool = False) -> list[tuple[bytes, bytes]]:
    """Every frame the daemon sends until it closes the connection (after its
    preamble, and grpc's greeting if that came first, unless already read)."""
    received = b""
    while data := sock.recv(65536):
        received += data
    if not greeted:
        received = received.partition(execwire.PREAMBLE)[2]
    frames = []
    while received:
        kind, length = execwire.HEADER.unpack_from(received)
        start = execwire.HEADER.size
        frames.append((kind, received[start : start + length]))
        received = received[start + length :]
    return frames


def _read_until(sock: socket.socket, expected: bytes) -> None:
    received = b""
    while not received.endswith(expected):
        data = sock.recv(1)
        assert data, received
        received += data


def _request(domain: str, argv: list[str]) -> bytes:
    return execwire.frame(execwire.REQUEST, execwire.ExecRequest(domain, argv, {}).encode())


def _raw_request(head: tuple[int, int, int, int, int], strings: bytes) -> bytes:
    """A REQUEST frame as written, for what ExecRequest.encode never writes."""
    return execwire.frame(execwire.REQUEST, execwire.REQUEST_HEAD.pack(*head) + strings)


def _refusal(sock: socket.socket, greeted: bool = False) -> tuple[str, str]:
    frames = _frames(sock, greeted)
    assert [kind for kind, _ in frames] == [execwire.ERROR]
    return execwire.error_of(frames[0][1])


def run_local(path: Path, argv: list[str], stdin: bytes = b"") -> tuple[bytes, bytes, int]:
    """stdout, stderr and the exit status of argv in CT 101 through LocalExecSession.relay,
    its stdin, stdout and stderr being files."""
    with (
        tempfile.TemporaryFile() as given,
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
    ):
        given.write(stdin)
        given.seek(0)
        with LocalExecSession.start(str(path), "101", argv) as run:
            status = run.relay(given.fileno(), out.fileno(), err.fileno(), pty=False)
        out.seek(0)
        err.seek(0)
        return out.read(), err.read(), status


def _still_serves(daemon: DaemonProcess) -> None:
    assert run_local(daemon.rw_socket, ["echo", "ok"]) == (b"ok\n", b"", 0)


def test_a_session_runs_with_stdin_resize_and_exit_status(daemon: DaemonProcess) -> None:
    with _connect(daemon.rw_socket) as sock:
        sock.sendall(
            _request("101", ["sh", "-c", "cat; exit 5"])
            + execwire.frame(execwire.STDIN, b"through\n")
            + execwire.frame(execwire.STDIN_EOF)
        )
        frames = _frames(sock)
    assert frames[0] == (execwire.STARTED, b"")
    assert b"".join(data for kind, data in frames if kind == execwire.STDOUT) == b"through\n"
    assert frames[-1][0] == execwire.EXIT
    assert execwire.exit_of(frames[-1][1]) == (5, "")


def test_relay_passes_stdin_stdout_stderr_and_the_status(daemon: DaemonProcess) -> None:
    stdin = os.urandom(3 * execwire.MAX_PAYLOAD + 17)
    argv = ["sh", "-c", "cat; echo to-stderr >&2; exit 9"]
    assert run_local(daemon.rw_socket, argv, stdin) == (stdin, b"to-stderr\n", 9)


def test_the_read_only_socket_refuses_exec_in_the_grpc_paths_words(
    daemon: DaemonProcess,
) -> None:
    with _connect(daemon.ro_socket) as sock:
        sock.sendall(_request("101", ["true"]))
        status, message = _refusal(sock)
    assert status == "PERMISSION_DENIED"
    assert "read-only" in message
    with pytest.raises(PermissionDenied, match="read-only"):
        LocalExecSession.start(str(daemon.ro_socket), "101", ["true"])


@pytest.mark.parametrize(
    ("sent", "why"),
    [
        (execwire.HEADER.pack(execwire.REQUEST, execwire.MAX_PAYLOAD + 1), "at most"),
        (execwire.frame(execwire.REQUEST, b"\0\0"), "shorter than its head"),
        (execwire.frame(execwire.STDIN, b"x"), "first frame"),
        (_raw_request((0, 0, 0, 1, 0), b"101\0\0true"), "each end with a NUL"),
        (_raw_request((0, 0, 0, 1, 0), b"101\0\0a\0b\0"), "holds 4 strings"),
        (_raw_request((2, 0, 0, 1, 0), b"101\0\0true\0"), "tty must be 0 or 1"),
        (_raw_request((0, 0, 0, 1, 0), b"101\0\0\xff\0"), "not UTF-8"),
        (_raw_request((0, 0, 0, 1, 1), b"101\0\0true\0NOEQUALS\0"), "not NAME=VALUE"),
        (_request("", ["true"]), "must name the container"),
    ],
)
def test_bad_frames_are_refused_and_the_daemon_keeps_serving(
    daemon: DaemonProcess, sent: bytes, why: str
) -> None:
    with _connect(daemon.rw_socket) as sock:
        sock.sendall(sent)
        status, message = _refusal(sock)
    assert status == "INVALID_ARGUMENT"
    assert why in message
    _still_serves(daemon)


def test_a_bad_frame_mid_session_ends_it_and_its_process(daemon: DaemonProcess) -> None:
    marker = "sleep 3000.625"
    with _connect(daemon.rw_socket) as sock:
        sock.sendall(_request("101", ["sh", "-c", f"{marker}; echo never"]))
        _read_until(sock, execwire.PREAMBLE + execwire.frame(execwire.STARTED))
        sock.sendall(execwire.frame(execwire.RESIZE, b"\0"))
        status, message = _refusal(sock, greeted=True)
    assert status == "INVALID_ARGUMENT"
    assert "type b'W' and 1 bytes" in message
    assert wait_gone(marker) == []
    _still_serves(daemon)


def _ovzsh_exec_sh(socket: Path, script: str, stderr: int | None = None) -> subprocess.Popen[bytes]:
    """`ovzsh exec 101 -- sh -c script` on socket, its stdin and stdout piped."""
    uri = f"openvz+unix:///system?socket={socket}"
    argv = [OVZSH, "-c", uri, "exec", "101", "--", "sh", "-c", script]
    return subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr)


def test_ovzsh_killed_mid_session_leaves_no_process_behind(daemon: DaemonProcess) -> None:
    marker = "sleep 3000.875"
    client = _ovzsh_exec_sh(daemon.rw_socket, f"echo up; {marker}; echo never")
    kill_mid_session(client, marker)
    assert wait_gone(marker) == []


def test_the_session_is_recorded_with_the_callers_uid_and_pid(daemon: DaemonProcess) -> None:
    argv = ["echo", "recorded-7f3a"]
    uri = f"openvz+unix:///system?socket={daemon.rw_socket}"
    client = subprocess.Popen(
        [OVZSH, "-c", uri, "exec", "101", "--", *argv], stdout=subprocess.PIPE
    )
    output, _ = client.communicate(timeout=60)
    assert (output, client.returncode) == (b"recorded-7f3a\n", 0)
    db = sqlite3.connect(daemon.sim_dir / "state" / "jobs.sqlite")
    try:
        rows = db.execute(
            "SELECT caller, exit_status FROM sessions WHERE command = ?", (json.dumps(argv),)
        ).fetchall()
    finally:
        db.close()
    assert len(rows) == 1
    caller = json.loads(rows[0][0])
    assert (caller["transport"], caller["uid"], caller["pid"]) == ("unix", os.getuid(), client.pid)
    assert rows[0][1] == 0


# What a module costs the fast path's process on the development machine, where a
# Python start is 12-15 ms of the 20 allowed (bench/bench_exec.py).
HEAVY_MODULES = {
    "socket": "~9 ms (enum, selectors)",
    "signal": "~6 ms (enum)",
    "contextlib": "~4 ms",
    "threading": "~3 ms",
    "enum": "~4 ms",
    "collections.abc": "~2 ms",
    "json": "~10 ms (re)",
    "re": "~7 ms",
    "typing": "~3 ms",
    "pathlib": "~8 ms (re, fnmatch, urllib.parse)",
    "urllib.parse": "~3 ms",
    "argparse": "~5 ms",
}


def test_ovzsh_exec_on_the_local_socket_imports_nothing_heavy(daemon: DaemonProcess) -> None:
    """-X importtime lists every module the process imported. Over a bare interpreter's
    start (whose site may import some of them, as the dev venv's editable hook does),
    the fast path adds no grpc and none of HEAVY_MODULES; the other commands' list does
    name grpc, so the check is one that can fail."""
    uri = f"openvz+unix:///system?socket={daemon.rw_socket}"

    def imported(*args: str) -> set[str]:
        run = subprocess.run(
            [sys.executable, "-X", "importtime", *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        lines = [line for line in run.stderr.splitlines() if line.startswith("import time:")]
        return {line.rpartition("|")[2].strip() for line in lines}

    fast = imported(OVZSH, "-c", uri, "exec", "101", "--", "true") - imported("-c", "pass")
    assert "openvz.localexec" in fast
    assert not {name for name in fast if name.split(".")[0] in ("grpc", "google")}
    assert {name: HEAVY_MODULES[name] for name in fast & HEAVY_MODULES.keys()} == {}
    assert "grpc" in imported(OVZSH, "-c", uri, "domstate", "101")


def test_a_daemon_stop_ends_the_session_and_ovzsh_says_why(tmp_path: Path) -> None:
    marker = "sleep 2998.75"
    with session_daemon(tmp_path / "sim") as own:
        client = _ovzsh_exec_sh(own.rw_socket, f"echo up; {marker}", stderr=subprocess.PIPE)
        try:
            assert client.stdout is not None
            assert client.stdout.readline() == b"up\n"
            assert own.stop() == 0
            _, stderr = client.communicate(timeout=30)
        finally:
            client.kill()
            client.wait(timeout=10)
        assert client.returncode == 137
        assert b"error: the session ended: the daemon stops" in stderr
        assert wait_gone(marker) == []


def test_ctrl_c_and_sigterm_reach_the_command_and_its_status_comes_back(
    daemon: DaemonProcess,
) -> None:
    """Without a pty ovzsh passes SIGINT, SIGTERM and SIGHUP on (openvz.localexec's
    wakeup pipe) rather than dying of them."""
    script = (
        'trap "echo got-int" INT; trap "echo got-term; exit 42" TERM; echo ready; '
        "while :; do sleep 0.05; done"
    )
    client = _ovzsh_exec_sh(daemon.rw_socket, script)
    try:
        assert client.stdout is not None
        assert client.stdout.readline() == b"ready\n"
        client.send_signal(signal.SIGINT)
        assert client.stdout.readline() == b"got-int\n"
        client.send_signal(signal.SIGTERM)
        output, _ = client.communicate(timeout=30)
    finally:
        client.kill()
        client.wait(timeout=10)
    assert (output, client.returncode) == (b"got-term\n", 42)


@pytest.mark.parametrize(
    ("closing", "stdout"),
    [
        ("<&-", "done\n"),  # the command's stdin is at its end at once
        (">&-", ""),  # its stdout goes nowhere; stderr still arrives
    ],
)
def test_a_closed_standard_fd_is_not_taken_by_the_session(
    daemon: DaemonProcess, closing: str, stdout: str
) -> None:
    """ovzsh started with stdin (or stdout) closed: its socket would take fd 0 (or 1)
    and be read as the command's input (the session then waited forever) or written
    as its output; /dev/null takes the place first."""
    uri = f"openvz+unix:///system?socket={daemon.rw_socket}"
    command = ["sh", "-c", "cat; echo done; echo err >&2"]
    run = subprocess.run(
        ["sh", "-c", f'exec "$@" {closing}', "sh", OVZSH, "-c", uri, "exec", "101", "--", *command],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (run.stdout, run.stderr, run.returncode) == (stdout, "err\n", 0)
