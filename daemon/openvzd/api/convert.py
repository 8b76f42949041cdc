"""The daemon's objects in their wire forms."""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp
from openvz.v1 import common_pb2, domains_pb2, events_pb2

from openvzd.api.errors import proto_kind
from openvzd.events import Event, Gap, JobEvent, LifecycleEvent
from openvzd.jobs import Job
from openvzd.runtime import Runtime
from openvzd.vz.proc import BeanCounter, InterfaceCounters

STATE_BY_WORD = {
    "running": domains_pb2.DOMAIN_STATE_RUNNING,
    "paused": domains_pb2.DOMAIN_STATE_PAUSED,
    "stopped": domains_pb2.DOMAIN_STATE_SHUTOFF,
    "mounted": domains_pb2.DOMAIN_STATE_MOUNTED,
    "suspended": domains_pb2.DOMAIN_STATE_SUSPENDED,
}
REASON_BY_WORD = {
    "running": "booted",
    "paused": "user",
    "stopped": "shutdown",
    "mounted": "mounted",
    "suspended": "saved",
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
        outcome=str((job.result or {}).get("outcome", "")),
    )
    if job.error is not None:
        message.error.CopyFrom(
            common_pb2.JobError(
                kind=proto_kind(job.error.kind),  # type: ignore[arg-type]
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


def domain_to_proto(runtime: Runtime, veid: int, *, names_only: bool = False) -> domains_pb2.Domain:
    container = runtime.host.containers[veid]
    if names_only:
        return domains_pb2.Domain(id=veid, name=str(veid))
    word = runtime.state_of(veid)
    return domains_pb2.Domain(
        id=veid if word in ("running", "paused") else -1,
        name=str(veid),
        uuid=runtime.uuid_of(veid),
        vz_name=container.vz_name,
        state=STATE_BY_WORD.get(word, domains_pb2.DOMAIN_STATE_UNSPECIFIED),
        state_reason=REASON_BY_WORD.get(word, ""),
        autostart=container.autostart,
        persistent=True,
        hostname=container.hostname,
        title=container.config.title,
        ip_addresses=container.ip_addresses,
        ostemplate=container.values.get("OSTEMPLATE", ""),
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


def guest_interface_to_proto(
    device: str, host_end: InterfaceCounters
) -> domains_pb2.InterfaceStats:
    """A veth's counters as the guest counts them: the host end's rx is the
    guest's tx, so the two are swapped."""
    rx_bytes, rx_packets, rx_errs, rx_drop = host_end.tx
    tx_bytes, tx_packets, tx_errs, tx_drop = host_end.rx
    return domains_pb2.InterfaceStats(
        device=device,
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
