"""The host monitor against vzsim: a job's change is never published as external,
even when the job runs while the monitor's vzlist does."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from pathlib import Path

from openvzd.config import simulated_config
from openvzd.core.executors import Executors
from openvzd.events import Event, EventBus, LifecycleEvent
from openvzd.jobs import JobQueue, JobState
from openvzd.monitor import HostMonitor
from openvzd.runtime import Runtime

BIN = Path(sys.executable).parent


async def test_a_job_during_the_monitors_vzlist_is_not_external(tmp_path: Path) -> None:
    sim = tmp_path / "sim"
    subprocess.run([str(BIN / "vzsim"), "init", str(sim / "host"), "--delays", "none"], check=True)
    config = simulated_config(sim)
    vzctl = str(config.tools.vzctl)
    subprocess.run(
        [vzctl, "create", "501", "--ostemplate", "centos-7-x86_64-minimal"],
        check=True,
        capture_output=True,
    )
    slow = tmp_path / "slow"
    wrapper = tmp_path / "vzlist"
    # A vzlist that answers, then takes a while to exit: its answer predates what
    # happens meanwhile, as on a loaded host.
    wrapper.write_text(
        f'#!/bin/sh\n"{config.tools.vzlist}" "$@"\nstatus=$?\n'
        f'[ -e "{slow}" ] && sleep 1.5\nexit $status\n'
    )
    wrapper.chmod(0o755)
    config.tools.vzlist = wrapper
    config.paths.state_dir.mkdir(parents=True)
    runtime = await Runtime.create(config)
    events = EventBus()
    operations = Executors(runtime, events)
    queue = JobQueue(config.journal_path, operations.execute)
    await queue.load()
    await runtime.host.refresh()
    queue.run()
    seen: list[Event] = []

    async def collect() -> None:
        async for event in events.subscribe():
            seen.append(event)

    collector = asyncio.create_task(collect())
    monitor = HostMonitor(runtime, operations, queue, 60)
    slow.touch()
    look = asyncio.create_task(monitor.look())
    await asyncio.sleep(0.7)  # vzlist has answered "stopped" and is still running
    job = queue.submit("start", 501)
    done = await asyncio.wait_for(queue.wait(job.id), 30)
    assert done.state is JobState.SUCCEEDED, done.error
    await asyncio.wait_for(look, 30)
    slow.unlink()
    await asyncio.sleep(0.05)
    lifecycle = [e.payload for e in seen if isinstance(e.payload, LifecycleEvent)]
    assert [(e.kind, e.cause) for e in lifecycle] == [("STARTED", "job")]
    assert runtime.host.containers[501].status == "running"
    # The next look, with no job in its way, agrees and reports nothing.
    await monitor.look()
    await asyncio.sleep(0.05)
    assert len([e for e in seen if isinstance(e.payload, LifecycleEvent)]) == 1
    collector.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await collector
    events.close()
    await queue.stop(5)
