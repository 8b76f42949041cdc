"""virDomainOpenConsole (201) on the real daemon over vzsim: the raw stream
protocol, the read-only refusal, takeover, and Debian's real `virsh console`
under a pty. CT 101 runs, 102 is stopped; vzsim's console shell prompts
`CT-101-console# `."""

from __future__ import annotations

import json
import os
import pty
import select
import sqlite3
import subprocess
import time
from collections.abc import Iterator

import pytest
from openvzd.libvirt.numbers import ErrorCode, Proc
from openvzd.libvirt.protocol import MessageType, Status
from openvzd.libvirt.xdr import Packer

from tests.daemon_process import DaemonProcess
from tests.libvirt.conftest import libvirt_sockets, uri
from tests.libvirt.wire import Reply, WireClient
from tests.sessions_host import pids_running, session_daemon

PROMPT = b"CT-101-console# "
CONSOLE_FORCE = 1
WAIT = 20.0


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    with session_daemon(tmp_path_factory.mktemp("libvirt-console") / "sim") as process:
        yield process


def console_processes(daemon: DaemonProcess, veid: int = 101) -> list[int]:
    return pids_running(f"{daemon.tool('vzctl')} console {veid}")


def wait_no_console_process(daemon: DaemonProcess, within: float = 10) -> list[int]:
    deadline = time.monotonic() + within
    while (left := console_processes(daemon)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def domain_of(client: WireClient, name: str) -> bytes:
    """remote_nonnull_domain, as DOMAIN_LOOKUP_BY_NAME answers it."""
    packer = Packer()
    packer.string(name)
    reply = client.call(Proc.DOMAIN_LOOKUP_BY_NAME, packer.data())
    assert reply.error_code is None, reply.error_message
    return reply.body


def open_console(client: WireClient, name: str, flags: int = 0) -> tuple[int, Reply]:
    packer = Packer()
    packer.optional(None, packer.string)
    packer.u32(flags)
    serial = client.send_call(Proc.DOMAIN_OPEN_CONSOLE, domain_of(client, name) + packer.data())
    return serial, client.next_for(serial)


def read_stream_until(client: WireClient, serial: int, text: bytes) -> bytes:
    seen = b""
    deadline = time.monotonic() + WAIT
    while text not in seen:
        assert time.monotonic() < deadline, seen
        packet = client.next_for(serial)
        assert (packet.header.type, packet.header.status) == (
            MessageType.STREAM,
            Status.CONTINUE,
        ), packet
        assert packet.body, f"the stream ended before {text!r}: {seen!r}"
        seen += packet.body
    return seen


def stream_end(client: WireClient, serial: int) -> Reply:
    """The first packet for the stream that is not console output."""
    while True:
        packet = client.next_for(serial)
        if not (packet.header.status == Status.CONTINUE and packet.body):
            return packet


def test_a_line_goes_in_its_echo_comes_out_and_finish_ends_the_console(
    daemon: DaemonProcess,
) -> None:
    rw, _ = libvirt_sockets(daemon)
    with WireClient(rw) as client:
        client.open()
        serial, reply = open_console(client, "101")
        assert (reply.header.type, reply.header.status, reply.body) == (
            MessageType.REPLY,
            Status.OK,
            b"",
        ), reply.error_message
        read_stream_until(client, serial, PROMPT)
        assert len(console_processes(daemon)) == 1
        client.send_stream(
            Proc.DOMAIN_OPEN_CONSOLE, serial, Status.CONTINUE, b"echo wire-$((6*7))\r"
        )
        read_stream_until(client, serial, b"wire-42")

        client.send_stream(Proc.DOMAIN_OPEN_CONSOLE, serial, Status.OK)
        confirm = stream_end(client, serial)
        assert (confirm.header.type, confirm.header.status, confirm.body) == (
            MessageType.STREAM,
            Status.OK,
            b"",
        )
        assert wait_no_console_process(daemon) == []
        # The connection serves on, and the console can be opened again.
        serial, reply = open_console(client, "101")
        assert reply.error_code is None, reply.error_message
        client.send_stream(Proc.DOMAIN_OPEN_CONSOLE, serial, Status.ERROR)
        aborted = stream_end(client, serial)
        assert (aborted.header.type, aborted.error_code) == (MessageType.REPLY, ErrorCode.RPC)
        assert "aborted at client request" in aborted.error_message
        serial, reply = open_console(client, "101")
        assert reply.error_code is None, reply.error_message
        client.send_stream(Proc.DOMAIN_OPEN_CONSOLE, serial, 7)  # no such status
        ended = stream_end(client, serial)
        assert (ended.header.type, ended.error_code) == (MessageType.REPLY, ErrorCode.RPC)
        assert "unexpected termination status" in ended.error_message
    assert wait_no_console_process(daemon) == []


def test_the_read_only_socket_and_a_stopped_container_are_refused(daemon: DaemonProcess) -> None:
    rw, ro = libvirt_sockets(daemon)
    with WireClient(ro) as client:
        client.open()
        _, reply = open_console(client, "101")
        assert reply.error_code == ErrorCode.OPERATION_DENIED
        assert "read only access prevents DOMAIN_OPEN_CONSOLE" in reply.error_message
    with WireClient(rw) as client:
        client.open()
        _, reply = open_console(client, "102")
        assert reply.error_code == ErrorCode.OPERATION_INVALID
        assert "not running" in reply.error_message
    assert console_processes(daemon) == []


def test_one_client_at_a_time_force_takes_over_and_a_dropped_connection_ends_it(
    daemon: DaemonProcess,
) -> None:
    rw, _ = libvirt_sockets(daemon)
    with WireClient(rw) as first, WireClient(rw) as second:
        first.open()
        second.open()
        first_serial, reply = open_console(first, "101")
        assert reply.error_code is None, reply.error_message
        read_stream_until(first, first_serial, PROMPT)

        _, busy = open_console(second, "101")
        assert busy.error_code == ErrorCode.RESOURCE_BUSY
        assert "force" in busy.error_message

        second_serial, reply = open_console(second, "101", CONSOLE_FORCE)
        assert reply.error_code is None, reply.error_message
        # The first client's stream ends: an empty CONTINUE, then it finishes as virsh does.
        end = stream_end(first, first_serial)
        assert (end.header.type, end.header.status, end.body) == (
            MessageType.STREAM,
            Status.CONTINUE,
            b"",
        )
        first.send_stream(Proc.DOMAIN_OPEN_CONSOLE, first_serial, Status.OK)
        assert stream_end(first, first_serial).header.status == Status.OK

        second.send_stream(
            Proc.DOMAIN_OPEN_CONSOLE, second_serial, Status.CONTINUE, b"echo second-$((50+5))\r"
        )
        read_stream_until(second, second_serial, b"second-55")
        assert len(console_processes(daemon)) == 1
    # The second connection closed with its console open.
    assert wait_no_console_process(daemon) == []


def read_pty_until(fd: int, text: bytes, within: float = WAIT) -> bytes:
    seen = b""
    deadline = time.monotonic() + within
    while text not in seen:
        left = deadline - time.monotonic()
        assert left > 0, seen
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the other side closed
                break
            if not chunk:
                break
            seen += chunk
    assert text in seen, seen
    return seen


def test_virsh_console_shows_the_console_and_ctrl_bracket_detaches(
    daemon: DaemonProcess,
) -> None:
    rw, _ = libvirt_sockets(daemon)
    controller, terminal = pty.openpty()
    virsh = subprocess.Popen(
        ["virsh", "-c", uri(rw), "console", "101"],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env={"LC_ALL": "C", "PATH": "/usr/bin:/bin", "HOME": str(daemon.sim_dir), "TERM": "dumb"},
        start_new_session=True,
    )
    os.close(terminal)
    try:
        read_pty_until(controller, b"Escape character is ^]")
        read_pty_until(controller, PROMPT)
        os.write(controller, b"echo virsh-$((7*6))\r")
        read_pty_until(controller, b"virsh-42")
        os.write(controller, b"\x1d")
        assert virsh.wait(timeout=WAIT) == 0
    finally:
        if virsh.poll() is None:
            virsh.kill()
            virsh.wait(timeout=10)
        os.close(controller)
    assert wait_no_console_process(daemon) == []
    db = sqlite3.connect(daemon.sim_dir / "state" / "jobs.sqlite")
    try:
        caller, reason = db.execute(
            "SELECT caller, reason FROM sessions WHERE kind = 'console' ORDER BY started DESC"
        ).fetchone()
    finally:
        db.close()
    recorded = json.loads(caller)
    assert (recorded["transport"], recorded["pid"], reason) == ("libvirt", virsh.pid, "detached")


def test_the_console_ends_when_the_container_stops(daemon: DaemonProcess) -> None:
    rw, _ = libvirt_sockets(daemon)
    with WireClient(rw) as client:
        client.open()
        serial, reply = open_console(client, "101")
        assert reply.error_code is None, reply.error_message
        read_stream_until(client, serial, PROMPT)
        daemon.vzctl("stop", "101", "--fast")
        try:
            end = stream_end(client, serial)
            assert (end.header.type, end.header.status, end.body) == (
                MessageType.STREAM,
                Status.CONTINUE,
                b"",
            )
            client.send_stream(Proc.DOMAIN_OPEN_CONSOLE, serial, Status.OK)
            assert stream_end(client, serial).header.status == Status.OK
            assert wait_no_console_process(daemon) == []
        finally:
            daemon.vzctl("start", "101")
