"""The Jobs service: list, get, wait (a stream of snapshots) and cancel."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
from openvz.v1 import common_pb2, jobs_pb2, jobs_pb2_grpc

from openvzd.api.convert import job_to_proto
from openvzd.api.errors import abort
from openvzd.jobs import JobQueue, JobState, NotCancellable, UnknownJob

DEFAULT_PAGE = 100
MAX_PAGE = 10_000


class JobsService(jobs_pb2_grpc.JobsServicer):
    def __init__(self, queue: JobQueue) -> None:
        self._queue = queue

    async def List(
        self, request: jobs_pb2.ListJobsRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> jobs_pb2.ListJobsResponse:
        if request.veid < 0:
            await abort(context, "BAD_ARGUMENT", "veid must be 0 (every lane) or a container ID")
        states = []
        for value in request.states:
            name = common_pb2.JobState.Name(value) if value in common_pb2.JobState.values() else ""
            if not name or value == common_pb2.JOB_STATE_UNSPECIFIED:
                await abort(context, "BAD_ARGUMENT", f"unknown job state {value}")
            states.append(JobState[name.removeprefix("JOB_STATE_")])
        limit = min(request.limit or DEFAULT_PAGE, MAX_PAGE)
        jobs = self._queue.list(veid=request.veid or None, states=states or None, limit=limit)
        return jobs_pb2.ListJobsResponse(jobs=[job_to_proto(job) for job in jobs])

    async def Get(
        self, request: jobs_pb2.JobRef, context: grpc.aio.ServicerContext[Any, Any]
    ) -> common_pb2.Job:
        job = self._queue.get(request.id)
        if job is None:
            await abort(context, "NOT_FOUND", _no_such_job(request.id))
        return job_to_proto(job)

    async def Wait(
        self, request: jobs_pb2.WaitJobRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[common_pb2.Job]:
        if not request.timeout_seconds >= 0:  # also NaN, which compares false to everything
            await abort(
                context, "BAD_ARGUMENT", "timeout_seconds must be a number ≥ 0 (0 = until the end)"
            )
        if self._queue.get(request.id) is None:
            await abort(context, "NOT_FOUND", _no_such_job(request.id))
        async for job in self._queue.watch(request.id, timeout=request.timeout_seconds or None):
            yield job_to_proto(job)

    async def Cancel(
        self, request: jobs_pb2.JobRef, context: grpc.aio.ServicerContext[Any, Any]
    ) -> common_pb2.Job:
        try:
            job = await self._queue.cancel(request.id)
        except UnknownJob:
            await abort(context, "NOT_FOUND", _no_such_job(request.id))
        except NotCancellable as refusal:
            await abort(context, "WRONG_STATE", str(refusal))
        return job_to_proto(job)


def _no_such_job(job_id: str) -> str:
    return f"no job {job_id!r}; `ovzsh jobs` lists the jobs this daemon knows"
