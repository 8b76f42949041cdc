"""Sessions are recorded like jobs, without their data: who, what, when, how it ended.

They live in a `sessions` table of the journal's SQLite file, through a
connection of their own (the journal's schema is not touched). A session still
open when the daemon stopped is closed at the next start with the reason
"interrupted by a daemon stop": its process died with the daemon's session group
or was killed by it.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from openvzd.core.caller import Caller

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    veid INTEGER NOT NULL,
    caller TEXT NOT NULL,
    command TEXT NOT NULL,
    pty INTEGER NOT NULL,
    started REAL NOT NULL,
    ended REAL,
    exit_status INTEGER,
    reason TEXT NOT NULL DEFAULT ''
)
"""
INTERRUPTED = "interrupted by a daemon stop"
# Finished sessions kept, newest first; older ones are deleted as new ones end.
HISTORY_LIMIT = 10_000


@dataclass(frozen=True, slots=True)
class SessionRecord:
    id: str
    # "exec", "enter" or "console"
    kind: str
    veid: int
    caller: Caller
    command: tuple[str, ...]
    pty: bool
    started: float
    ended: float | None
    exit_status: int | None
    reason: str


class SessionRecords:
    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA busy_timeout=5000")
        # The journal's WAL is synced at each commit of a job's (its own connection is
        # FULL), not at each session's: a session record is an account of what ran,
        # not state to recover, and a sync before every exec's answer costs 0.4-4 ms
        # of the 20 ovzsh exec may add. A kill -9 loses nothing; a power cut may lose
        # the last records, as journald's own default would.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(SCHEMA)

    def close_interrupted(self) -> int:
        """Close the sessions a stopped daemon left open; how many there were."""
        cursor = self._db.execute(
            "UPDATE sessions SET ended = ?, reason = ? WHERE ended IS NULL",
            (time.time(), INTERRUPTED),
        )
        return cursor.rowcount

    def begin(
        self, kind: str, veid: int, caller: Caller, command: tuple[str, ...], pty: bool
    ) -> str:
        session_id = uuid.uuid4().hex
        self._db.execute(
            "INSERT INTO sessions (id, kind, veid, caller, command, pty, started)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                session_id,
                kind,
                veid,
                json.dumps(caller.to_record()),
                json.dumps(list(command)),
                int(pty),
                time.time(),
            ),
        )
        return session_id

    def end(self, session_id: str, exit_status: int | None, reason: str = "") -> None:
        """The end recorded and the history trimmed in one transaction: one sync, not two
        (the end of every exec waits for it)."""
        self._db.execute("BEGIN")
        try:
            self._db.execute(
                "UPDATE sessions SET ended = ?, exit_status = ?, reason = ? WHERE id = ?",
                (time.time(), exit_status, reason, session_id),
            )
            self._db.execute(
                "DELETE FROM sessions WHERE ended IS NOT NULL AND id NOT IN"
                " (SELECT id FROM sessions ORDER BY started DESC LIMIT ?)",
                (HISTORY_LIMIT,),
            )
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def get(self, session_id: str) -> SessionRecord | None:
        row = self._db.execute(
            "SELECT id, kind, veid, caller, command, pty, started, ended, exit_status, reason"
            " FROM sessions WHERE id = ?",
            (session_id,),
        ).fetchone()
        return None if row is None else _record(row)

    def recent(self, limit: int = 100) -> list[SessionRecord]:
        rows = self._db.execute(
            "SELECT id, kind, veid, caller, command, pty, started, ended, exit_status, reason"
            " FROM sessions ORDER BY started DESC LIMIT ?",
            (limit,),
        ).fetchall()
        return [_record(row) for row in rows]

    def close(self) -> None:
        self._db.close()


def _record(row: tuple[object, ...]) -> SessionRecord:
    session_id, kind, veid, caller, command, pty, started, ended, exit_status, reason = row
    return SessionRecord(
        id=str(session_id),
        kind=str(kind),
        veid=int(str(veid)),
        caller=Caller.from_record(json.loads(str(caller))),
        command=tuple(json.loads(str(command))),
        pty=bool(pty),
        started=float(str(started)),
        ended=None if ended is None else float(str(ended)),
        exit_status=None if exit_status is None else int(str(exit_status)),
        reason=str(reason),
    )
