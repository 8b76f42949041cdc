"""Which of a container's interfaces a device name means: the host veth
(vethCTID.N, what `virsh domifstat` takes) or the guest's own name (eth0)."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from collections.abc import Sequence

from openvz.errors import NotFound
from openvz.v1 import domains_pb2

# virsh domifstat's lines, in its order.
COUNTERS = (
    "rx_bytes",
    "rx_packets",
    "rx_errs",
    "rx_drop",
    "tx_bytes",
    "tx_packets",
    "tx_errs",
    "tx_drop",
)


def guest_to_host_devices(domain_xml: str) -> dict[str, str]:
    """<interface><target dev='veth101.0'/><guest dev='eth0'/> pairs: guest -> host."""
    found = {}
    for interface in ElementTree.fromstring(domain_xml).iterfind("./devices/interface"):
        target, guest = interface.find("target"), interface.find("guest")
        if target is not None and guest is not None and target.get("dev") and guest.get("dev"):
            found[str(guest.get("dev"))] = str(target.get("dev"))
    return found


def pick_interface(
    domain: str,
    interfaces: Sequence[domains_pb2.InterfaceStats],
    device: str,
    guest_devices: dict[str, str],
) -> domains_pb2.InterfaceStats:
    """The counters of `device` (host or guest name), or NotFound naming the choices."""
    wanted = guest_devices.get(device, device)
    for interface in interfaces:
        if interface.device == wanted:
            return interface
    if interfaces:
        host_to_guest = {host: guest for guest, host in guest_devices.items()}
        choices = ", ".join(
            f"{i.device} ({host_to_guest[i.device]})" if i.device in host_to_guest else i.device
            for i in interfaces
        )
        raise NotFound(f"domain {domain} has no interface {device!r}; it has {choices}")
    raise NotFound(
        f"domain {domain} has no interface {device!r}: it has no veth with counters "
        "(a stopped container has none, and venet has no per-container device)"
    )
