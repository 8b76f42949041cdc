"""The local exec channel (openvz.execwire, api/local_exec.py) on the real daemon:
raw frames for what a well-behaved client never sends, ovzsh for the rest."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from openvz import execwire
from openvz.error_classes import PermissionDenied
from openvz.localexec import LocalExecSession

from tests.daemon_process import BIN, DaemonProcess
from tests.sessions_host import pids_running, session_daemon

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


def _request(**fields: object) -> bytes:
    return execwire.frame(execwire.REQUEST, json.dumps(fields).encode())


def _refusal(sock: socket.socket, greeted: bool = False) -> dict[str, str]:
    frames = _frames(sock, greeted)
    assert [kind for kind, _ in frames] == [execwire.ERROR]
    answer: dict[str, str] = json.loads(frames[0][1])
    return answer


def _still_serves(daemon: DaemonProcess) -> None:
    with LocalExecSession.start(str(daemon.rw_socket), "101", ["echo", "ok"]) as run:
        output = b"".join(data for _, data in run)
    assert (output, run.exit_status) == (b"ok\n", 0)


def test_a_session_runs_with_stdin_resize_and_exit_status(daemon: DaemonProcess) -> None:
    with _connect(daemon.rw_socket) as sock:
        sock.sendall(
            _request(domain="101", argv=["sh", "-c", "cat; exit 5"])
            + execwire.frame(execwire.STDIN, b"through\n")
            + execwire.frame(execwire.STDIN_EOF)
        )
        frames = _frames(sock)
    assert frames[0] == (execwire.STARTED, b"")
    assert b"".join(data for kind, data in frames if kind == execwire.STDOUT) == b"through\n"
    assert json.loads(frames[-1][1]) == {"status": 5, "reason": ""}


def test_the_read_only_socket_refuses_exec_in_the_grpc_paths_words(
    daemon: DaemonProcess,
) -> None:
    with _connect(daemon.ro_socket) as sock:
        sock.sendall(_request(domain="101", argv=["true"]))
        answer = _refusal(sock)
    assert answer["status"] == "PERMISSION_DENIED"
    assert "read-only" in answer["message"]
    with pytest.raises(PermissionDenied, match="read-only"):
        LocalExecSession.start(str(daemon.ro_socket), "101", ["true"])


@pytest.mark.parametrize(
    ("sent", "why"),
    [
        (execwire.HEADER.pack(execwire.REQUEST, execwire.MAX_PAYLOAD + 1), "at most"),
        (execwire.frame(execwire.REQUEST, b"{not json"), "not JSON"),
        (execwire.frame(execwire.REQUEST, b"[1, 2]"), "JSON object"),
        (execwire.frame(execwire.STDIN, b"x"), "first frame"),
        (_request(domain="101", argv=["true"], shell="yes"), "unknown key(s) shell"),
        (_request(domain="101", argv="true"), "argv must be a list"),
        (_request(domain="101", argv=["true"], tty=1), "tty must be"),
        (_request(domain="101", argv=["true"], rows=-1), "rows must be"),
        (_request(domain="101", argv=["a\0b"]), "NUL"),
        (_request(argv=["true"]), "must name the container"),
    ],
)
def test_bad_frames_are_refused_and_the_daemon_keeps_serving(
    daemon: DaemonProcess, sent: bytes, why: str
) -> None:
    with _connect(daemon.rw_socket) as sock:
        sock.sendall(sent)
        answer = _refusal(sock)
    assert answer["status"] == "INVALID_ARGUMENT"
    assert why in answer["message"]
    _still_serves(daemon)


def test_a_bad_frame_mid_session_ends_it_and_its_process(daemon: DaemonProcess) -> None:
    marker = "sleep 3000.625"
    with _connect(daemon.rw_socket) as sock:
        sock.sendall(_request(domain="101", argv=["sh", "-c", f"{marker}; echo never"]))
        _read_until(sock, execwire.PREAMBLE + execwire.frame(execwire.STARTED))
        sock.sendall(execwire.frame(execwire.RESIZE, b"\0"))
        answer = _refusal(sock, greeted=True)
    assert answer["status"] == "INVALID_ARGUMENT"
    assert "type b'W' and 1 bytes" in answer["message"]
    assert _wait_gone(marker) == []
    _still_serves(daemon)


def _wait_gone(marker: str, timeout: float = 10) -> list[int]:
    deadline = time.monotonic() + timeout
    while (left := pids_running(marker)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def test_ovzsh_killed_mid_session_leaves_no_process_behind(daemon: DaemonProcess) -> None:
    marker = "sleep 3000.875"
    client = subprocess.Popen(
        [
            OVZSH,
            "-c",
            f"openvz+unix:///system?socket={daemon.rw_socket}",
            "exec",
            "101",
            "--",
            "sh",
            "-c",
            f"echo up; {marker}; echo never",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert client.stdout is not None
        assert client.stdout.readline() == b"up\n"
        session_pids = [pid for pid in pids_running(marker) if pid != client.pid]
        assert len(session_pids) >= 2  # vzctl exec2 and the command it runs
    finally:
        client.kill()
        client.wait(timeout=10)
    assert _wait_gone(marker) == []


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


def test_ovzsh_exec_on_the_local_socket_imports_no_grpc(daemon: DaemonProcess) -> None:
    """-X importtime lists every module the process imported; the other commands'
    list does name grpc, so the check is one that can fail."""
    uri = f"openvz+unix:///system?socket={daemon.rw_socket}"

    def imported(*args: str) -> set[str]:
        run = subprocess.run(
            [sys.executable, "-X", "importtime", OVZSH, "-c", uri, *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        lines = [line for line in run.stderr.splitlines() if line.startswith("import time:")]
        return {line.rpartition("|")[2].strip() for line in lines}

    fast = imported("exec", "101", "--", "true")
    assert "openvz.localexec" in fast
    assert not {name for name in fast if name.split(".")[0] in ("grpc", "google")}
    assert "grpc" in imported("domstate", "101")


def test_a_daemon_stop_ends_the_session_and_ovzsh_says_why(tmp_path: Path) -> None:
    marker = "sleep 2998.75"
    with session_daemon(tmp_path / "sim") as own:
        client = subprocess.Popen(
            [
                OVZSH,
                "-c",
                f"openvz+unix:///system?socket={own.rw_socket}",
                "exec",
                "101",
                "--",
                "sh",
                "-c",
                f"echo up; {marker}",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
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
        assert _wait_gone(marker) == []
