"""The event bus: numbering, replay, gaps, slow consumers, filters."""

from __future__ import annotations

import asyncio

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
    gaps = [e.payload for e in rest if isinstance(e.payload, Gap)]
    assert first.payload.veid == 101
    assert gaps and gaps[0].missed_count == 7
    await stream.aclose()


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
