"""The journal apart from the scheduler: schema version 2 records the caller,
a version-1 journal (built here by version 1's own SQL) is migrated at start
with every job kept and its stored passwords replaced by the marker, and the
runner shows a run's secret nowhere."""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from openvz.v1 import common_pb2, jobs_pb2, jobs_pb2_grpc
from openvzd.core.caller import DAEMON, Caller
from openvzd.core.secret import Secret
from openvzd.core.service import Core
from openvzd.events import EventBus
from openvzd.jobs import JobQueue, JobState
from openvzd.journal import SCHEMA_VERSION, Job, Journal, JournalError
from openvzd.vz.errors import ErrorKind, OpenvzError
from openvzd.vz.runner import ToolPaths, ToolRunner

from tests.daemon_process import running_daemon
from tests.proof.sim import prepare_host

# Version 1's schema, as jobs.py created it before the journal was split out.
V1_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT UNIQUE NOT NULL,
    operation TEXT NOT NULL,
    veid INTEGER NOT NULL,
    params TEXT NOT NULL,
    state TEXT NOT NULL,
    error TEXT,
    result TEXT,
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    idempotency_key TEXT UNIQUE
);
CREATE TABLE IF NOT EXISTS archive (
    id TEXT PRIMARY KEY, veid INTEGER NOT NULL, record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state);
"""
OLD_PASSWORD = "old pass-w0rd"


def _v1_journal(path: Path) -> None:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(V1_SCHEMA)
    db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', '1')")
    argv = ["--userpasswd", f"root:{OLD_PASSWORD}"]
    error = {
        "kind": "INTERNAL",
        "message": f"vzctl set 101 --userpasswd root:{OLD_PASSWORD} --save failed with "
        "exit code 74: no",
        "tool": "vzctl",
        "exit_code": 74,
    }
    rows = [
        ("a", "define", 101, {"xml": "<domain/>"}, "succeeded", None, "k1"),
        ("b", "set", 101, {"args": argv}, "failed", error, None),
        ("c", "set", 101, {"args": ["--cpus", "2"]}, "succeeded", None, None),
        ("d", "start", 101, {}, "queued", None, None),
        ("e", "set", 101, {"args": argv}, "queued", None, None),
    ]
    for job_id, operation, veid, params, state, err, key in rows:
        db.execute(
            "INSERT INTO jobs (id, operation, veid, params, state, error, created, "
            "idempotency_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (job_id, operation, veid, json.dumps(params), state, err and json.dumps(err), 1.0, key),
        )
    record = {
        "id": "z",
        "operation": "set",
        "veid": 101,
        "params": {"args": argv},
        "state": "succeeded",
        "error": None,
    }
    db.execute("INSERT INTO archive VALUES ('z', 101, ?)", (json.dumps(record),))
    db.close()


async def _never(job: object, ctx: object) -> None:
    raise AssertionError("nothing runs in this test")


async def test_a_version_1_journal_is_migrated_with_no_job_lost(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "jobs.sqlite"
    _v1_journal(path)
    assert OLD_PASSWORD.encode() in path.read_bytes()  # version 1 kept it in clear
    with caplog.at_level(logging.WARNING):
        queue = JobQueue(path, _never)
    assert "migrated from schema version 1" in caplog.text
    jobs = await queue.load()
    assert jobs == []  # nothing was running
    loaded = {job.id: job for job in queue.list(limit=100)}
    assert sorted(loaded) == ["a", "b", "c", "d", "e"]
    assert loaded["d"].state is JobState.QUEUED and loaded["a"].idempotency_key == "k1"
    assert all(job.caller == DAEMON for job in loaded.values())
    assert loaded["b"].params == {"args": ["--userpasswd", "root:<secret>"]}
    assert loaded["b"].error is not None and loaded["b"].error.kind is ErrorKind.INTERNAL
    assert "--userpasswd root:<secret> --save failed" in loaded["b"].error.message
    assert loaded["c"].params == {"args": ["--cpus", "2"]}
    assert queue.meta("schema_version") == str(SCHEMA_VERSION)
    await queue.stop(1)
    for file in tmp_path.iterdir():
        assert OLD_PASSWORD.encode() not in file.read_bytes(), file
    with sqlite3.connect(path) as db:
        (record,) = db.execute("SELECT record FROM archive").fetchone()
    assert json.loads(record)["params"] == {"args": ["--userpasswd", "root:<secret>"]}


async def _done(job: object, ctx: object) -> None:
    return None


async def test_version_2_records_the_caller(tmp_path: Path) -> None:
    queue = JobQueue(tmp_path / "jobs.sqlite", _done)
    await queue.load()
    queue.run()
    caller = Caller("unix", uid=1000, gid=1000, pid=42, read_only=False)
    job = queue.submit("start", 101, caller=caller)
    assert (await queue.wait(job.id, 5)).state is JobState.SUCCEEDED
    await queue.stop(1)
    reloaded = JobQueue(tmp_path / "jobs.sqlite", _never)
    await reloaded.load()
    again = reloaded.get(job.id)
    assert again is not None and again.caller == caller
    await reloaded.stop(1)


def test_an_unknown_schema_version_is_refused_with_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite"
    with sqlite3.connect(path) as db:
        db.executescript(V1_SCHEMA)
        db.execute("INSERT INTO meta VALUES ('schema_version', '9')")
    with pytest.raises(JournalError, match="schema version 9"):
        Journal(path)


async def test_the_runner_hides_the_secret_of_a_failed_run(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    tool = tmp_path / "vzctl"
    # A tool that fails and repeats its arguments, as a careless one might.
    tool.write_text('#!/bin/sh\necho "bad: $*" >&2\nexit 74\n')
    tool.chmod(0o755)
    runner = ToolRunner(ToolPaths(tool, tool, tool), {"default": 10})
    secret = Secret("hunter2-xyz")
    with caplog.at_level(logging.DEBUG), pytest.raises(OpenvzError) as failed:
        await runner.run(
            "vzctl", ["set", "101", "--userpasswd", "root:hunter2-xyz"], secrets=[secret]
        )
    shown = f"{failed.value} {failed.value.argv} {failed.value.stderr} {caplog.text}"
    assert "hunter2-xyz" not in shown
    assert "--userpasswd root:<secret>" in str(failed.value)
    assert "bad: set 101 --userpasswd root:<secret>" in failed.value.stderr


def test_the_archive_is_kept_within_its_age_and_count(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "jobs.sqlite")
    now = time.time()
    old = [
        Job(f"j{n}", "start", 101, {}, state=JobState.SUCCEEDED, finished=now - n * 86400)
        for n in range(10)
    ]
    journal.archive(old)
    # j9..j6 are older than 5.5 days; of the rest, the newest 3 stay.
    assert journal.prune_archive(max_jobs=3, max_age_seconds=5.5 * 86400) == 7
    with sqlite3.connect(tmp_path / "jobs.sqlite") as db:
        kept = sorted(row[0] for row in db.execute("SELECT id FROM archive"))
    assert kept == ["j0", "j1", "j2"]
    journal.close()


def test_the_daemon_starts_on_a_version_1_journal(tmp_path: Path) -> None:
    """Its history is listed, its queued start runs, and its queued `set` (raw
    vzctl arguments, which this version does not replay) ends INTERRUPTED."""
    sim = tmp_path / "sim"
    prepare_host(sim, 1, 101)
    (sim / "state").mkdir(parents=True)
    _v1_journal(sim / "state" / "jobs.sqlite")
    with running_daemon(sim) as daemon, daemon.channel(read_only=True) as channel:
        jobs = jobs_pb2_grpc.JobsStub(channel)
        listed = {job.id: job for job in jobs.List(jobs_pb2.ListJobsRequest()).jobs}
        assert sorted(listed) == ["a", "b", "c", "d", "e"]
        assert listed["a"].caller.transport == "daemon"
        waited = list(jobs.Wait(jobs_pb2.WaitJobRequest(id="d"), timeout=30))
        assert waited[-1].state == common_pb2.JOB_STATE_SUCCEEDED
        stale = jobs.Get(jobs_pb2.JobRef(id="e"))
        assert stale.state == common_pb2.JOB_STATE_INTERRUPTED
        assert "'set' is no operation of this openvzd" in stale.error.message
        assert "migrated from schema version 1" in daemon.log()
    for file in (sim / "state").iterdir():
        assert OLD_PASSWORD.encode() not in file.read_bytes(), file


async def _fails_loudly(job: object, ctx: object) -> None:
    raise OpenvzError(ErrorKind.INTERNAL, "x" * 400_000)


async def test_a_page_of_jobs_stays_small_however_long_their_errors(tmp_path: Path) -> None:
    queue = JobQueue(tmp_path / "jobs.sqlite", _fails_loudly)
    await queue.load()
    queue.run()
    jobs = [queue.submit("start", 101 + n) for n in range(6)]
    for job in jobs:
        assert (await queue.wait(job.id, 5)).state is JobState.FAILED
    core = Core(SimpleNamespace(), queue, EventBus())  # type: ignore[arg-type]  # only jobs() is used
    first = core.jobs(limit=100)
    # About 400 kB each: two fit in the 1 MiB a page may take.
    assert len(first.jobs) == 2 and first.next_page_token == first.jobs[-1].id
    seen = [job.id for job in first.jobs]
    token = first.next_page_token
    for _ in range(6):
        if not token:
            break
        page = core.jobs(limit=100, page_token=token)
        seen += [job.id for job in page.jobs]
        token = page.next_page_token
    assert seen == [job.id for job in reversed(jobs)]
    await queue.stop(1)


async def test_a_tool_that_prints_megabytes_is_quoted_in_part(tmp_path: Path) -> None:
    tool = tmp_path / "vzctl"
    tool.write_text("#!/bin/sh\nhead -c 300000 /dev/zero | tr '\\\\0' y >&2\nexit 3\n")
    tool.chmod(0o755)
    runner = ToolRunner(ToolPaths(tool, tool, tool), {"default": 10})
    with pytest.raises(OpenvzError) as failed:
        await runner.run("vzctl", ["start", "101"])
    assert len(failed.value.message) < 5000
    assert "more characters)" in failed.value.message
