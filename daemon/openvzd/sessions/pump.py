"""The loop every front-end runs for a session: its output to the client, one
frame at a time (the next chunk is read only once the client took the last),
while a feeder task passes the client's frames on."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from openvzd.vz.errors import OpenvzError

Frame = TypeVar("Frame")


async def pump_output(
    next_output: Callable[[], Awaitable[Frame | None]],
    send: Callable[[Frame], Awaitable[object]],
    feeder: Coroutine[Any, Any, None],
) -> OpenvzError | None:
    """Send output until it is over while the feeder runs; the feeder's refusal, if
    it made one (the output is then cut short). Any other failure of the feeder
    (the client went away) is raised."""
    feeding = asyncio.ensure_future(feeder)
    try:
        while True:
            reading = asyncio.ensure_future(next_output())
            await asyncio.wait({reading, feeding}, return_when=asyncio.FIRST_COMPLETED)
            while not reading.done():
                if feeding.done() and feeding.exception() is not None:
                    reading.cancel()
                    break
                await asyncio.wait({reading})
            if feeding.done() and (error := feeding.exception()) is not None:
                reading.cancel()
                if isinstance(error, OpenvzError):
                    return error
                raise error
            frame = reading.result()
            if frame is None:
                return None
            await send(frame)
    finally:
        if not feeding.done():
            feeding.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await feeding
