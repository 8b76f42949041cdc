"""The daemon's objects in their wire forms."""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp
from openvz.v1 import common_pb2, domains_pb2, events_pb2

from openvzd.api.errors import proto_kind
from openvzd.core.caller import Caller
from openvzd.core.facade import (
    BeanCounter,
    DomainInfo,
    DomainStats,
    DomainView,
    InterfaceStats,
    MemoryParameters,
)
from openvzd.events import Event, Gap, JobEvent, LifecycleEvent
from openvzd.jobs import Job

STATE_BY_WORD = {
    "running": domains_pb2.DOMAIN_STATE_RUNNING,
    "paused": domains_pb2.DOMAIN_STATE_PAUSED,
    "stopped": domains_pb2.DOMAIN_STATE_SHUTOFF,
    "mounted": domains_pb2.DOMAIN_STATE_MOUNTED,
    "suspended": domains_pb2.DOMAIN_STATE_SUSPENDED,
}


def _timestamp(seconds: float | None) -> Timestamp | None:
    if seconds is None:
        return None
    stamp = Timestamp()
    stamp.FromNanoseconds(int(seconds * 1e9))
    return stamp


def job_to_proto(job: Job) -> common_pb2.Job:
    message = common_pb2.Job(
        id=job.id,
        operation=job.operation,
        veid=job.veid,
        state=common_pb2.JobState.Value(f"JOB_STATE_{job.state.name}"),
        progress_percent=job.progress_percent,
        progress_step=job.progress_step,
        idempotency_key=job.idempotency_key or "",
        cancellable=job.cancellable,
        not_cancellable_reason=job.not_cancellable_reason,
        result_veid=int((job.result or {}).get("veid", 0)) or job.veid,
        caller=caller_to_proto(job.caller),
    )
    if job.error is not None:
        message.error.CopyFrom(
            common_pb2.JobError(
                kind=proto_kind(job.error.kind),
                message=job.error.message,
                tool=job.error.tool,
                exit_code=job.error.exit_code,
            )
        )
    for name in ("created", "started", "finished"):
        stamp = _timestamp(getattr(job, name))
        if stamp is not None:
            getattr(message, name).CopyFrom(stamp)
    return message


def caller_to_proto(caller: Caller) -> common_pb2.Caller:
    return common_pb2.Caller(
        transport=caller.transport,
        uid=caller.uid,
        gid=caller.gid,
        pid=caller.pid,
        name=caller.name,
        read_only=caller.read_only,
    )


def domain_to_proto(view: DomainView, *, names_only: bool = False) -> domains_pb2.Domain:
    if names_only:
        return domains_pb2.Domain(id=view.veid, name=view.name)
    return domains_pb2.Domain(
        id=view.id,
        name=view.name,
        uuid=view.uuid,
        vz_name=view.vz_name,
        state=STATE_BY_WORD.get(view.state, domains_pb2.DOMAIN_STATE_UNSPECIFIED),
        state_reason=view.state_reason,
        autostart=view.autostart,
        persistent=view.persistent,
        hostname=view.hostname,
        title=view.title,
        ip_addresses=view.ip_addresses,
        ostemplate=view.ostemplate,
    )


def info_to_proto(info: DomainInfo) -> domains_pb2.DomainInfo:
    return domains_pb2.DomainInfo(
        domain=domain_to_proto(info.domain),
        max_memory_kib=info.max_memory_kib,
        memory_kib=info.memory_kib,
        vcpus=info.vcpus,
        cpu_time_ns=info.cpu_time_ns,
        os_type=info.os_type,
        has_managed_save=info.has_managed_save,
    )


def stats_to_proto(stats: DomainStats) -> domains_pb2.DomainStats:
    return domains_pb2.DomainStats(
        domain=domain_to_proto(stats.domain),
        cpu_time_ns=stats.cpu_time_ns,
        cpu_user_ns=stats.cpu_user_ns,
        cpu_system_ns=stats.cpu_system_ns,
        uptime_seconds=stats.uptime_seconds,
        memory_used_kib=stats.memory_used_kib,
        memory_limit_kib=stats.memory_limit_kib,
        disk_used_kib=stats.disk_used_kib,
        disk_soft_limit_kib=stats.disk_soft_limit_kib,
        disk_hard_limit_kib=stats.disk_hard_limit_kib,
        beancounters=[beancounter_to_proto(counter) for counter in stats.beancounters],
        interfaces=[interface_stats_to_proto(interface) for interface in stats.interfaces],
    )


def memory_parameters_to_proto(parameters: MemoryParameters) -> domains_pb2.MemoryParameters:
    return domains_pb2.MemoryParameters(
        hard_limit_kib=parameters.hard_limit_kib,
        soft_limit_kib=parameters.soft_limit_kib,
        swap_hard_limit_kib=parameters.swap_hard_limit_kib,
        min_guarantee_kib=parameters.min_guarantee_kib,
    )


def beancounter_to_proto(counter: BeanCounter) -> domains_pb2.BeanCounter:
    return domains_pb2.BeanCounter(
        resource=counter.resource,
        held=counter.held,
        maxheld=counter.maxheld,
        barrier=counter.barrier,
        limit=counter.limit,
        failcnt=counter.failcnt,
    )


def interface_stats_to_proto(interface: InterfaceStats) -> domains_pb2.InterfaceStats:
    rx_bytes, rx_packets, rx_errs, rx_drop = interface.rx
    tx_bytes, tx_packets, tx_errs, tx_drop = interface.tx
    return domains_pb2.InterfaceStats(
        device=interface.device,
        rx_bytes=rx_bytes,
        rx_packets=rx_packets,
        rx_errs=rx_errs,
        rx_drop=rx_drop,
        tx_bytes=tx_bytes,
        tx_packets=tx_packets,
        tx_errs=tx_errs,
        tx_drop=tx_drop,
    )


def event_to_proto(event: Event) -> events_pb2.Event:
    message = events_pb2.Event(seq=event.seq)
    stamp = _timestamp(event.time)
    assert stamp is not None
    message.time.CopyFrom(stamp)
    payload = event.payload
    if isinstance(payload, LifecycleEvent):
        message.lifecycle.CopyFrom(
            events_pb2.LifecycleEvent(
                veid=payload.veid,
                kind=events_pb2.LifecycleKind.Value(f"LIFECYCLE_KIND_{payload.kind}"),
                state=STATE_BY_WORD.get(payload.state, domains_pb2.DOMAIN_STATE_UNSPECIFIED),
                cause=payload.cause,
                job_id=payload.job_id,
                detail=payload.detail,
            )
        )
    elif isinstance(payload, JobEvent):
        message.job.CopyFrom(job_to_proto(payload.job))
    elif isinstance(payload, Gap):
        message.gap.CopyFrom(
            events_pb2.Gap(
                missed_after_seq=payload.missed_after_seq, missed_count=payload.missed_count
            )
        )
    return message
