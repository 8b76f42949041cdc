"""The Domains service: decode, call the core, encode.

Reads answer from the core; a change becomes an Operation (core/ops.py) that the
core checks, journals with the caller and queues. Nothing here knows vzctl: a
refusal is an OpenvzError from the core, which the ErrorStatus interceptor
(api/errors.py) answers with its status.
"""

from __future__ import annotations

import math
from typing import Any

import grpc
from openvz.v1 import common_pb2, domains_pb2, domains_pb2_grpc

from openvzd.api.convert import (
    domain_to_proto,
    info_to_proto,
    job_to_proto,
    memory_parameters_to_proto,
    stats_to_proto,
)
from openvzd.api.sessions import SessionCalls
from openvzd.core import ops
from openvzd.core.errors import ErrorKind, OpenvzError
from openvzd.core.facade import CoreFacade, DomainRef, DomainView, ListFilter
from openvzd.core.secret import Secret
from openvzd.identity import caller_of
from openvzd.jobs import JobState

Context = grpc.aio.ServicerContext[Any, Any]


def domain_ref(ref: common_pb2.DomainRef) -> DomainRef:
    which = ref.WhichOneof("ref")
    if which == "id":
        return DomainRef(id=ref.id)
    if which == "name":
        return DomainRef(name=ref.name)
    if which == "uuid":
        return DomainRef(uuid=ref.uuid)
    return DomainRef()


class DomainsService(domains_pb2_grpc.DomainsServicer):
    def __init__(self, core: CoreFacade) -> None:
        self._core = core
        self._sessions = SessionCalls(core, self._veid)
        # The encoded answer for each request, while the core hands back the same list.
        self._list_replies: dict[
            bytes, tuple[list[DomainView], domains_pb2.ListDomainsResponse]
        ] = {}

    def _veid(self, ref: common_pb2.DomainRef) -> int:
        return self._core.resolve(domain_ref(ref))

    # -- reads -------------------------------------------------------------------

    async def List(
        self, request: domains_pb2.ListDomainsRequest, context: Context
    ) -> domains_pb2.ListDomainsResponse:
        views = self._core.list_domains(
            ListFilter(request.active, request.inactive, request.autostart, request.no_autostart)
        )
        key = request.SerializeToString(deterministic=True)
        cached = self._list_replies.get(key)
        if cached is not None and cached[0] is views:
            return cached[1]
        reply = domains_pb2.ListDomainsResponse(
            domains=[domain_to_proto(view, names_only=request.names_only) for view in views]
        )
        if len(self._list_replies) >= 16:
            self._list_replies.clear()
        self._list_replies[key] = (views, reply)
        return reply

    async def Lookup(self, request: common_pb2.DomainRef, context: Context) -> domains_pb2.Domain:
        return domain_to_proto(self._core.domain(self._veid(request)))

    async def GetXML(
        self, request: domains_pb2.GetXMLRequest, context: Context
    ) -> domains_pb2.DomainXML:
        xml = self._core.xml(self._veid(request.domain), inactive=request.inactive)
        return domains_pb2.DomainXML(xml=xml)

    async def GetInfo(
        self, request: common_pb2.DomainRef, context: Context
    ) -> domains_pb2.DomainInfo:
        return info_to_proto(self._core.info(self._veid(request)))

    async def GetStats(
        self, request: domains_pb2.GetStatsRequest, context: Context
    ) -> domains_pb2.GetStatsResponse:
        veids = [self._veid(ref) for ref in request.domains]
        stats = self._core.stats(veids, active_only=request.active_only)
        return domains_pb2.GetStatsResponse(stats=[stats_to_proto(entry) for entry in stats])

    async def GetMemoryParameters(
        self, request: common_pb2.DomainRef, context: Context
    ) -> domains_pb2.MemoryParameters:
        return memory_parameters_to_proto(self._core.memory_parameters(self._veid(request)))

    # -- changes -----------------------------------------------------------------

    async def _submit(
        self, context: Context, operation: ops.Operation, options: common_pb2.JobOptions
    ) -> common_pb2.JobReply:
        if not 0 <= options.wait_timeout_seconds < math.inf:  # NaN fails this too
            raise OpenvzError(
                ErrorKind.BAD_ARGUMENT,
                "wait_timeout_seconds must be a number of seconds ≥ 0 (0: no bound)",
            )
        job = self._core.submit(
            operation, caller_of(context), idempotency_key=options.idempotency_key or None
        )
        if options.no_wait:
            return common_pb2.JobReply(job=job_to_proto(job))
        job = await self._core.wait(job.id, options.wait_timeout_seconds or None)
        if job.state in (JobState.FAILED, JobState.CANCELLED, JobState.INTERRUPTED):
            context.set_trailing_metadata((("openvz-job-id", job.id),))
            assert job.error is not None
            raise OpenvzError(job.error.kind, job.error.message)
        return common_pb2.JobReply(job=job_to_proto(job))

    async def Define(
        self, request: domains_pb2.DefineRequest, context: Context
    ) -> common_pb2.JobReply:
        return await self._submit(context, ops.Define(veid=0, xml=request.xml), request.options)

    async def Create(
        self, request: domains_pb2.DefineRequest, context: Context
    ) -> common_pb2.JobReply:
        return await self._submit(context, ops.Create(veid=0, xml=request.xml), request.options)

    async def Undefine(
        self, request: domains_pb2.UndefineRequest, context: Context
    ) -> common_pb2.JobReply:
        operation = ops.Undefine(self._veid(request.domain), keep_storage=request.keep_storage)
        return await self._submit(context, operation, request.options)

    async def Start(self, request: domains_pb2.DomainCall, context: Context) -> common_pb2.JobReply:
        return await self._submit(context, ops.Start(self._veid(request.domain)), request.options)

    async def Shutdown(
        self, request: domains_pb2.ShutdownRequest, context: Context
    ) -> common_pb2.JobReply:
        operation = ops.Shutdown(self._veid(request.domain), request.timeout_seconds)
        return await self._submit(context, operation, request.options)

    async def Destroy(
        self, request: domains_pb2.DomainCall, context: Context
    ) -> common_pb2.JobReply:
        return await self._submit(context, ops.Destroy(self._veid(request.domain)), request.options)

    async def Reboot(
        self, request: domains_pb2.DomainCall, context: Context
    ) -> common_pb2.JobReply:
        return await self._submit(context, ops.Reboot(self._veid(request.domain)), request.options)

    async def Suspend(
        self, request: domains_pb2.DomainCall, context: Context
    ) -> common_pb2.JobReply:
        return await self._submit(context, ops.Suspend(self._veid(request.domain)), request.options)

    async def Resume(
        self, request: domains_pb2.DomainCall, context: Context
    ) -> common_pb2.JobReply:
        return await self._submit(context, ops.Resume(self._veid(request.domain)), request.options)

    async def SetAutostart(
        self, request: domains_pb2.SetAutostartRequest, context: Context
    ) -> common_pb2.JobReply:
        operation = ops.SetAutostart(self._veid(request.domain), request.autostart)
        return await self._submit(context, operation, request.options)

    async def SetVcpus(
        self, request: domains_pb2.SetVcpusRequest, context: Context
    ) -> common_pb2.JobReply:
        operation = ops.SetVcpus(self._veid(request.domain), request.vcpus)
        return await self._submit(context, operation, request.options)

    async def SetMemory(
        self, request: domains_pb2.SetMemoryRequest, context: Context
    ) -> common_pb2.JobReply:
        operation = ops.SetMemory(self._veid(request.domain), request.memory_kib)
        return await self._submit(context, operation, request.options)

    async def SetMemoryParameters(
        self, request: domains_pb2.SetMemoryParametersRequest, context: Context
    ) -> common_pb2.JobReply:
        has = request.HasField
        operation = ops.SetMemoryParameters(
            self._veid(request.domain),
            hard_limit_kib=request.hard_limit_kib if has("hard_limit_kib") else None,
            soft_limit_kib=request.soft_limit_kib if has("soft_limit_kib") else None,
            swap_hard_limit_kib=request.swap_hard_limit_kib if has("swap_hard_limit_kib") else None,
            min_guarantee_kib=request.min_guarantee_kib if has("min_guarantee_kib") else None,
        )
        return await self._submit(context, operation, request.options)

    async def SetHostname(
        self, request: domains_pb2.SetHostnameRequest, context: Context
    ) -> common_pb2.JobReply:
        operation = ops.SetHostname(self._veid(request.domain), request.hostname)
        return await self._submit(context, operation, request.options)

    async def SetNameservers(
        self, request: domains_pb2.SetNameserversRequest, context: Context
    ) -> common_pb2.JobReply:
        operation = ops.SetNameservers(
            self._veid(request.domain),
            tuple(request.nameservers),
            tuple(request.search_domains),
        )
        return await self._submit(context, operation, request.options)

    async def SetUserPassword(
        self, request: domains_pb2.SetUserPasswordRequest, context: Context
    ) -> common_pb2.JobReply:
        operation = ops.SetUserPassword(
            self._veid(request.domain), request.user, Secret(request.password)
        )
        return await self._submit(context, operation, request.options)

    async def AttachDevice(
        self, request: domains_pb2.DeviceRequest, context: Context
    ) -> common_pb2.JobReply:
        operation = ops.AttachDevice(self._veid(request.domain), request.device_xml)
        return await self._submit(context, operation, request.options)

    async def DetachDevice(
        self, request: domains_pb2.DeviceRequest, context: Context
    ) -> common_pb2.JobReply:
        operation = ops.DetachDevice(self._veid(request.domain), request.device_xml)
        return await self._submit(context, operation, request.options)

    async def UpdateDevice(
        self, request: domains_pb2.DeviceRequest, context: Context
    ) -> common_pb2.JobReply:
        operation = ops.UpdateDevice(self._veid(request.domain), request.device_xml)
        return await self._submit(context, operation, request.options)

    async def Migrate(
        self, request: domains_pb2.MigrateRequest, context: Context
    ) -> common_pb2.JobReply:
        operation = ops.Migrate(
            self._veid(request.domain),
            request.destination,
            online=request.online,
            keep_source=request.keep_source,
        )
        return await self._submit(context, operation, request.options)

    # -- sessions: exec and console (api/sessions.py) ------------------------------
    # They answer by context.write(), which grpc.aio allows for streams; the stubs
    # only know the generator form, hence the ignores.

    async def Exec(  # type: ignore[override]
        self, request_iterator: Any, context: Context
    ) -> None:
        await self._sessions.exec(request_iterator, context)

    async def Console(  # type: ignore[override]
        self, request_iterator: Any, context: Context
    ) -> None:
        await self._sessions.console(request_iterator, context)
