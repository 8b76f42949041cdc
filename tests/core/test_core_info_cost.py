"""Core.info() per domain costs the same however many containers the host has:
a burst of calls (libvirt-python's listAllDomains() and info() of each) answers
from one read of /proc/vz/vestat and /proc/user_beancounters, and the counters
are read again once the short snapshot ends or a change to a container does.

In-process Core on a vzsim host, its real files and its real vzctl."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from openvzd.config import simulated_config
from openvzd.core import service
from openvzd.core.caller import Caller
from openvzd.core.ops import Start
from openvzd.core.service import PROC_SNAPSHOT_SECONDS, Core
from openvzd.jobs import JobState
from openvzd.vz.proc import CpuTime, read_vestat

from tests.daemon_process import BIN

CONTAINERS = 30
FIRST_ID = 1000  # vzsim populate's first ID; it starts the first one
USER_HZ = 100


@pytest.fixture
async def core(tmp_path: Path) -> AsyncIterator[Core]:
    host = tmp_path / "host"
    vzsim = str(BIN / "vzsim")
    subprocess.run([vzsim, "init", str(host), "--delays", "none"], check=True, capture_output=True)
    subprocess.run(
        [vzsim, "populate", str(host), "--count", str(CONTAINERS), "--running", "1"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    config = simulated_config(tmp_path)
    config.paths.state_dir.mkdir(parents=True, exist_ok=True)
    opened = await Core.open(config)
    opened.start()
    try:
        yield opened
    finally:
        await opened.stop(5.0)


@pytest.fixture
def vestat_reads(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Each read of vestat the core makes, by the real parser."""
    reads: list[Path] = []

    def counted(proc: Path) -> dict[int, CpuTime]:
        reads.append(proc)
        return read_vestat(proc)

    monkeypatch.setattr(service, "read_vestat", counted)
    return reads


def _set_user_jiffies(proc: Path, veid: int, jiffies: int) -> None:
    """What the kernel does as the container runs: its vestat user column grows."""
    vestat = proc / "vz" / "vestat"
    lines = vestat.read_text().splitlines()
    for index, line in enumerate(lines):
        fields = line.split()
        if fields and fields[0] == str(veid):
            lines[index] = " ".join([fields[0], str(jiffies), *fields[2:]])
    vestat.write_text("\n".join(lines) + "\n")


async def test_a_burst_of_info_reads_proc_once(core: Core, vestat_reads: list[Path]) -> None:
    infos = [core.info(view.veid) for view in core.list_domains()]
    assert len(infos) == CONTAINERS
    assert len(vestat_reads) == 1
    # The running container's memory is its physpages counter, not its limit.
    running = next(info for info in infos if info.domain.veid == FIRST_ID)
    assert 0 < running.memory_kib < running.max_memory_kib
    assert all(
        info.memory_kib == info.max_memory_kib for info in infos if info.domain.veid != FIRST_ID
    )


async def test_counters_are_fresh_after_the_snapshot_ends(
    core: Core, vestat_reads: list[Path]
) -> None:
    before = core.info(FIRST_ID).cpu_time_ns
    _set_user_jiffies(core.runtime.paths.proc, FIRST_ID, 10**6)
    time.sleep(PROC_SNAPSHOT_SECONDS + 0.05)
    after = core.info(FIRST_ID).cpu_time_ns
    assert len(vestat_reads) == 2
    assert after > before
    assert after >= 10**6 * (1_000_000_000 // USER_HZ)


async def test_a_start_ends_the_snapshot(core: Core, vestat_reads: list[Path]) -> None:
    stopped = FIRST_ID + 1
    assert core.info(stopped).cpu_time_ns == 0
    caller = Caller("unix", uid=os.getuid(), pid=os.getpid())
    job = await core.wait(core.submit(Start(veid=stopped), caller).id, timeout=60)
    assert job.state is JobState.SUCCEEDED, job.error
    reads_before = len(vestat_reads)
    info = core.info(stopped)
    assert len(vestat_reads) == reads_before + 1, "the start changed the model: read again"
    assert info.domain.state == "running"
