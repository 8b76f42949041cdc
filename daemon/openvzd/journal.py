"""The job journal: one SQLite file (WAL, synchronous=FULL) holding every job
as intent, its caller and how it ended, plus the archive of old jobs.

The scheduler (jobs.py) decides when a job runs; this module only keeps its
rows. A job's parameters are written as its operation's params(), where a
secret is the marker: no secret ever reaches this file.

Schema version 2 adds the caller of every job, and the archive's `finished`
time, by which the archive is kept within an age and a count. A version-1 journal (openvzd
before jobs carried intent) is migrated in place at start, so no history is
lost: its jobs get no caller (shown as the daemon's own), and the one secret
version 1 stored in clear, `--userpasswd USER:PASSWORD` in a "set" job's
arguments and in its error text, is replaced by the marker in the jobs and the
archive; the file is then vacuumed and its WAL truncated, so the old bytes do
not survive in free pages either.
"""

from __future__ import annotations

import enum
import json
import logging
import re
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from openvzd.core.caller import DAEMON, Caller
from openvzd.core.secret import MARKER
from openvzd.vz.errors import ErrorKind

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2


class JobState(enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"

    @property
    def finished(self) -> bool:
        return self not in (JobState.QUEUED, JobState.RUNNING)


@dataclass(slots=True)
class JobError:
    kind: ErrorKind
    message: str
    tool: str = ""
    exit_code: int = 0

    def to_record(self) -> dict[str, Any]:
        return {
            "kind": self.kind.name,
            "message": self.message,
            "tool": self.tool,
            "exit_code": self.exit_code,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> JobError:
        kind = ErrorKind.__members__.get(str(record.get("kind", "")), ErrorKind.INTERNAL)
        return cls(
            kind,
            str(record.get("message", "")),
            str(record.get("tool", "") or ""),
            int(record.get("exit_code", 0) or 0),
        )


@dataclass(slots=True)
class Job:
    id: str
    # The operation's name: start, set-memory, attach-interface, set-user-password, ...
    operation: str
    veid: int
    # The operation's params(): a secret is the marker.
    params: dict[str, Any]
    caller: Caller = DAEMON
    state: JobState = JobState.QUEUED
    progress_percent: int = 0
    progress_step: str = ""
    error: JobError | None = None
    result: dict[str, Any] | None = None
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    idempotency_key: str | None = None
    cancellable: bool = True
    not_cancellable_reason: str = ""

    def snapshot(self) -> Job:
        return replace(self, params=dict(self.params))


_SCHEMA = """
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
    idempotency_key TEXT UNIQUE,
    caller TEXT
);
CREATE TABLE IF NOT EXISTS archive (
    id TEXT PRIMARY KEY, veid INTEGER NOT NULL, record TEXT NOT NULL, finished REAL
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state);
CREATE INDEX IF NOT EXISTS archive_finished ON archive (finished);
"""

_COLUMNS = (
    "id, operation, veid, params, state, error, result, created, started, finished, "
    "idempotency_key, caller"
)
# Version 1 kept a password as one argument after --userpasswd, "USER:PASSWORD".
_V1_PASSWORD_ARG = "--userpasswd"
# In an error text the argv was joined by spaces: the password runs up to the
# next option or the end of the command's part of the message.
_V1_PASSWORD_TEXT = re.compile(
    r"(--userpasswd[ =])([^\s:]+):(.*?)(?= --| failed with exit code| did not finish within|$)"
)


class JournalError(Exception):
    """The journal file is of a schema this openvzd cannot read."""


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        version = self._schema_version()
        if version is None:
            self._db.executescript(_SCHEMA)
            self.set_meta("schema_version", str(SCHEMA_VERSION))
        elif version == 1:
            self._migrate_from_v1()
        elif version != SCHEMA_VERSION:
            self._db.close()
            raise JournalError(
                f"{path} has journal schema version {version}, which this openvzd "
                f"(version {SCHEMA_VERSION}) does not know; run the openvzd that wrote it, "
                "or move the file aside to start with an empty journal"
            )

    def _schema_version(self) -> int | None:
        exists = self._db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
        ).fetchone()
        if not exists:
            return None
        row = self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return None if row is None else int(row[0])

    def _migrate_from_v1(self) -> None:
        scrubbed = 0
        with self._db:
            self._db.execute("ALTER TABLE jobs ADD COLUMN caller TEXT")
            self._db.execute("ALTER TABLE archive ADD COLUMN finished REAL")
            self._db.execute("UPDATE archive SET finished = json_extract(record, '$.finished')")
            self._db.execute("CREATE INDEX IF NOT EXISTS archive_finished ON archive (finished)")
            rows = self._db.execute("SELECT id, params, error FROM jobs").fetchall()
            for job_id, params, error in rows:
                new_params, new_error = _scrub_v1(params), _scrub_v1(error)
                if (new_params, new_error) != (params, error):
                    scrubbed += 1
                    self._db.execute(
                        "UPDATE jobs SET params = ?, error = ? WHERE id = ?",
                        (new_params, new_error, job_id),
                    )
            for job_id, record in self._db.execute("SELECT id, record FROM archive").fetchall():
                new_record = _scrub_v1(record)
                if new_record != record:
                    scrubbed += 1
                    self._db.execute(
                        "UPDATE archive SET record = ? WHERE id = ?", (new_record, job_id)
                    )
            self._db.execute(
                "UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),)
            )
        # The replaced values must not live on in free pages or the WAL.
        self._db.execute("VACUUM")
        self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        log.warning(
            "journal %s migrated from schema version 1 to %d; every job kept, "
            "%d stored password(s) replaced by %s",
            self.path,
            SCHEMA_VERSION,
            scrubbed,
            MARKER,
        )

    # -- meta ------------------------------------------------------------------

    def meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    # -- rows ----------------------------------------------------------------------

    def load(self) -> list[Job]:
        rows = self._db.execute(f"SELECT {_COLUMNS} FROM jobs ORDER BY seq").fetchall()
        return [_job_from_row(row) for row in rows]

    def insert(self, job: Job) -> None:
        self._db.execute(
            "INSERT INTO jobs (id, operation, veid, params, state, created, idempotency_key, "
            "caller) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                job.id,
                job.operation,
                job.veid,
                json.dumps(job.params),
                job.state.value,
                job.created,
                job.idempotency_key,
                json.dumps(job.caller.to_record()),
            ),
        )

    def mark_running(self, job: Job) -> None:
        self._db.execute(
            "UPDATE jobs SET state = ?, started = ? WHERE id = ?",
            (job.state.value, job.started, job.id),
        )

    def record_end(self, job: Job) -> None:
        error = None if job.error is None else json.dumps(job.error.to_record())
        try:
            self._db.execute(
                "UPDATE jobs SET state = ?, error = ?, result = ?, started = ?, finished = ? "
                "WHERE id = ?",
                (job.state.value, error, json.dumps(job.result), job.started, job.finished, job.id),
            )
        except sqlite3.ProgrammingError:
            log.warning("journal closed before job %s's end was written", job.id)

    def archive(self, jobs: Iterable[Job]) -> None:
        """Move finished jobs from the live table to the archive, in one transaction."""
        old = list(jobs)
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO archive VALUES (?, ?, ?, ?)",
                [(j.id, j.veid, json.dumps(_record(j)), j.finished) for j in old],
            )
            self._db.executemany("DELETE FROM jobs WHERE id = ?", [(j.id,) for j in old])

    def prune_archive(self, *, max_jobs: int, max_age_seconds: float) -> int:
        """Drop archived jobs older than max_age_seconds or past the newest max_jobs;
        return how many went."""
        with self._db:
            aged = self._db.execute(
                "DELETE FROM archive WHERE finished < ?", (time.time() - max_age_seconds,)
            ).rowcount
            over = self._db.execute(
                "DELETE FROM archive WHERE id NOT IN "
                "(SELECT id FROM archive ORDER BY finished DESC LIMIT ?)",
                (max_jobs,),
            ).rowcount
        return int(aged) + int(over)

    def close(self) -> None:
        self._db.close()


def _scrub_v1(text: str | None) -> str | None:
    """A version-1 params or error text with every --userpasswd value's password
    replaced by the marker (the user name stays: it is no secret)."""
    if not text or _V1_PASSWORD_ARG not in text:
        return text
    try:
        value = json.loads(text)
    except ValueError:
        return _V1_PASSWORD_TEXT.sub(lambda m: f"{m[1]}{m[2]}:{MARKER}", text)
    return json.dumps(_scrub_value(value))


def _scrub_value(value: Any) -> Any:
    if isinstance(value, list):
        scrubbed = []
        after_flag = False
        for item in value:
            if after_flag and isinstance(item, str):
                user = item.partition(":")[0]
                item = f"{user}:{MARKER}"
            after_flag = item == _V1_PASSWORD_ARG
            scrubbed.append(_scrub_value(item))
        return scrubbed
    if isinstance(value, dict):
        return {key: _scrub_value(item) for key, item in value.items()}
    if isinstance(value, str) and _V1_PASSWORD_ARG in value:
        return _V1_PASSWORD_TEXT.sub(lambda m: f"{m[1]}{m[2]}:{MARKER}", value)
    return value


def _record(job: Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "operation": job.operation,
        "veid": job.veid,
        "params": job.params,
        "caller": job.caller.to_record(),
        "state": job.state.value,
        "error": None if job.error is None else job.error.message,
        "created": job.created,
        "started": job.started,
        "finished": job.finished,
    }


def _job_from_row(row: tuple[Any, ...]) -> Job:
    (
        job_id,
        operation,
        veid,
        params,
        state,
        error,
        result,
        created,
        started,
        finished,
        key,
        caller,
    ) = row
    return Job(
        id=job_id,
        operation=operation,
        veid=veid,
        params=json.loads(params),
        caller=Caller.from_record(json.loads(caller) if caller else None),
        state=JobState(state),
        error=JobError.from_record(json.loads(error)) if error else None,
        result=json.loads(result) if result else None,
        created=created,
        started=started,
        finished=finished,
        idempotency_key=key,
        cancellable=JobState(state) is JobState.QUEUED,
    )
