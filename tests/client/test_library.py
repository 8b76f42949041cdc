"""The synchronous library (`import openvz`) against a real `openvzd --simulate`."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import openvz
import pytest
from openvz.v1 import events_pb2

from tests.client.helpers import define, lay_out_fixed_host, set_knobs, uri_of
from tests.daemon_process import DaemonProcess, running_daemon, start_daemon


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    """180 running, 181 shut off with autostart, 182 shut off."""
    sim_dir = tmp_path_factory.mktemp("library") / "sim"
    lay_out_fixed_host(sim_dir)
    with running_daemon(sim_dir) as process:
        for veid in (180, 181, 182):
            define(process, veid, sim_dir)
        with openvz.open(uri_of(process)) as conn:
            conn.lookup_by_name("180").create()
            conn.lookup_by_name("181").set_autostart(True)
        yield process


@pytest.fixture
def conn(daemon: DaemonProcess) -> Iterator[openvz.Connection]:
    with openvz.open(uri_of(daemon)) as connection:
        yield connection


def names(domains: list[openvz.Domain]) -> list[str]:
    return sorted(d.name() for d in domains)


def test_list_flags_as_in_libvirt(conn: openvz.Connection) -> None:
    assert names(conn.list_all_domains()) == ["180", "181", "182"]
    assert names(conn.list_all_domains(openvz.LIST_ACTIVE)) == ["180"]
    assert names(conn.list_all_domains(openvz.LIST_INACTIVE)) == ["181", "182"]
    assert names(conn.list_all_domains(openvz.LIST_AUTOSTART)) == ["181"]
    assert names(conn.list_all_domains(openvz.LIST_INACTIVE | openvz.LIST_NO_AUTOSTART)) == ["182"]
    assert names(conn.list_all_domains(openvz.LIST_RUNNING)) == ["180"]
    assert names(conn.list_all_domains(openvz.LIST_SHUTOFF)) == ["181", "182"]
    assert names(conn.list_all_domains(openvz.LIST_PERSISTENT)) == ["180", "181", "182"]
    assert conn.list_all_domains(openvz.LIST_TRANSIENT) == []
    assert conn.list_all_domains(openvz.LIST_MANAGEDSAVE) == []
    assert conn.list_domains_id() == [180]
    assert sorted(conn.list_defined_domains()) == ["181", "182"]
    assert (conn.num_of_domains(), conn.num_of_defined_domains()) == (1, 2)


def test_lookups_and_queries(conn: openvz.Connection) -> None:
    running = conn.lookup_by_id(180)
    assert (running.name(), running.id(), running.is_active()) == ("180", 180, True)
    assert conn.lookup_by_uuid(running.uuid_string()).name() == "180"
    assert conn.lookup(running.uuid_string()).name() == "180"
    off = conn.lookup_by_name("181")
    assert (off.id(), off.is_active(), off.is_persistent()) == (-1, False, True)
    assert off.state() == ("shut off", "shutdown")
    assert off.autostart() and not conn.lookup("182").autostart()
    info = running.info()
    assert (info.vcpus, info.max_memory_kib, info.os_type) == (1, 524288, "exe")
    assert running.os_type() == "exe" and running.max_memory() == 524288
    assert not running.has_managed_save_image()
    assert "<name>180</name>" in running.xml_desc()
    assert running.memory_parameters().hard_limit_kib == 524288
    assert running.stats().domain.name == "180"
    assert [s.domain.name for s in conn.domain_list_get_stats([off, running])] == ["181", "180"]
    assert {s.domain.name for s in conn.get_all_domain_stats()} == {"180", "181", "182"}
    assert {s.domain.name for s in conn.get_all_domain_stats(active_only=True)} == {"180"}
    assert conn.hostname() == "golden.test"
    assert conn.node_info().cpus == 2
    assert conn.version().simulated
    assert "<capabilities>" in conn.capabilities()
    assert all(c.name for c in conn.host_check())
    assert conn.get_uri() == uri_of_conn(conn) and not conn.is_read_only()


def uri_of_conn(conn: openvz.Connection) -> str:
    return conn.uri.text


def test_changes_wait_by_default_or_return_a_job(conn: openvz.Connection) -> None:
    dom = conn.lookup_by_name("182")
    assert dom.set_memory_parameters(swap_hard_limit_kib=1048576) is None
    assert dom.memory_parameters().swap_hard_limit_kib == 1048576
    assert dom.set_hostname("ct182.golden.test") is None
    assert dom.hostname() == "ct182.golden.test"
    job = dom.set_vcpus(2, wait=False)
    assert isinstance(job, openvz.Job)
    assert job.wait(timeout=30) is job
    assert (job.state, job.done, job.error, job.progress[0]) == ("succeeded", True, None, 100)
    assert conn.job(job.id).message.operation == job.message.operation
    assert job.id in [j.id for j in conn.list_jobs(182)]
    assert dom.info().vcpus == 2
    with pytest.raises(openvz.InvalidArgument, match="unknown memory parameter"):
        dom.set_memory_parameters(hard_limit=1)


def test_job_wait_timeout_and_cancel(daemon: DaemonProcess, conn: openvz.Connection) -> None:
    dom = conn.lookup_by_name("182")
    set_knobs(daemon, delay={"start": 3})
    try:
        running = dom.create(wait=False)
        queued = dom.set_autostart(True, wait=False)  # behind the start, on the same lane
        assert running is not None and queued is not None
        with pytest.raises(openvz.Timeout, match="is still") as timed_out:
            running.wait(timeout=0.5)
        assert timed_out.value.job_id == running.id
        assert timed_out.value.code is grpc.StatusCode.DEADLINE_EXCEEDED
        queued.cancel()
        with pytest.raises(openvz.Cancelled):
            queued.wait(timeout=30)
        assert queued.state == "cancelled"
        running.wait(timeout=30)
        assert not dom.autostart()
    finally:
        set_knobs(daemon, delay={})
        dom.destroy()


def test_errors_carry_the_daemons_message_and_code(
    daemon: DaemonProcess, conn: openvz.Connection, tmp_path: Path
) -> None:
    with pytest.raises(openvz.NotFound) as unknown:
        conn.lookup_by_name("4242")
    assert unknown.value.code is grpc.StatusCode.NOT_FOUND
    assert "4242" in unknown.value.message
    with pytest.raises(openvz.WrongState) as running:
        conn.lookup_by_name("180").create()
    assert running.value.code is grpc.StatusCode.FAILED_PRECONDITION
    example_180 = (daemon.sim_dir / "example-150.xml").read_text().replace("150", "180")
    # define over 180 would redefine it; create makes a new one, and 180 exists.
    with pytest.raises(openvz.AlreadyExists, match="180 already exists"):
        conn.create_xml(example_180)
    with pytest.raises(openvz.InvalidArgument):
        conn.define_xml("<domain type='kvm'><name>x</name></domain>")
    with openvz.open_read_only(uri_of(daemon)) as read_only:
        assert read_only.is_read_only()
        assert read_only.lookup_by_name("180").is_active()
        with pytest.raises(openvz.PermissionDenied, match="read-only"):
            read_only.lookup_by_name("180").destroy()
    socket = tmp_path / "openvzd.sock"
    # As libvirt's open: an unreachable daemon fails the open itself, not the first call.
    with pytest.raises(openvz.Unavailable) as unavailable:
        openvz.open(f"openvz:///system?socket={socket}")
    assert str(socket) in unavailable.value.message
    assert "openvzd --simulate" in unavailable.value.message


def test_events_reconnect_and_resume_after_a_daemon_restart(tmp_path: Path) -> None:
    sim_dir = tmp_path / "sim"
    first = start_daemon(sim_dir)
    second: DaemonProcess | None = None
    try:
        define(first, 190, tmp_path)
        uri = uri_of(first)
        watcher = openvz.open(uri)
        events = watcher.events()
        with ThreadPoolExecutor(1) as pool, openvz.open(uri) as conn:
            pending = pool.submit(next, events)
            time.sleep(0.5)  # the stream is open before the change
            conn.lookup_by_name("190").create()
            started = pending.result(timeout=30)
            assert started.lifecycle.veid == 190
            assert started.lifecycle.kind == events_pb2.LIFECYCLE_KIND_STARTED

            first.stop()
            pending = pool.submit(next, events)  # reconnecting while nobody serves
            second = start_daemon(sim_dir)
            # Whether the watcher is back before this change or after it, it resumes
            # after the last event it saw and so gets it (behind a gap, if any).
            with openvz.open(uri) as again:
                again.lookup_by_name("190").destroy()
            seen = [pending.result(timeout=60)]
            while not seen[-1].HasField("lifecycle") and len(seen) < 5:
                seen.append(pool.submit(next, events).result(timeout=60))
        watcher.close()
        stopped = seen[-1]
        assert stopped.lifecycle.veid == 190
        assert stopped.lifecycle.kind == events_pb2.LIFECYCLE_KIND_STOPPED
        assert stopped.seq > started.seq  # resumed after what was seen, not from scratch
    finally:
        for process in (first, second):
            if process is not None:
                process.stop()


def test_open_fails_at_once_with_no_daemon(tmp_path: Path) -> None:
    """As libvirt's virConnectOpen: no daemon, no connection (and no waiting for one)."""
    uri = f"openvz:///system?socket={tmp_path / 'openvzd.sock'}"
    began = time.monotonic()
    for opener in (openvz.open, openvz.open_read_only):
        with pytest.raises(openvz.Unavailable, match="is openvzd running"):
            opener(uri)
    assert time.monotonic() - began < 5


def test_state_and_id_are_never_a_stale_copy(daemon: DaemonProcess, tmp_path: Path) -> None:
    define(daemon, 183, tmp_path)
    with openvz.open(uri_of(daemon)) as conn, openvz.open(uri_of(daemon)) as other:
        dom = conn.lookup_by_name("183")
        assert (dom.is_active(), dom.id()) == (False, -1)
        dom.create()
        assert (dom.is_active(), dom.id()) == (True, 183)
        # A change made elsewhere (another connection) shows at once too.
        other.lookup_by_name("183").destroy()
        assert (dom.is_active(), dom.id()) == (False, -1)
        job = dom.create(wait=False)
        assert job is not None
        job.wait(timeout=30)
        assert (dom.is_active(), dom.id()) == (True, 183)
        dom.destroy()


def test_events_carry_their_domain_and_end_quietly_on_close(
    daemon: DaemonProcess, tmp_path: Path
) -> None:
    define(daemon, 184, tmp_path)
    watcher = openvz.open(uri_of(daemon))
    events = watcher.events(veids=[184])
    with ThreadPoolExecutor(1) as pool, openvz.open(uri_of(daemon)) as conn:
        pending = pool.submit(next, events)
        time.sleep(0.5)  # the stream is open before the change
        conn.lookup_by_name("184").create()
        started = pending.result(timeout=30)
        domain = watcher.domain_of(started)
        assert domain is not None
        assert (domain.name(), domain.message.id) == ("184", 184)
        assert domain.uuid_string() == conn.lookup_by_name("184").uuid_string()
        assert domain.connect() is watcher
        # close() while another thread waits in the stream: the iteration just ends.
        rest = pool.submit(list, events)
        time.sleep(0.3)
        watcher.close()
        assert rest.result(timeout=10) == []
        conn.lookup_by_name("184").destroy()


def test_migrate_takes_a_uri_or_a_bare_host() -> None:
    from openvz.calls import migration_host

    assert migration_host("openvz+ssh://node2.example/system") == "node2.example"
    assert migration_host("openvz+ssh://root@node2.example/system") == "node2.example"
    assert migration_host("openvz://[2001:db8::2]/system") == "2001:db8::2"
    assert migration_host("node2.example") == "node2.example"
    with pytest.raises(openvz.InvalidArgument, match="names no host"):
        migration_host("openvz+ssh:///system")
    with pytest.raises(openvz.InvalidArgument, match="not an openvz URI"):
        migration_host("qemu+ssh://node2/system")
