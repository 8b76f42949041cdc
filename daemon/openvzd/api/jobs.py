"""The Jobs service: list (paged), get, wait (a stream of snapshots) and cancel."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
from openvz.v1 import common_pb2, jobs_pb2, jobs_pb2_grpc

from openvzd.api.convert import job_to_proto
from openvzd.core.errors import ErrorKind, OpenvzError
from openvzd.core.facade import CoreFacade
from openvzd.identity import caller_of
from openvzd.jobs import JobState

Context = grpc.aio.ServicerContext[Any, Any]


def job_state(value: int) -> JobState:
    if value == common_pb2.JOB_STATE_UNSPECIFIED or value not in common_pb2.JobState.values():
        raise OpenvzError(ErrorKind.BAD_ARGUMENT, f"unknown job state {value}")
    return JobState[common_pb2.JobState.Name(value).removeprefix("JOB_STATE_")]  # type: ignore[arg-type]


class JobsService(jobs_pb2_grpc.JobsServicer):
    def __init__(self, core: CoreFacade) -> None:
        self._core = core

    async def List(
        self, request: jobs_pb2.ListJobsRequest, context: Context
    ) -> jobs_pb2.ListJobsResponse:
        page = self._core.jobs(
            veid=request.veid,
            states=[job_state(value) for value in request.states],
            limit=request.limit,
            page_token=request.page_token,
        )
        return jobs_pb2.ListJobsResponse(
            jobs=[job_to_proto(job) for job in page.jobs], next_page_token=page.next_page_token
        )

    async def Get(self, request: jobs_pb2.JobRef, context: Context) -> common_pb2.Job:
        return job_to_proto(self._core.job(request.id))

    async def Wait(
        self, request: jobs_pb2.WaitJobRequest, context: Context
    ) -> AsyncIterator[common_pb2.Job]:
        if not request.timeout_seconds >= 0:  # also NaN, which compares false to everything
            raise OpenvzError(
                ErrorKind.BAD_ARGUMENT, "timeout_seconds must be a number ≥ 0 (0 = until the end)"
            )
        async for job in self._core.watch_job(request.id, timeout=request.timeout_seconds or None):
            yield job_to_proto(job)

    async def Cancel(self, request: jobs_pb2.JobRef, context: Context) -> common_pb2.Job:
        return job_to_proto(await self._core.cancel(request.id, caller_of(context)))
