"""After a crash, an interrupted job ends as what the host shows (issue 18).

Each operation's postcondition is read back at the restart, on the real daemon
over vzsim. The crafted tests write the journal as a kill -9 leaves it (the job
marked RUNNING, with the plan its run journaled, if it got that far) and make
the host show the job done, or not, with vzsim's own vzctl run by hand, as a
vzctl that outlived the daemon would have left it; then one daemon start
recovers them all. The kill tests SIGKILL the daemon while a slow vzctl runs, so
that vzctl finishes after the daemon died.
"""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
from openvz.v1 import (
    common_pb2,
    domains_pb2,
    domains_pb2_grpc,
    events_pb2,
    events_pb2_grpc,
    jobs_pb2,
    jobs_pb2_grpc,
)
from openvzd.journal import SCHEMA_VERSION, Job, JobState, Journal
from openvzd.vz.conffile import read_config, updated_text
from openvzd.vz.spec import spec_from_config

from tests.client.helpers import OVZSH, ovzsh_env, uri_of
from tests.daemon_process import DaemonProcess, running_daemon, start_daemon
from tests.proof.records import set_knobs, tool_runs
from tests.proof.sim import define_xml, prepare_host

FIRST = 401
COUNT = 28
RUNNING = 8  # populate starts the first RUNNING of them
TEMPLATE = "centos-7-x86_64-minimal"
MAC = "00:18:51:AA:BB:0C"
SUCCEEDED = common_pb2.JOB_STATE_SUCCEEDED
INTERRUPTED = common_pb2.JOB_STATE_INTERRUPTED


@dataclass
class Crash:
    """One job as a crash left it in the journal, and what recovery must make of it."""

    operation: str
    veid: int
    params: dict[str, Any]
    state: int
    says: str  # in the recovery record (and, INTERRUPTED, in the error)
    retries: int = 0
    plan: dict[str, Any] | None = None
    started_ago: float = 0.0
    retried_before: int = 0
    job_id: str = field(default_factory=lambda: uuid.uuid4().hex)


def _vzctl(sim: Path, *args: str) -> None:
    subprocess.run(
        [str(sim / "host" / "usr" / "sbin" / "vzctl"), *args],
        capture_output=True,
        check=True,
        timeout=60,
    )


def _conf(sim: Path, veid: int) -> Path:
    return sim / "host" / "etc" / "vz" / "conf" / f"{veid}.conf"


def _memory_kib(sim: Path, veid: int) -> int:
    values = read_config(_conf(sim, veid)).values
    return spec_from_config(values, veid, "", "").memory_kib


def _write_uuid(sim: Path, veid: int, value: str) -> None:
    conf = _conf(sim, veid)
    conf.write_text(updated_text(conf.read_text(), {}, uuid=value))


def _journal_crashes(sim: Path, crashes: Sequence[Crash]) -> None:
    """The journal as a kill -9 leaves it: each job RUNNING since started_ago."""
    (sim / "state").mkdir(parents=True, exist_ok=True)
    journal = Journal(sim / "state" / "jobs.sqlite")
    for crash in crashes:
        job = Job(crash.job_id, crash.operation, crash.veid, crash.params)
        journal.insert(job)
        job.state = JobState.RUNNING
        job.started = time.time() - crash.started_ago
        journal.mark_running(job)
        if crash.plan is not None:
            job.plan = crash.plan
            journal.record_plan(job)
        if crash.retried_before:
            job.retries, job.recovery = crash.retried_before, "run again after an earlier restart"
            journal.record_retry(job)
            job.state = JobState.RUNNING
            journal.mark_running(job)
    journal.close()


def _final(channel: grpc.Channel, job_id: str) -> common_pb2.Job:
    stream = jobs_pb2_grpc.JobsStub(channel).Wait(
        jobs_pb2.WaitJobRequest(id=job_id, timeout_seconds=60), timeout=90
    )
    return list(stream)[-1]


def _state(channel: grpc.Channel, veid: int) -> int:
    stub = domains_pb2_grpc.DomainsStub(channel)
    return int(stub.Lookup(common_pb2.DomainRef(id=veid), timeout=10).state)


@pytest.fixture(scope="module")
def recovered(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[DaemonProcess, list[Crash]]]:
    """One host, one crafted crash per postcondition case, one restart."""
    sim = tmp_path_factory.mktemp("recovery") / "sim"
    prepare_host(sim, COUNT, FIRST, running=RUNNING)
    ids = iter(range(FIRST, FIRST + COUNT))
    run = [next(ids) for _ in range(RUNNING)]  # running containers
    stopped = list(ids)
    crashes: list[Crash] = []

    def add(crash: Crash) -> Crash:
        crashes.append(crash)
        return crash

    # start: vzctl finished after the crash / never ran.
    _vzctl(sim, "start", str(stopped[0]))
    add(Crash("start", stopped[0], {}, SUCCEEDED, "verified after restart: container"))
    add(Crash("start", stopped[1], {}, SUCCEEDED, "run again", retries=1))
    # destroy and shutdown: stopped.
    _vzctl(sim, "stop", str(run[0]), "--fast")
    add(Crash("destroy", run[0], {}, SUCCEEDED, "verified after restart"))
    add(Crash("destroy", run[1], {}, SUCCEEDED, "run again", retries=1))
    add(Crash("shutdown", run[2], {"timeout_seconds": 0}, SUCCEEDED, "run again", retries=1))
    # suspend: paused is openvzd's own record, so a frozen-by-vzctl container runs it again.
    add(Crash("suspend", run[3], {}, SUCCEEDED, "run again", retries=1))
    add(Crash("suspend", stopped[2], {}, INTERRUPTED, "is stopped"))
    # resume of a running, not paused container: holds.
    add(Crash("resume", run[4], {}, SUCCEEDED, "verified after restart"))
    # reboot: up since after the job began / since before it.
    add(Crash("reboot", run[5], {}, SUCCEEDED, "verified after restart", started_ago=3600))
    # (vzsim writes /proc/vz/vestat only when its kernel state changes, so the
    # uptime of a container left running is stale there: not yet is shown stopped.)
    add(Crash("reboot", stopped[16], {}, SUCCEEDED, "run again", retries=1))
    # set-memory through the run's own mapping: holds / not yet.
    memory = _memory_kib(sim, stopped[3])
    add(Crash("set-memory", stopped[3], {"memory_kib": memory}, SUCCEEDED, "holds the change"))
    add(Crash("set-memory", stopped[4], {"memory_kib": 2 * memory}, SUCCEEDED, "run again", 1))
    # set-vcpus, set-autostart, set-hostname, set-nameservers: vzctl set by hand.
    _vzctl(sim, "set", str(stopped[5]), "--cpus", "3", "--save")
    add(Crash("set-vcpus", stopped[5], {"vcpus": 3}, SUCCEEDED, "verified after restart"))
    add(Crash("set-vcpus", stopped[6], {"vcpus": 3}, SUCCEEDED, "run again", retries=1))
    _vzctl(sim, "set", str(stopped[7]), "--onboot", "yes", "--save")
    add(Crash("set-autostart", stopped[7], {"autostart": True}, SUCCEEDED, "verified"))
    _vzctl(sim, "set", str(stopped[8]), "--hostname", "after.example.org", "--save")
    add(Crash("set-hostname", stopped[8], {"hostname": "after.example.org"}, SUCCEEDED, "holds"))
    _vzctl(sim, "set", str(stopped[9]), "--nameserver", "10.9.9.9", "--save")
    nameservers = {"nameservers": ["10.9.9.9"], "search_domains": []}
    add(Crash("set-nameservers", stopped[9], nameservers, SUCCEEDED, "verified after restart"))
    # attach-interface: the MAC the run picked (journaled) is there / the run never got to vzctl.
    bridge = "<interface type='bridge'><source bridge='vmbr0'/></interface>"
    _vzctl(sim, "set", str(stopped[10]), "--netif_add", f"eth0,{MAC}", "--save")
    planned = {"interfaces": [{"guest_dev": "eth0", "mac": MAC}]}
    attach = {"device_xml": bridge, "kind": "interface"}
    add(Crash("attach-interface", stopped[10], attach, SUCCEEDED, MAC, plan=planned))
    add(Crash("attach-interface", stopped[11], attach, SUCCEEDED, "run again", retries=1))
    # detach of an interface that is gone: holds.
    gone = f"<interface type='bridge'><mac address='{MAC}'/></interface>"
    detach = {"device_xml": gone, "kind": "interface"}
    add(Crash("detach-interface", stopped[12], detach, SUCCEEDED, "the device is gone"))
    # undefine: gone / still there and stopped.
    _vzctl(sim, "destroy", str(stopped[13]))
    add(Crash("undefine", stopped[13], {"keep_storage": False}, SUCCEEDED, "has no config"))
    add(Crash("undefine", stopped[14], {"keep_storage": False}, SUCCEEDED, "run again", 1))
    add(Crash("undefine", stopped[15], {"keep_storage": True}, INTERRUPTED, "undefined-"))
    # migrate and set-user-password: unknowable; never repeated.
    migrate = {"destination": "other.example.org", "online": False, "keep_source": False}
    add(Crash("migrate", run[7], migrate, INTERRUPTED, "cannot be read from this host"))
    password = {"user": "root", "password": "<secret>"}
    add(Crash("set-user-password", stopped[17], password, INTERRUPTED, "never stored"))
    # A job already run again once after an earlier crash is not run a third time.
    add(
        Crash(
            "set-vcpus", stopped[18], {"vcpus": 2}, INTERRUPTED, "run again once", retried_before=1
        )
    )
    _journal_crashes(sim, crashes)
    with running_daemon(sim) as daemon:
        yield daemon, crashes
        assert "Traceback" not in daemon.log()


def test_each_postcondition_ends_its_job_as_the_host_shows(
    recovered: tuple[DaemonProcess, list[Crash]],
) -> None:
    daemon, crashes = recovered
    with daemon.channel() as channel:
        problems = []
        for crash in crashes:
            job = _final(channel, crash.job_id)
            record = f"{crash.operation} {crash.veid}: {job.recovery!r} / {job.error.message!r}"
            if job.state != crash.state or crash.says not in job.recovery:
                problems.append(f"{common_pb2.JobState.Name(job.state)} {record}")
            if job.retries != crash.retries + crash.retried_before:
                problems.append(f"retries {job.retries}: {record}")
            if job.state == INTERRUPTED and (
                job.error.kind != common_pb2.ERROR_KIND_INTERRUPTED
                or job.error.message != job.recovery
            ):
                problems.append(f"error of {record}")
        assert problems == []


def test_retried_and_verified_jobs_left_the_host_where_they_say(
    recovered: tuple[DaemonProcess, list[Crash]],
) -> None:
    daemon, crashes = recovered
    sim = daemon.sim_dir
    by_case = {(c.operation, c.retries): c for c in crashes if not c.retried_before}
    with daemon.channel() as channel:
        assert _state(channel, by_case["start", 0].veid) == domains_pb2.DOMAIN_STATE_RUNNING
        assert _state(channel, by_case["start", 1].veid) == domains_pb2.DOMAIN_STATE_RUNNING
        assert _state(channel, by_case["destroy", 1].veid) == domains_pb2.DOMAIN_STATE_SHUTOFF
        assert _state(channel, by_case["shutdown", 1].veid) == domains_pb2.DOMAIN_STATE_SHUTOFF
        assert _state(channel, by_case["suspend", 1].veid) == domains_pb2.DOMAIN_STATE_PAUSED
        memory = by_case["set-memory", 1]
        assert _memory_kib(sim, memory.veid) == memory.params["memory_kib"]
        assert read_config(_conf(sim, by_case["set-vcpus", 1].veid)).values["CPUS"] == "3"
        retried_attach = by_case["attach-interface", 1].veid
        assert "eth0," in read_config(_conf(sim, retried_attach)).values["NETIF"]
        assert not _conf(sim, by_case["undefine", 1].veid).exists()
        # keep_storage was not repeated: the container is as it was.
        kept = [c for c in crashes if c.operation == "undefine" and c.params["keep_storage"]]
        assert _conf(sim, kept[0].veid).exists()
    # Each retried job ran its vzctl command once, after the restart.
    runs = tool_runs(sim / "host")
    for crash in crashes:
        if crash.retries and crash.operation == "start":
            starts = [r for r in runs if r.command == "start" and r.ctid == crash.veid]
            assert [r.exit for r in starts] == [0]


def test_ovzsh_job_info_shows_what_recovery_did(
    recovered: tuple[DaemonProcess, list[Crash]],
) -> None:
    daemon, crashes = recovered
    retried = next(c for c in crashes if c.operation == "set-vcpus" and c.retries == 1)
    interrupted = next(c for c in crashes if c.operation == "migrate")
    shown = {}
    for crash in (retried, interrupted):
        result = subprocess.run(
            [OVZSH, "-c", uri_of(daemon), "job-info", crash.job_id],
            capture_output=True,
            text=True,
            timeout=60,
            env=ovzsh_env(),
        )
        assert result.returncode == 0, result.stderr
        shown[crash.operation] = dict(
            (name.strip(), value.strip())
            for name, value in (line.split(":", 1) for line in result.stdout.splitlines() if line)
        )
    assert shown["set-vcpus"]["State"] == "succeeded"
    assert "run again" in shown["set-vcpus"]["Recovery"]
    assert shown["set-vcpus"]["Retries"] == "1"
    # An interrupted job's error is recovery's finding: said once.
    assert "cannot be read from this host" in shown["migrate"]["Error"]
    assert "Recovery" not in shown["migrate"] and "Retries" not in shown["migrate"]


def test_a_wait_opened_after_the_restart_returns_the_final_state_at_once(
    recovered: tuple[DaemonProcess, list[Crash]],
) -> None:
    daemon, crashes = recovered
    verified = next(c for c in crashes if c.state == SUCCEEDED and not c.retries)
    interrupted = next(c for c in crashes if c.state == INTERRUPTED)
    with daemon.channel(read_only=True) as channel:
        jobs = jobs_pb2_grpc.JobsStub(channel)
        for crash in (verified, interrupted):
            began = time.monotonic()
            snapshots = list(
                jobs.Wait(jobs_pb2.WaitJobRequest(id=crash.job_id, timeout_seconds=30), timeout=60)
            )
            assert time.monotonic() - began < 5
            assert [s.state for s in snapshots] == [crash.state]


def test_a_half_made_define_is_removed_as_vzctl_removes_a_failed_create(tmp_path: Path) -> None:
    sim = tmp_path / "sim"
    prepare_host(sim, 1, FIRST)
    verified, half, unstarted, mounted = 510, 511, 512, 514
    (sim / "host" / "srv" / "ct514" / "sbin").mkdir(parents=True)
    _conf(sim, mounted).write_text('VE_PRIVATE="/srv/ct514"\n')
    ours, theirs = str(uuid.uuid4()), str(uuid.uuid4())
    for veid in (verified, half, unstarted):
        _vzctl(sim, "create", str(veid), "--ostemplate", TEMPLATE)
    _write_uuid(sim, verified, ours)
    _write_uuid(sim, unstarted, theirs)
    (sim / "host" / "vz" / "private" / f"{half}.tmp").mkdir(parents=True)
    crashes = [
        Crash("define", verified, {"xml": define_xml(verified), "pick_veid": False}, SUCCEEDED,
              "with the job's UUID", plan={"veid": verified, "uuid": ours, "private_dir": ""}),
        Crash("define", 0, {"xml": define_xml(0), "pick_veid": True}, INTERRUPTED,
              "removed it as vzctl does when create fails",
              plan={"veid": half, "uuid": str(uuid.uuid4()), "private_dir": ""}),
        Crash("create", unstarted, {"xml": define_xml(unstarted), "pick_veid": False},
              INTERRUPTED, f"ovzsh start {unstarted}",
              plan={"veid": unstarted, "uuid": theirs, "private_dir": ""}),
        # type='mount': the directory was never ours; only the half-written config goes.
        Crash("define", mounted, {"xml": define_xml(mounted), "pick_veid": False}, INTERRUPTED,
              "its config", plan={"veid": mounted, "uuid": ours, "private_dir": "/srv/ct514"}),
        # Nothing journaled: the run had made nothing, so it runs again.
        Crash("define", 513, {"xml": define_xml(513), "pick_veid": False}, SUCCEEDED,
              "run again", retries=1),
    ]  # fmt: skip
    _journal_crashes(sim, crashes)
    with running_daemon(sim) as daemon, daemon.channel() as channel:
        for crash in crashes:
            job = _final(channel, crash.job_id)
            assert (job.state, job.retries) == (crash.state, crash.retries), job
            assert crash.says in job.recovery, job
        verified_job = _final(channel, crashes[0].job_id)
        assert verified_job.result_veid == verified
        assert _state(channel, 513) == domains_pb2.DOMAIN_STATE_SHUTOFF
    private = sim / "host" / "vz" / "private"
    assert not _conf(sim, half).exists()
    assert not (private / str(half)).exists() and not (private / f"{half}.tmp").exists()
    assert (private / str(verified)).is_dir() and _conf(sim, verified).exists()
    assert _conf(sim, unstarted).exists()
    assert not _conf(sim, mounted).exists() and (sim / "host" / "srv" / "ct514" / "sbin").is_dir()


def _wait_for_run(sim: Path, command: str, veid: int, timeout: float = 30) -> None:
    """Until vzsim's log shows vzctl `command` on veid begun and not ended."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = tool_runs(sim / "host")
        if any(r.command == command and r.ctid == veid and r.t_end is None for r in runs):
            return
        time.sleep(0.05)
    raise AssertionError(f"vzctl {command} {veid} never began")


def _kill_during(sim: Path, command: str, veid: int, submit: Any) -> str:
    """Submit with no_wait, SIGKILL the daemon once the slow vzctl runs; the job's id."""
    daemon = start_daemon(sim)
    try:
        with daemon.channel() as channel:
            job_id = str(submit(domains_pb2_grpc.DomainsStub(channel)).job.id)
        _wait_for_run(sim, command, veid)
    finally:
        daemon.stop(9)
    return job_id


def test_kill_9_while_vzctl_runs_then_it_finishes_and_the_job_is_verified(tmp_path: Path) -> None:
    sim = tmp_path / "sim"
    prepare_host(sim, 3, FIRST)
    set_knobs(sim / "host", {"delay": {"start": 1.5, "set": 1.5, "create": 1.5}})
    queued = common_pb2.JobOptions(no_wait=True)
    start = _kill_during(
        sim,
        "start",
        FIRST,
        lambda stub: stub.Start(
            domains_pb2.DomainCall(domain=common_pb2.DomainRef(id=FIRST), options=queued)
        ),
    )
    memory = _kill_during(
        sim,
        "set",
        FIRST + 1,
        lambda stub: stub.SetMemory(
            domains_pb2.SetMemoryRequest(
                domain=common_pb2.DomainRef(id=FIRST + 1), memory_kib=786432, options=queued
            )
        ),
    )
    # No <mac>: the run picks one; it is journaled before vzctl runs, and found after.
    attach = _kill_during(
        sim,
        "set",
        FIRST + 2,
        lambda stub: stub.AttachDevice(
            domains_pb2.DeviceRequest(
                domain=common_pb2.DomainRef(id=FIRST + 2),
                device_xml="<interface type='bridge'><source bridge='vmbr0'/></interface>",
                options=queued,
            )
        ),
    )
    define = _kill_during(
        sim,
        "create",
        520,
        lambda stub: stub.Define(domains_pb2.DefineRequest(xml=define_xml(520), options=queued)),
    )
    set_knobs(sim / "host", {})
    with running_daemon(sim) as daemon, daemon.channel() as channel:
        started = _final(channel, start)
        assert started.state == SUCCEEDED and started.retries == 0
        assert started.recovery == f"verified after restart: container {FIRST} is running"
        assert _state(channel, FIRST) == domains_pb2.DOMAIN_STATE_RUNNING
        set_memory = _final(channel, memory)
        assert set_memory.state == SUCCEEDED and "holds the change" in set_memory.recovery
        attached = _final(channel, attach)
        netif = read_config(_conf(sim, FIRST + 2)).values["NETIF"]
        mac = netif.split("mac=")[1].split(",")[0]
        assert attached.state == SUCCEEDED, attached
        assert attached.recovery.lower() == (
            f"verified after restart: container {FIRST + 2} has eth0 with mac {mac}".lower()
        )
        # The define's create finished after the kill, its set and UUID never came:
        # half made, so removed as a failed create is, and the caller told so.
        defined = _final(channel, define)
        assert defined.state == INTERRUPTED and "define it again" in defined.error.message
        assert "removed it as vzctl does when create fails" in defined.error.message
    assert not _conf(sim, 520).exists()
    assert not (sim / "host" / "vz" / "private" / "520").exists()
    starts = [r for r in tool_runs(sim / "host") if r.command == "start" and r.ctid == FIRST]
    assert [r.exit for r in starts] == [0]  # one run, verified, not repeated


def test_the_journal_keeps_the_plan_and_a_retry_plans_afresh(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite"
    journal = Journal(path)
    job = Job("j1", "attach-interface", 7, {"device_xml": "<interface/>", "kind": "interface"})
    journal.insert(job)
    job.plan = {"interfaces": [{"guest_dev": "eth1", "mac": MAC}]}
    journal.record_plan(job)
    journal.close()
    journal = Journal(path)
    (planned,) = journal.load()
    assert planned.plan == job.plan and (planned.retries, planned.recovery) == (0, "")
    planned.state, planned.retries, planned.recovery = JobState.QUEUED, 1, "run again"
    journal.record_retry(planned)
    journal.close()
    (retried,) = Journal(path).load()
    assert (retried.state, retried.retries, retried.recovery) == (JobState.QUEUED, 1, "run again")
    assert retried.plan is None


def test_an_event_watcher_that_reconnects_gets_each_recovered_jobs_final_state(
    recovered: tuple[DaemonProcess, list[Crash]],
) -> None:
    """Resuming after a number of the previous run (here 1), the watcher gets the
    gap, then every job recovery ended, as it ended (job events)."""
    daemon, crashes = recovered
    wanted = {crash.job_id: crash for crash in crashes if not crash.retries}
    seen: dict[str, events_pb2.Event] = {}
    with daemon.channel(read_only=True) as channel:
        stream = events_pb2_grpc.EventsStub(channel).Watch(
            events_pb2.WatchRequest(after_seq=1, include_jobs=True), timeout=30
        )
        first = next(stream)
        assert first.WhichOneof("payload") == "gap"
        for event in stream:
            if event.WhichOneof("payload") == "job" and event.job.id in wanted:
                seen[event.job.id] = event
                if len(seen) == len(wanted):
                    stream.cancel()
                    break
    assert sorted(seen) == sorted(wanted)
    for job_id, event in seen.items():
        assert event.job.state == wanted[job_id].state, event
        assert wanted[job_id].says in event.job.recovery


def test_a_version_2_journal_gains_the_plan_and_recovery_columns(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite"
    journal = Journal(path)
    journal.insert(Job("old", "start", 7, {}))
    journal.close()
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        for column in ("plan", "recovery", "retries"):
            db.execute(f"ALTER TABLE jobs DROP COLUMN {column}")
        db.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    migrated = Journal(path)
    (job,) = migrated.load()
    assert (job.id, job.plan, job.recovery, job.retries) == ("old", None, "", 0)
    assert migrated.meta("schema_version") == str(SCHEMA_VERSION) == "3"


def test_kill_9_while_a_vzctl_set_dies_too_runs_the_job_again_once(tmp_path: Path) -> None:
    """vzctl set dies half-way through its config write (vzsim's fault) while the
    daemon is killed: the config is the old one, so the job runs again, once,
    and says so; the host's log shows the two runs."""
    sim = tmp_path / "sim"
    prepare_host(sim, 1, FIRST)
    fault = {"command": "set", "die_during_config_write": True, "count": 1}
    set_knobs(sim / "host", {"delay": {"set": 1.5}, "faults": [fault]})
    ref = common_pb2.DomainRef(id=FIRST)
    job_id = _kill_during(
        sim,
        "set",
        FIRST,
        lambda stub: stub.SetVcpus(
            domains_pb2.SetVcpusRequest(
                domain=ref, vcpus=3, options=common_pb2.JobOptions(no_wait=True)
            )
        ),
    )
    (dying,) = [r for r in tool_runs(sim / "host") if r.command == "set"]
    deadline = time.monotonic() + 30
    while Path(f"/proc/{dying.pid}").exists():  # it SIGKILLs itself: no end line
        assert time.monotonic() < deadline, "the dying vzctl set never ended"
        time.sleep(0.05)
    assert read_config(_conf(sim, FIRST)).values.get("CPUS") != "3"
    with running_daemon(sim) as daemon, daemon.channel() as channel:
        job = _final(channel, job_id)
        assert (job.state, job.retries) == (SUCCEEDED, 1), job
        assert "does not hold the change yet, so the job was run again" in job.recovery
    assert read_config(_conf(sim, FIRST)).values["CPUS"] == "3"
    sets = [r for r in tool_runs(sim / "host") if r.command == "set" and r.ctid == FIRST]
    assert [r.exit == 0 for r in sets] == [False, True]
