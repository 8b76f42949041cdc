"""Domains.Exec and Domains.Console on the real daemon, through the library and raw gRPC."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import openvz
import openvz.aio
import pytest
from openvz.errors import Error
from openvz.sessions import ExecSession
from openvz.v1 import common_pb2, domains_pb2, domains_pb2_grpc

from tests.daemon_process import DaemonProcess
from tests.sessions_host import kill_mid_session, pids_running, session_daemon, wait_gone


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    with session_daemon(tmp_path_factory.mktemp("sessions") / "sim") as process:
        yield process


@pytest.fixture
def conn(daemon: DaemonProcess) -> Iterator[openvz.Connection]:
    with openvz.open(f"openvz+unix:///system?socket={daemon.rw_socket}") as connection:
        yield connection


def _collect(session: ExecSession) -> tuple[bytes, bytes]:
    out, err = b"", b""
    for stream, data in session:
        if stream == "stdout":
            out += data
        else:
            err += data
    return out, err


def test_stdin_reaches_the_command_and_its_exit_status_comes_back(conn: openvz.Connection) -> None:
    with conn.lookup("101").exec(["sh", "-c", "cat; echo done >&2; exit 7"]) as run:
        run.write(b"hello\nworld\n")
        run.close_stdin()
        out, err = _collect(run)
    assert (out, err, run.exit_status) == (b"hello\nworld\n", b"done\n", 7)


def test_argv_env_and_cwd_arrive_exactly(conn: openvz.Connection) -> None:
    argv = ["printf", "[%s]", "a b", "'q'", '"d"', "$HOME", "", "x;y", "*"]
    with conn.lookup("101").exec(argv) as run:
        out, _ = _collect(run)
    assert out == b"[a b]['q'][\"d\"][$HOME][][x;y][*]"
    env = {"GREETING": "it's $fine", "EMPTY": ""}
    script = 'printf "%s|%s|%s" "$GREETING" "${EMPTY-unset}" "$(pwd)"'
    with conn.lookup("101").exec(["sh", "-c", script], env=env, cwd="/") as run:
        out, _ = _collect(run)
    assert out == b"it's $fine||/"


def test_a_signal_reaches_the_command(conn: openvz.Connection) -> None:
    with conn.lookup("101").exec(
        ["sh", "-c", "trap 'exit 9' TERM; echo ready; sleep 30 & wait"]
    ) as run:
        output = iter(run)
        assert next(output) == ("stdout", b"ready\n")
        run.signal(15)
        assert list(output) == []
    assert run.exit_status == 9


def test_a_pty_session_has_a_terminal_that_resizes(conn: openvz.Connection) -> None:
    with conn.lookup("101").exec(["tty"], pty=True) as run:
        out, _ = _collect(run)
    assert out.startswith(b"/dev/pts/") and run.exit_status == 0
    shell = conn.lookup("101").exec([], pty=True, size=(30, 100), env={"TERM": "xterm"})
    with shell:
        output = iter(shell)
        seen = b""

        def expect(text: bytes) -> None:
            nonlocal seen
            deadline = time.monotonic() + 20
            while text not in seen:
                assert time.monotonic() < deadline, seen
                seen += next(output)[1]
            seen = seen[seen.index(text) + len(text) :]

        expect(b"CT-101-sh# ")
        shell.write(b"stty size; echo TERM=$TERM\r")
        expect(b"30 100")
        expect(b"TERM=xterm")
        shell.resize(50, 132)
        shell.write(b"stty size\r")
        expect(b"50 132")
        shell.write(b"exit 5\r")
        assert shell.wait() == 5


def test_bad_requests_are_refused_with_what_to_do(daemon: DaemonProcess) -> None:
    stub = domains_pb2_grpc.DomainsStub(daemon.channel())

    def refusal(*requests: domains_pb2.ExecRequest) -> grpc.RpcError:
        with pytest.raises(grpc.RpcError) as caught:
            list(stub.Exec(iter(requests), timeout=20))
        return caught.value

    def start(veid: int = 101, **fields: object) -> domains_pb2.ExecRequest:
        ref = common_pb2.DomainRef(id=veid)
        return domains_pb2.ExecRequest(start=domains_pb2.ExecStart(domain=ref, **fields))  # type: ignore[arg-type]

    cases = [
        (refusal(start(argv=["true"], env={"BAD-NAME": "x"})), "INVALID_ARGUMENT", "BAD-NAME"),
        (refusal(start()), "INVALID_ARGUMENT", "give a command"),
        (refusal(start(argv=["true"], cwd="relative")), "INVALID_ARGUMENT", "absolute"),
        (refusal(start(argv=["a\0b"])), "INVALID_ARGUMENT", "NUL"),
        (refusal(start(veid=102, argv=["true"])), "FAILED_PRECONDITION", "start it first"),
        (refusal(start(veid=999, argv=["true"])), "NOT_FOUND", "999"),
        (refusal(domains_pb2.ExecRequest(stdin=b"x")), "INVALID_ARGUMENT", "first message"),
        (
            refusal(start(argv=["sleep", "30.125"]), domains_pb2.ExecRequest(signal=99)),
            "INVALID_ARGUMENT",
            "signal 99",
        ),
        (
            refusal(start(argv=["true"], pty=True, size=domains_pb2.TerminalSize(rows=99999))),
            "INVALID_ARGUMENT",
            "rows",
        ),
    ]
    for error, code, words in cases:
        assert (error.code().name, words in (error.details() or "")) == (code, True), error
    assert wait_gone("sleep 30.125") == []
    assert daemon.process.poll() is None


def test_the_read_only_socket_refuses_exec_and_console(daemon: DaemonProcess) -> None:
    stub = domains_pb2_grpc.DomainsStub(daemon.channel(read_only=True))
    ref = common_pb2.DomainRef(id=101)
    calls = [
        stub.Exec(
            iter([domains_pb2.ExecRequest(start=domains_pb2.ExecStart(domain=ref, argv=["true"]))])
        ),
        stub.Console(
            iter([domains_pb2.ConsoleRequest(attach=domains_pb2.ConsoleAttach(domain=ref))])
        ),
    ]
    for call in calls:
        with pytest.raises(grpc.RpcError) as caught:
            list(call)
        assert caught.value.code() is grpc.StatusCode.PERMISSION_DENIED
        assert "read-only" in (caught.value.details() or "")
    uri = f"openvz+unix:///system?socket={daemon.ro_socket}"
    with openvz.open_read_only(uri) as ro, pytest.raises(Error, match="read-only"):
        ro.lookup("101").exec(["true"])


CLIENT = """
import sys, openvz
conn = openvz.open(sys.argv[1])
run = conn.lookup("101").exec(["sh", "-c", sys.argv[2]])
for stream, data in run:
    print(data.decode(), end="", flush=True)
"""


def test_a_client_killed_mid_session_leaves_no_process_behind(daemon: DaemonProcess) -> None:
    marker = "sleep 3000.375"
    client = subprocess.Popen(
        [
            sys.executable,
            "-c",
            CLIENT,
            f"openvz+unix:///system?socket={daemon.rw_socket}",
            f"echo up; {marker}; echo never",
        ],
        stdout=subprocess.PIPE,
    )
    session_pids = kill_mid_session(client, marker)
    assert wait_gone(marker) == []
    deadline = time.monotonic() + 10
    while (left := [p for p in session_pids if Path(f"/proc/{p}").exists()]) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.05)
    assert left == []  # gone, and reaped


def test_a_slow_client_holds_the_command_back(
    conn: openvz.Connection, daemon: DaemonProcess
) -> None:
    size = 64 * 1024 * 1024
    marker = f"head -c {size}"
    rss_before = _rss_kib(daemon.process.pid)
    with conn.lookup("101").exec(["sh", "-c", f"{marker} /dev/zero"]) as run:
        output = iter(run)
        first = next(output)
        time.sleep(1.5)  # a client that does not read: the command must wait for it
        assert pids_running(marker), "the command ran ahead of its reader"
        assert _rss_kib(daemon.process.pid) - rss_before < 32 * 1024
        total = len(first[1]) + sum(len(data) for _, data in output)
    assert (total, run.exit_status) == (size, 0)


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _read_until(output: Iterator[bytes], text: bytes, timeout: float = 20) -> bytes:
    seen = b""
    deadline = time.monotonic() + timeout
    while text not in seen:
        assert time.monotonic() < deadline, seen
        seen += next(output)
    return seen


def test_console_one_writer_at_a_time_and_force_takes_over(conn: openvz.Connection) -> None:
    dom = conn.lookup("101")
    first = dom.console()
    try:
        output = iter(first)
        _read_until(output, b"CT-101-console# ")
        first.write(b"echo first-$((40+2))\r")
        _read_until(output, b"first-42")
        with pytest.raises(Error, match=r"in use by .*force") as busy:
            dom.console()
        assert busy.value.code is grpc.StatusCode.ABORTED
        second = dom.console(force=True)
        with second:
            list(output)  # drains what was in flight; iteration ends when it is taken over
            assert first.detached_reason is not None
            assert first.detached_reason.startswith("taken over by")
            more = iter(second)
            second.write(b"echo second-$((50+5))\r")
            _read_until(more, b"second-55")
            second.detach()
            list(more)
        assert second.detached_reason == "detached"
    finally:
        first.close()


def test_sessions_are_recorded_without_their_data(
    conn: openvz.Connection, daemon: DaemonProcess
) -> None:
    with conn.lookup("101").exec(["sh", "-c", "cat >/dev/null; exit 4"]) as run:
        run.write(b"secret-data")
        run.close_stdin()
        run.wait()
    db = sqlite3.connect(daemon.sim_dir / "state" / "jobs.sqlite")
    try:
        row = db.execute(
            "SELECT kind, veid, caller, command, pty, started, ended, exit_status, reason"
            " FROM sessions WHERE id = ?",
            (run.id,),
        ).fetchone()
        dump = "\n".join(db.iterdump())
    finally:
        db.close()
    kind, veid, caller, command, pty, started, ended, status, reason = row
    assert (kind, veid, json.loads(command), pty, status, reason) == (
        "exec",
        101,
        ["sh", "-c", "cat >/dev/null; exit 4"],
        0,
        4,
        "",
    )
    assert json.loads(caller)["transport"] == "unix"
    assert started <= ended <= time.time()
    assert "secret-data" not in dump


def test_the_asyncio_face(daemon: DaemonProcess) -> None:
    async def main() -> tuple[bytes, int]:
        async with await openvz.aio.open(
            f"openvz+unix:///system?socket={daemon.rw_socket}"
        ) as aconn:
            dom = await aconn.lookup("101")
            run = await dom.exec(["sh", "-c", "tr a-z A-Z; exit 2"])
            await run.write(b"quiet\n")
            await run.close_stdin()
            out = b"".join([data async for _, data in run])
            return out, await run.wait()

    assert asyncio.run(main()) == (b"QUIET\n", 2)


def test_a_daemon_stop_ends_sessions_and_says_why(tmp_path: Path) -> None:
    marker = "sleep 2998.5"
    with session_daemon(tmp_path / "sim") as daemon:
        with openvz.open(f"openvz+unix:///system?socket={daemon.rw_socket}") as own:
            run = own.lookup("101").exec(["sh", "-c", f"echo up; {marker}"])
            output = iter(run)
            assert next(output) == ("stdout", b"up\n")
            assert daemon.stop() == 0
            assert list(output) == []
        assert (run.exit_status, run.exit_reason) == (137, "the daemon stops")
        assert wait_gone(marker) == []
        db = sqlite3.connect(daemon.sim_dir / "state" / "jobs.sqlite")
        try:
            row = db.execute(
                "SELECT ended, reason FROM sessions WHERE id = ?", (run.id,)
            ).fetchone()
        finally:
            db.close()
        assert row[0] is not None and row[1] == "the daemon stops"
