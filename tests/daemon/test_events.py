"""The event bus: numbering, replay, gaps, slow consumers, filters."""

from __future__ import annotations

import asyncio
import contextlib

from openvzd.events import EventBus, Gap, LifecycleEvent


def _event(veid: int) -> LifecycleEvent:
    return LifecycleEvent(veid, "STARTED", "running", "job")


async def test_resume_replays_and_reports_what_fell_out_of_the_buffer() -> None:
    bus = EventBus(first_seq=100, buffer_size=5)
    for veid in range(101, 111):
        bus.publish(_event(veid))
    assert bus.last_seq == 109
    stream = bus.subscribe(after_seq=102)
    first = await anext(stream)
    assert isinstance(first.payload, Gap) and first.payload.missed_count == 2
    replay = [await anext(stream) for _ in range(5)]
    assert [e.seq for e in replay] == [105, 106, 107, 108, 109]
    await stream.aclose()


async def test_a_slow_consumer_never_blocks_and_learns_what_it_missed() -> None:
    bus = EventBus(queue_size=3)
    stream = bus.subscribe()
    started = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0)
    for veid in range(101, 111):
        bus.publish(_event(veid))  # never awaits, never blocks
    first = await asyncio.wait_for(started, 1)
    rest = [await asyncio.wait_for(anext(stream), 1) for _ in range(3)]
    # It skips to the newest queue_size events and is told how many it missed.
    assert isinstance(first.payload, Gap) and first.payload.missed_count == 7
    assert [e.payload.veid for e in rest] == [108, 109, 110]
    assert [e.seq for e in rest] == [first.seq + 1, first.seq + 2, first.seq + 3]
    await stream.aclose()


async def test_watchers_that_never_read_cost_publish_nothing() -> None:
    """Issue 13 item 3: 3,200 watchers that never read. Publishing touches only the
    watchers that wait, and none holds a copy of the backlog."""
    bus = EventBus(queue_size=8)
    streams = [bus.subscribe() for _ in range(3200)]
    # Each reads one event and then stops reading (as a client whose socket is full).
    firsts = [asyncio.ensure_future(anext(s)) for s in streams]
    await asyncio.sleep(0)
    bus.publish(_event(101))
    await asyncio.gather(*firsts)
    assert bus.watchers == 3200 and not bus._waiting
    for veid in range(102, 2102):
        bus.publish(_event(veid))
    # A reader that comes back gets a Gap and the newest events, not 2,000 queued ones.
    late = await anext(streams[0])
    assert isinstance(late.payload, Gap) and late.payload.missed_count == 2000 - 8
    assert (await anext(streams[0])).payload.veid == 2094
    for stream in streams:
        await stream.aclose()
    assert bus.watchers == 0


async def test_a_watcher_that_goes_away_leaves_no_task_behind() -> None:
    """The 'Task was destroyed but it is pending!' of issue 16: nothing is left
    pending when a waiting stream is cancelled (as grpc does when a client leaves)."""
    bus = EventBus()
    before = len(asyncio.all_tasks())
    stream = bus.subscribe()
    waiting = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0)
    waiting.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await waiting
    await stream.aclose()
    assert len(asyncio.all_tasks()) == before
    assert bus.watchers == 0 and not bus._waiting


async def test_filters_and_close() -> None:
    bus = EventBus()
    stream = bus.subscribe(veids=frozenset({102}))
    waiting = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0)
    bus.publish(_event(101))
    bus.publish(_event(102))
    assert (await asyncio.wait_for(waiting, 1)).payload.veid == 102
    ending = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0)
    bus.close()
    try:
        await asyncio.wait_for(ending, 1)
        raise AssertionError("the stream should end when the bus closes")
    except StopAsyncIteration:
        pass
