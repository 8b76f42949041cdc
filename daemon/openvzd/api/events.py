"""The Events service: one numbered stream of lifecycle and job events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
from openvz.v1 import events_pb2, events_pb2_grpc

from openvzd.api.convert import event_to_proto
from openvzd.api.errors import abort
from openvzd.events import EventBus
from openvzd.runtime import Runtime


class EventsService(events_pb2_grpc.EventsServicer):
    def __init__(self, bus: EventBus, runtime: Runtime | None = None) -> None:
        self._bus = bus
        self._runtime = runtime  # to send each lifecycle event with its Domain

    async def Watch(
        self, request: events_pb2.WatchRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[events_pb2.Event]:
        if any(veid <= 0 for veid in request.veids):
            await abort(context, "BAD_ARGUMENT", "veids must be container IDs (positive numbers)")
        subscription = self._bus.subscribe(
            request.after_seq,
            include_jobs=request.include_jobs,
            veids=frozenset(request.veids) or None,
        )
        async for event in subscription:
            yield event_to_proto(event, self._runtime)
