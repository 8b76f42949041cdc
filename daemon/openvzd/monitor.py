"""Notices changes made outside the daemon (an administrator's vzctl) and
publishes them as events. Containers whose lane has work are left to their
jobs, which read them back themselves, so a job's change is never reported as
external: neither one busy when the look begins, nor one whose job started or
ended while vzlist ran (its answer may predate the job's change, and applying
it would report the job's change, undone, as external). While a host-wide job
runs or moved, the look is skipped whole: it may add any container."""

from __future__ import annotations

import asyncio
import logging

from openvzd.core.executors import Executors
from openvzd.jobs import HOST_LANE, JobQueue
from openvzd.runtime import Runtime
from openvzd.vz.errors import VzError

log = logging.getLogger(__name__)


class HostMonitor:
    def __init__(
        self, runtime: Runtime, operations: Executors, queue: JobQueue, interval: float
    ) -> None:
        self._runtime = runtime
        self._operations = operations
        self._queue = queue
        self._interval = interval

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.look()
            except VzError as err:
                log.warning("cannot look at the host: %s", err.message)

    async def look(self) -> None:
        host = self._runtime.host
        queue = self._queue
        busy = queue.busy_lanes()
        if HOST_LANE in busy:
            return
        before = queue.lane_generations()

        def moved_meanwhile() -> set[int] | None:
            moved = queue.busy_lanes() | queue.lanes_moved_since(before)
            return None if HOST_LANE in moved else moved

        changes = await host.refresh(skip=busy, late_skip=moved_meanwhile)
        self._operations.publish(changes, "external")

    def set_interval(self, seconds: float) -> None:
        self._interval = seconds
