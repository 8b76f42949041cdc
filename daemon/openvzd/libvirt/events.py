"""The event bus's lifecycle events in libvirt's numbers (virDomainEventType and
its detail enums), as DOMAIN_EVENT_CALLBACK_LIFECYCLE (318) and, for clients
that registered the old way, DOMAIN_EVENT_LIFECYCLE (107) messages."""

from __future__ import annotations

from openvzd.events import LifecycleEvent
from openvzd.libvirt.numbers import Event, Proc
from openvzd.libvirt.protocol import encode_packet, message_header
from openvzd.libvirt.session import DomainKey, Registration
from openvzd.libvirt.xdr import Packer

STOPPED_DETAIL = {"shutdown": 0, "destroyed": 1, "crashed": 2, "migrated": 3, "saved": 4}
DEFINED_ADDED, DEFINED_UPDATED = 0, 1


def lifecycle_numbers(event: LifecycleEvent) -> tuple[int, int] | None:
    """(event, detail), or None for what libvirt has no lifecycle event for (a mount)."""
    kind = event.kind
    if kind == "DEFINED":
        return Event.DEFINED, DEFINED_ADDED
    if kind == "CHANGED":
        return Event.DEFINED, DEFINED_UPDATED
    if kind == "UNDEFINED":
        return Event.UNDEFINED, 0
    if kind == "STARTED":
        return Event.STARTED, 0  # booted
    if kind == "PAUSED":
        return Event.SUSPENDED, 0  # paused
    if kind == "RESUMED":
        return Event.RESUMED, 0  # unpaused
    if kind == "STOPPED":
        return Event.STOPPED, STOPPED_DETAIL.get(event.detail, 0)
    if kind == "SUSPENDED":  # a checkpoint: the container is saved to disk and stopped
        return Event.STOPPED, STOPPED_DETAIL["saved"]
    if kind == "MIGRATED":
        return Event.STOPPED, STOPPED_DETAIL["migrated"]
    return None


def lifecycle_packet(
    registration: Registration, key: DomainKey, event: int, detail: int
) -> bytes | None:
    """The message for one registration, or None when it filters this domain out."""
    if registration.only is not None and registration.only != key.uuid:
        return None
    body = Packer()
    if registration.legacy:
        procedure = Proc.DOMAIN_EVENT_LIFECYCLE
    else:
        procedure = Proc.DOMAIN_EVENT_CALLBACK_LIFECYCLE
        body.i32(registration.callback_id)
    key.pack(body)
    body.i32(event)
    body.i32(detail)
    return encode_packet(message_header(procedure), body.data())
