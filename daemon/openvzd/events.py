"""The event bus: lifecycle and job events in one numbered stream.

Sequence numbers only grow, across restarts too (the daemon starts the bus past
the last number it journaled), so a client that resumes after a reconnect either
gets every event after the one it saw or a Gap that says how many it missed.
A slow subscriber never holds up publish() and costs it nothing: events live
once, in a ring, and each subscriber keeps only its place in it; one that falls
too far behind skips ahead and is told how many it missed (a Gap). No task is
made per subscriber, so a client that disconnects leaves nothing pending.
"""

from __future__ import annotations

import asyncio
import time
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


# How far a watcher may fall behind before it skips ahead to the newest events.
QUEUE_SIZE = 1024


class _Subscriber:
    """A watcher's place in the stream: the next sequence number it will read.

    It holds no events of its own; publish() only wakes it, and only when it
    waits. What it has not read stays in the bus's ring until the ring moves on.
    """

    __slots__ = ("include_jobs", "next_seq", "veids", "wake")

    def __init__(self, next_seq: int, include_jobs: bool, veids: frozenset[int] | None) -> None:
        self.next_seq = next_seq
        self.include_jobs = include_jobs
        self.veids = veids
        self.wake = asyncio.Event()

    def wants(self, payload: Any) -> bool:
        if isinstance(payload, JobEvent):
            return self.include_jobs and (self.veids is None or payload.job.veid in self.veids)
        if isinstance(payload, LifecycleEvent):
            return self.veids is None or payload.veid in self.veids
        return True


class EventBus:
    """Events in a ring of buffer_size, read by each watcher at its own pace.

    publish() costs one ring slot and one wake-up per *waiting* watcher whose
    filter takes the event: a watcher that does not read costs nothing, however
    far behind it is. A watcher more than queue_size events behind (or behind
    the ring) skips to the newest queue_size and gets a Gap first.
    """

    def __init__(
        self, first_seq: int = 1, buffer_size: int = 4096, queue_size: int = QUEUE_SIZE
    ) -> None:
        self._next_seq = max(first_seq, 1)
        self._first_seq = self._next_seq  # the oldest event the ring ever held
        self._ring: list[Event | None] = [None] * buffer_size
        self._queue_size = min(queue_size, buffer_size)
        self._waiting: set[_Subscriber] = set()
        self._subscribers = 0
        self._closed = False

    @property
    def last_seq(self) -> int:
        return self._next_seq - 1

    @property
    def watchers(self) -> int:
        return self._subscribers

    def _oldest(self) -> int:
        return max(self._first_seq, self._next_seq - len(self._ring))

    def publish(self, payload: LifecycleEvent | JobEvent) -> Event:
        event = Event(self._next_seq, time.time(), payload)
        self._ring[event.seq % len(self._ring)] = event
        self._next_seq += 1
        woken = [s for s in self._waiting if s.wants(payload)]
        for subscriber in woken:
            self._waiting.discard(subscriber)
            subscriber.wake.set()
        return event

    def close(self) -> None:
        self._closed = True
        for subscriber in self._waiting:
            subscriber.wake.set()
        self._waiting.clear()

    def _next_for(self, subscriber: _Subscriber) -> Event | None:
        """The subscriber's next event (a Gap when it fell behind), None when it has read all."""
        while subscriber.next_seq < self._next_seq:
            oldest = max(self._oldest(), self._next_seq - self._queue_size)
            if subscriber.next_seq < oldest:
                missed_after = subscriber.next_seq - 1
                subscriber.next_seq = oldest
                return Event(oldest - 1, time.time(), Gap(missed_after, oldest - 1 - missed_after))
            event = self._ring[subscriber.next_seq % len(self._ring)]
            subscriber.next_seq += 1
            if event is not None and subscriber.wants(event.payload):
                return event
        return None

    async def subscribe(
        self,
        after_seq: int = 0,
        *,
        include_jobs: bool = False,
        veids: frozenset[int] | None = None,
    ) -> AsyncIterator[Event]:
        """The events after after_seq (0: from now on) that the filters take,
        until the bus closes. Replay comes from the ring; what fell out of it is
        one Gap."""
        start = self._next_seq
        if after_seq:
            start = min(after_seq + 1, self._next_seq)
        subscriber = _Subscriber(start, include_jobs, veids)
        if after_seq and start < self._oldest():
            # Older than anything the ring holds: say so, counted from the ring's start.
            oldest = self._oldest()
            subscriber.next_seq = oldest
            yield Event(oldest - 1, time.time(), Gap(after_seq, oldest - 1 - after_seq))
        self._subscribers += 1
        try:
            while not self._closed:
                event = self._next_for(subscriber)
                if event is not None:
                    yield event
                    continue
                subscriber.wake.clear()
                self._waiting.add(subscriber)
                await subscriber.wake.wait()
        finally:
            self._waiting.discard(subscriber)
            self._subscribers -= 1
