"""The Events service: one numbered stream of lifecycle and job events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
from openvz.v1 import events_pb2, events_pb2_grpc

from openvzd.api.convert import event_to_proto
from openvzd.core.facade import CoreFacade


class EventsService(events_pb2_grpc.EventsServicer):
    def __init__(self, core: CoreFacade) -> None:
        self._core = core

    async def Watch(
        self, request: events_pb2.WatchRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[events_pb2.Event]:
        subscription = self._core.events(
            request.after_seq,
            include_jobs=request.include_jobs,
            veids=frozenset(request.veids) or None,
        )
        async for event in subscription:
            yield event_to_proto(event)
