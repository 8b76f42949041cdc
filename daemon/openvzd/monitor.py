"""Notices changes made outside the daemon (an administrator's vzctl) and
publishes them as events. Containers whose lane has work are left to their
jobs, which read them back themselves, so a job's change is never reported as
external."""

from __future__ import annotations

import asyncio
import logging

from openvzd.jobs import JobQueue
from openvzd.operations import Operations
from openvzd.runtime import Runtime
from openvzd.vz.errors import VzError

log = logging.getLogger(__name__)


class HostMonitor:
    def __init__(
        self, runtime: Runtime, operations: Operations, queue: JobQueue, interval: float
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
        busy = self._queue.busy_lanes()
        changes = await host.refresh(skip=busy)
        self._operations.publish(changes, "external")
