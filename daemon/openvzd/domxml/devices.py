"""<devices>: <filesystem> and <interface>, parsed into a ContainerSpec, and the
vzctl set options that attach, detach or update one of them.

A bridge interface is a NETIF entry: guest ethN, host vethCTID.N, MACs in
OpenVZ's 00:18:51 prefix with the host end's differing from the guest's. An
ethernet interface is the container's venet addresses. libvirt's driver wrote
bridge interfaces with only <mac> and <target dev='vethCTID.N'/>, and ethernet
ones with an all-zero <mac>; both are read as they meant.
"""

from __future__ import annotations

import dataclasses
import random

from lxml import etree

from openvzd.domxml.xmlsafe import OPENVZ_MAC_PREFIX, safe_parse, size_kib
from openvzd.vz.errors import bad_argument
from openvzd.vz.spec import (
    ContainerSpec,
    Interface,
    derived_host_mac,
    host_dev_number,
    next_guest_dev,
    validate_bridge,
    validate_guest_dev,
    validate_ip,
    validate_mac,
    validate_private_dir,
    validate_template,
)

ZERO_MAC = "00:00:00:00:00:00"
_FILESYSTEM_CHILDREN = {"source", "target", "space_hard_limit", "space_soft_limit"}
_INTERFACE_CHILDREN = {
    "bridge": {"mac", "source", "target", "guest"},
    "ethernet": {"mac", "ip"},
}


def random_mac() -> str:
    tail = ":".join(f"{random.randrange(256):02X}" for _ in range(3))
    return f"{OPENVZ_MAC_PREFIX}:{tail}".upper()


def parse_devices(devices: etree._Element | None, spec: ContainerSpec) -> None:
    if devices is None:
        return
    for device in devices:
        if device.tag == "filesystem":
            if spec.ostemplate or spec.private_dir:
                raise bad_argument(
                    "a second <filesystem>: a container has exactly one, its root (target '/')"
                )
            _parse_filesystem(device, spec)
        elif device.tag == "interface":
            _parse_interface(device, spec)
        else:
            raise bad_argument(f"openvzd cannot honour <devices><{device.tag}>")


def _refuse_unknown_children(element: etree._Element, allowed: set[str], where: str) -> None:
    unknown = sorted({str(child.tag) for child in element} - allowed)
    if unknown:
        raise bad_argument(
            f"openvzd cannot honour these elements of {where}: "
            + ", ".join(f"<{tag}>" for tag in unknown)
        )


def _parse_filesystem(fs: etree._Element, spec: ContainerSpec) -> None:
    kind = fs.get("type")
    where = f"<filesystem type='{kind}'>"
    if kind not in ("template", "mount"):
        raise bad_argument(
            f"{where} is not supported; use type='template' (create from an OS template) or "
            "type='mount' (an existing container directory)"
        )
    if fs.get("accessmode", "passthrough") != "passthrough":
        raise bad_argument(f"{where}: OpenVZ only has accessmode='passthrough'")
    _refuse_unknown_children(fs, _FILESYSTEM_CHILDREN, where)
    source = fs.find("source")
    attribute = "name" if kind == "template" else "dir"
    if source is None or not source.get(attribute):
        raise bad_argument(f"{where} needs <source {attribute}='...'/>")
    target = fs.find("target")
    if target is not None and target.get("dir", "/") != "/":
        raise bad_argument(f"{where}: the container's root filesystem needs <target dir='/'/>")
    if kind == "template":
        spec.ostemplate = validate_template(source.get("name", ""))
    else:
        spec.private_dir = validate_private_dir(source.get("dir", ""))
    hard = fs.find("space_hard_limit")
    soft = fs.find("space_soft_limit")
    spec.disk_hard_kib = size_kib(hard, "<space_hard_limit>") if hard is not None else 0
    spec.disk_soft_kib = size_kib(soft, "<space_soft_limit>") if soft is not None else 0
    if spec.disk_soft_kib and not spec.disk_hard_kib:
        raise bad_argument(
            "<space_soft_limit> needs <space_hard_limit> (vzctl sets them as a pair)"
        )
    if spec.disk_soft_kib > spec.disk_hard_kib:
        raise bad_argument("<space_soft_limit> may not exceed <space_hard_limit>")


def _parse_interface(element: etree._Element, spec: ContainerSpec) -> None:
    kind = element.get("type")
    if kind not in _INTERFACE_CHILDREN:
        raise bad_argument(f"<interface type='{kind}'> is not supported; use bridge or ethernet")
    _refuse_unknown_children(element, _INTERFACE_CHILDREN[kind], f"<interface type='{kind}'>")
    if kind == "ethernet":
        _parse_venet(element, spec)
    else:
        spec.interfaces.append(_parse_veth(element, spec))


def _parse_venet(element: etree._Element, spec: ContainerSpec) -> None:
    mac = element.find("mac")
    if mac is not None and mac.get("address", "").lower() != ZERO_MAC:
        raise bad_argument(
            "<interface type='ethernet'> is the container's venet addresses, which have no MAC; "
            "remove <mac> or use type='bridge' for an interface with its own MAC"
        )
    for ip in element.findall("ip"):
        unknown = sorted({str(name) for name in ip.attrib} - {"address", "prefix", "family"})
        if unknown:
            raise bad_argument(
                "<interface type='ethernet'><ip>: a venet address has no "
                + ", ".join(f"{name}=" for name in unknown)
            )
        address = ip.get("address", "")
        prefix = ip.get("prefix")
        value = validate_ip(f"{address}/{prefix}" if prefix else address)
        if value in spec.ip_addresses:
            raise bad_argument(f"<ip address='{address}'> is given twice")
        spec.ip_addresses.append(value)


def _parse_veth(element: etree._Element, spec: ContainerSpec) -> Interface:
    source = element.find("source")
    bridge = validate_bridge(source.get("bridge", "")) if source is not None else ""
    mac = element.find("mac")
    guest_mac = validate_mac(mac.get("address", "")) if mac is not None else random_mac()
    guest = element.find("guest")
    target = element.find("target")
    if guest is not None:
        number = validate_guest_dev(guest.get("dev", ""))
    elif target is not None:
        number = host_dev_number(target.get("dev", ""), spec.veid)
    else:
        number = next_guest_dev(spec.interfaces)
    host_dev = f"veth{spec.veid}.{number}"
    if target is not None and target.get("dev") != host_dev:
        raise bad_argument(
            f"<target dev='{target.get('dev')}'>: the host end of eth{number} is {host_dev}"
        )
    guest_dev = f"eth{number}"
    if any(iface.guest_dev == guest_dev for iface in spec.interfaces):
        raise bad_argument(f"two interfaces are {guest_dev} (<guest dev> or <target dev>)")
    if any(iface.guest_mac == guest_mac for iface in spec.interfaces):
        raise bad_argument(f"two interfaces have <mac address='{guest_mac.lower()}'>")
    host_mac = derived_host_mac(spec.veid, guest_dev, guest_mac)
    return Interface(guest_dev, guest_mac, host_dev, host_mac, bridge)


def _one_device(xml: str, allowed: tuple[str, ...]) -> etree._Element:
    element = safe_parse(xml, "device XML")
    if element.tag not in allowed:
        raise bad_argument(
            f"<{element.tag}> is not a device openvzd can change this way; only "
            + " or ".join(f"<{tag}>" for tag in allowed)
        )
    return element


def device_kind(xml: str, veid: int, *, update: bool = False) -> str:
    """Check one device's XML as far as it can be without the container's config
    (its grammar), and name its kind: "interface" (a veth on a bridge), "ip"
    (venet addresses) or "filesystem" (the root's limits; only for an update)."""
    element = _one_device(xml, ("interface", "filesystem") if update else ("interface",))
    probe = ContainerSpec(veid=veid)
    if element.tag == "filesystem":
        _parse_filesystem(element, probe)
        return "filesystem"
    _parse_interface(element, probe)
    return "ip" if element.get("type") == "ethernet" else "interface"


def device_args(xml: str, current: ContainerSpec, *, attach: bool) -> list[str]:
    """vzctl set options that attach or detach one <interface> of a container."""
    wrapper = ContainerSpec(veid=current.veid)
    element = _one_device(xml, ("interface",))
    _parse_interface(element, wrapper)
    args: list[str] = []
    for address in wrapper.ip_addresses:
        if attach and address in current.ip_addresses:
            raise bad_argument(f"{address} is already assigned to container {current.veid}")
        if not attach and address not in current.ip_addresses:
            raise bad_argument(f"container {current.veid} has no address {address}")
        args += ["--ipadd" if attach else "--ipdel", address]
    for iface in wrapper.interfaces:
        if attach and any(i.guest_mac == iface.guest_mac for i in current.interfaces):
            raise bad_argument(f"an interface of container {current.veid} already has that <mac>")
        if attach:
            number = next_guest_dev(current.interfaces)
            guest_dev = f"eth{number}"
            netif = [
                guest_dev,
                iface.guest_mac,
                f"veth{current.veid}.{number}",
                derived_host_mac(current.veid, guest_dev, iface.guest_mac),
            ]
            args += ["--netif_add", ",".join(netif + ([iface.bridge] if iface.bridge else []))]
            continue
        args += ["--netif_del", _matching_interface(element, iface, current).guest_dev]
    return args


def _matching_interface(
    element: etree._Element, wanted: Interface, current: ContainerSpec
) -> Interface:
    """The container's interface the device XML names: by <guest dev> (or
    <target dev>) when given, else by <mac>."""
    by_dev = element.find("guest") is not None or element.find("target") is not None
    for iface in current.interfaces:
        if by_dev and iface.guest_dev == wanted.guest_dev:
            return iface
        if not by_dev and element.find("mac") is not None and iface.guest_mac == wanted.guest_mac:
            return iface
    raise bad_argument(
        f"container {current.veid} has no interface with that <guest dev>, <target dev> or <mac>"
    )


def update_device_spec(xml: str, current: ContainerSpec) -> ContainerSpec:
    """current with one device changed as the device XML says: an <interface
    type='bridge'> changes the bridge or MAC of the NETIF entry it names (by
    guest or target dev, else by MAC); an <interface type='ethernet'> replaces
    the container's address set; the root <filesystem> changes its disk
    limits. Everything the XML does not mention stays."""
    element = _one_device(xml, ("interface", "filesystem"))
    updated = dataclasses.replace(
        current, ip_addresses=list(current.ip_addresses), interfaces=list(current.interfaces)
    )
    if element.tag == "filesystem":
        parsed = ContainerSpec(veid=current.veid)
        _parse_filesystem(element, parsed)
        if (parsed.ostemplate, parsed.private_dir) != (current.ostemplate, current.private_dir):
            raise bad_argument(
                "the <filesystem>'s <source> must be the container's root ("
                + (f"name='{current.ostemplate}'" if current.ostemplate else "")
                + (f"dir='{current.private_dir}'" if current.private_dir else "")
                + "); only its space limits can change"
            )
        updated.disk_hard_kib, updated.disk_soft_kib = parsed.disk_hard_kib, parsed.disk_soft_kib
        return updated
    if element.get("type") == "ethernet":
        parsed = ContainerSpec(veid=current.veid)
        _parse_interface(element, parsed)
        if not parsed.ip_addresses:
            raise bad_argument(
                "<interface type='ethernet'> needs the new <ip> addresses; to remove all of "
                "them, detach the interface"
            )
        updated.ip_addresses = parsed.ip_addresses
        return updated
    probe = ContainerSpec(veid=current.veid)
    _parse_interface(element, probe)
    wanted = probe.interfaces[0]
    existing = _matching_interface(element, wanted, current)
    changed = dataclasses.replace(existing)
    source = element.find("source")
    if source is not None:
        changed.bridge = wanted.bridge
    if element.find("mac") is not None:
        changed.guest_mac = wanted.guest_mac
    if changed.guest_mac == changed.host_mac:
        changed.host_mac = derived_host_mac(current.veid, changed.guest_dev, changed.guest_mac)
    updated.interfaces = [changed if i is existing else i for i in current.interfaces]
    return updated
