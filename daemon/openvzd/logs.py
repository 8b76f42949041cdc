"""Logging: to the journal with structured fields under systemd, to stderr otherwise.

systemd-python's JournalHandler drops records silently when journald is not
there (docs/architecture.md, "Facts about the Python stack"), so the journal
is used only when systemd says it connected our stderr to it (JOURNAL_STREAM). Records name their
container and job: pass extra={"veid": 101, "job_id": "..."} and the journal
gets VEID= and JOB_ID= fields, stderr a "[ct 101 job ...]" prefix.
"""

from __future__ import annotations

import logging
import os
import sys


class _ContextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        context = []
        veid = getattr(record, "veid", None)
        job_id = getattr(record, "job_id", None)
        if veid is not None:
            context.append(f"ct {veid}")
        if job_id:
            context.append(f"job {job_id}")
        record.context = f"[{' '.join(context)}] " if context else ""
        return super().format(record)


def _journal_handler() -> logging.Handler | None:
    if not os.environ.get("JOURNAL_STREAM"):
        return None
    try:
        from systemd.journal import JournalHandler
    except ImportError:
        return None

    class _FieldsHandler(JournalHandler):  # type: ignore[misc]
        """Maps our record attributes to journal fields."""

        def emit(self, record: logging.LogRecord) -> None:
            veid = getattr(record, "veid", None)
            job_id = getattr(record, "job_id", None)
            if veid is not None:
                record.VEID = str(veid)
            if job_id:
                record.JOB_ID = job_id
            super().emit(record)

    handler: logging.Handler = _FieldsHandler(SYSLOG_IDENTIFIER="openvzd")
    return handler


def setup_logging(level: int = logging.INFO) -> None:
    root = logging.getLogger()
    root.setLevel(level)
    for handler in list(root.handlers):
        root.removeHandler(handler)
    journal = _journal_handler()
    if journal is not None:
        journal.setFormatter(_ContextFormatter("%(context)s%(message)s"))
        root.addHandler(journal)
        return
    stream = logging.StreamHandler(sys.stderr)
    stream.setFormatter(
        _ContextFormatter("%(asctime)s %(levelname)s %(name)s: %(context)s%(message)s")
    )
    root.addHandler(stream)
