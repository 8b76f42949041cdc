"""Load: many concurrent clients on the real daemon; nothing lost, nothing run twice."""

from __future__ import annotations

import asyncio
import os
import random
from pathlib import Path

import pytest

from tests.daemon_process import running_daemon
from tests.proof.load import check_records, run_load
from tests.proof.sim import latency_table, prepare_host

SHARED_FIRST_ID = 100
SHARED_COUNT = 8


def _seed() -> int:
    return int(os.environ.get("PROOF_SEED") or random.randrange(1 << 30))


def _prove_load(tmp_path: Path, clients: int, calls: int) -> None:
    seed = _seed()
    sim = tmp_path / "sim"
    prepare_host(sim, SHARED_COUNT, SHARED_FIRST_ID)
    shared = list(range(SHARED_FIRST_ID, SHARED_FIRST_ID + SHARED_COUNT))
    with running_daemon(sim) as daemon:
        report = asyncio.run(run_load(daemon.rw_socket, clients, calls, shared, seed))
    # The daemon has stopped: the journal is complete and no vzctl is still running.
    problems = check_records(sim, report, shared)
    print(
        f"\nload {clients} clients x {calls} calls (seed {seed}): {report.calls} calls in "
        f"{report.seconds:.1f} s ({report.calls / report.seconds:.0f}/s), "
        f"{len(report.job_ids)} jobs; expected errors {dict(report.expected_errors)}\n"
        + latency_table(report.latencies)
    )
    assert report.calls == clients * calls, f"seed {seed}"
    assert not report.unexpected, f"seed {seed}: {report.unexpected[:20]}"
    assert not problems, f"seed {seed}: {problems[:20]}"
    assert report.job_ids, f"seed {seed}: no call made a job"


def test_load_quick(tmp_path: Path) -> None:
    _prove_load(tmp_path, clients=20, calls=20)


@pytest.mark.soak
def test_load_full(tmp_path: Path) -> None:
    _prove_load(tmp_path, clients=200, calls=100)
