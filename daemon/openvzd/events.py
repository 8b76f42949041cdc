"""The event bus: lifecycle and job events in one numbered stream.

Sequence numbers only grow, across restarts too (the daemon starts the bus past
the last number it journaled), so a client that resumes after a reconnect either
gets every event after the one it saw or a Gap that says how many it missed.
A slow subscriber never holds up publish(): its queue is bounded and what does
not fit is dropped for it and announced as a Gap.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from openvzd.jobs import Job


@dataclass(frozen=True, slots=True)
class LifecycleEvent:
    veid: int
    kind: str  # DEFINED, UNDEFINED, STARTED, STOPPED, PAUSED, RESUMED, ...
    state: str  # the container's status after it: running, stopped, ...
    cause: str  # "job" or "external"
    job_id: str = ""
    detail: str = ""  # how, in libvirt's words ("destroyed"), where a job tells it


@dataclass(frozen=True, slots=True)
class JobEvent:
    job: Job


@dataclass(frozen=True, slots=True)
class Gap:
    missed_after_seq: int
    missed_count: int


@dataclass(frozen=True, slots=True)
class Event:
    seq: int
    time: float
    payload: LifecycleEvent | JobEvent | Gap


class _Subscriber:
    def __init__(self, capacity: int, include_jobs: bool, veids: frozenset[int] | None) -> None:
        self.queue: asyncio.Queue[Event] = asyncio.Queue(capacity)
        self.include_jobs = include_jobs
        self.veids = veids
        self.dropped = 0
        self.dropped_after = 0

    def wants(self, payload: Any) -> bool:
        if isinstance(payload, JobEvent):
            return self.include_jobs and (self.veids is None or payload.job.veid in self.veids)
        if isinstance(payload, LifecycleEvent):
            return self.veids is None or payload.veid in self.veids
        return True


class EventBus:
    def __init__(self, first_seq: int = 1, buffer_size: int = 4096, queue_size: int = 1024) -> None:
        self._next_seq = max(first_seq, 1)
        self._buffer: deque[Event] = deque(maxlen=buffer_size)
        self._queue_size = queue_size
        self._subscribers: set[_Subscriber] = set()
        self._closed = asyncio.Event()

    @property
    def last_seq(self) -> int:
        return self._next_seq - 1

    def publish(self, payload: LifecycleEvent | JobEvent) -> Event:
        event = Event(self._next_seq, time.time(), payload)
        self._next_seq += 1
        self._buffer.append(event)
        for subscriber in self._subscribers:
            if not subscriber.wants(payload):
                continue
            try:
                subscriber.queue.put_nowait(event)
            except asyncio.QueueFull:
                if subscriber.dropped == 0:
                    subscriber.dropped_after = event.seq - 1
                subscriber.dropped += 1
        return event

    def close(self) -> None:
        self._closed.set()

    async def subscribe(
        self,
        after_seq: int = 0,
        *,
        include_jobs: bool = False,
        veids: frozenset[int] | None = None,
    ) -> AsyncIterator[Event]:
        subscriber = _Subscriber(self._queue_size, include_jobs, veids)
        # Replay and registration happen without an await between them, so no
        # event falls between the buffer and the queue.
        backlog: list[Event] = []
        if after_seq:
            oldest = self._buffer[0].seq if self._buffer else self._next_seq
            if after_seq + 1 < oldest:
                missed = oldest - after_seq - 1
                backlog.append(Event(oldest - 1, time.time(), Gap(after_seq, missed)))
            backlog.extend(
                e for e in self._buffer if e.seq > after_seq and subscriber.wants(e.payload)
            )
        self._subscribers.add(subscriber)
        try:
            for event in backlog:
                yield event
            closed = asyncio.ensure_future(self._closed.wait())
            try:
                while True:
                    if subscriber.dropped and subscriber.queue.empty():
                        gap = Gap(subscriber.dropped_after, subscriber.dropped)
                        subscriber.dropped = 0
                        yield Event(self.last_seq, time.time(), gap)
                    getter = asyncio.ensure_future(subscriber.queue.get())
                    done, _ = await asyncio.wait(
                        {getter, closed}, return_when=asyncio.FIRST_COMPLETED
                    )
                    if getter not in done:
                        getter.cancel()
                        return
                    yield getter.result()
            finally:
                closed.cancel()
        finally:
            self._subscribers.discard(subscriber)
