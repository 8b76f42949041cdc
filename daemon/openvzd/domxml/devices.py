"""<devices>: <filesystem> and <interface>, parsed into a ContainerSpec, and the
vzctl set options that attach or detach one of them."""

from __future__ import annotations

import random

from lxml import etree

from openvzd.domxml.xmlsafe import OPENVZ_MAC_PREFIX, safe_parse, size_kib
from openvzd.vz.errors import bad_argument
from openvzd.vz.spec import (
    ContainerSpec,
    Interface,
    next_guest_dev,
    validate_bridge,
    validate_ip,
    validate_mac,
    validate_template,
)


def random_mac() -> str:
    tail = ":".join(f"{random.randrange(256):02X}" for _ in range(3))
    return f"{OPENVZ_MAC_PREFIX}:{tail}".upper()


def parse_devices(devices: etree._Element | None, spec: ContainerSpec) -> None:
    if devices is None:
        return
    for device in devices:
        if device.tag == "filesystem":
            _parse_filesystem(device, spec)
        elif device.tag == "interface":
            _parse_interface(device, spec)
        else:
            raise bad_argument(f"openvzd cannot honour <devices><{device.tag}>")


def _parse_filesystem(fs: etree._Element, spec: ContainerSpec) -> None:
    if fs.get("type") != "template":
        raise bad_argument(
            f"<filesystem type='{fs.get('type')}'> is not supported; use type='template'"
        )
    source = fs.find("source")
    if source is None or not source.get("name"):
        raise bad_argument("<filesystem type='template'> needs <source name='TEMPLATE'/>")
    target = fs.find("target")
    if target is not None and target.get("dir", "/") != "/":
        raise bad_argument("the template filesystem's <target dir> must be '/'")
    spec.ostemplate = validate_template(source.get("name", ""))
    hard = fs.find("space_hard_limit")
    soft = fs.find("space_soft_limit")
    if hard is not None:
        spec.disk_hard_kib = size_kib(hard, "<space_hard_limit>")
    if soft is not None:
        spec.disk_soft_kib = size_kib(soft, "<space_soft_limit>")


def _parse_interface(element: etree._Element, spec: ContainerSpec) -> None:
    kind = element.get("type")
    if kind == "ethernet":
        ips = element.findall("ip")
        if not ips:
            raise bad_argument("<interface type='ethernet'> needs at least one <ip address=...>")
        for ip in ips:
            address = ip.get("address", "")
            prefix = ip.get("prefix")
            spec.ip_addresses.append(validate_ip(f"{address}/{prefix}" if prefix else address))
        return
    if kind != "bridge":
        raise bad_argument(f"<interface type='{kind}'> is not supported; use bridge or ethernet")
    index = len(spec.interfaces)
    source = element.find("source")
    bridge = validate_bridge(source.get("bridge", "")) if source is not None else ""
    mac = element.find("mac")
    guest_mac = validate_mac(mac.get("address", "")) if mac is not None else random_mac()
    guest = element.find("guest")
    guest_dev = guest.get("dev", f"eth{index}") if guest is not None else f"eth{index}"
    host_mac = random_mac()
    while host_mac == guest_mac:
        host_mac = random_mac()
    spec.interfaces.append(
        Interface(guest_dev, guest_mac, f"veth{spec.veid}.{index}", host_mac, bridge)
    )


def device_args(xml: str, current: ContainerSpec, *, attach: bool) -> list[str]:
    """vzctl set options that attach or detach one <interface> of a container."""
    wrapper = ContainerSpec(veid=current.veid)
    element = safe_parse(xml, "device XML")
    if element.tag != "interface":
        raise bad_argument(f"<{element.tag}> cannot be attached; only <interface> devices can")
    _parse_interface(element, wrapper)
    args: list[str] = []
    for address in wrapper.ip_addresses:
        if attach and address in current.ip_addresses:
            raise bad_argument(f"{address} is already assigned to container {current.veid}")
        if not attach and address not in current.ip_addresses:
            raise bad_argument(f"container {current.veid} has no address {address}")
        args += ["--ipadd" if attach else "--ipdel", address]
    for iface in wrapper.interfaces:
        if attach:
            number = next_guest_dev(current.interfaces)
            netif = [
                f"eth{number}",
                iface.guest_mac,
                f"veth{current.veid}.{number}",
                iface.host_mac,
            ]
            args += ["--netif_add", ",".join(netif + ([iface.bridge] if iface.bridge else []))]
            continue
        match = [
            i
            for i in current.interfaces
            if (element.find("mac") is not None and i.guest_mac == iface.guest_mac)
            or (element.find("guest") is not None and i.guest_dev == iface.guest_dev)
        ]
        if not match:
            raise bad_argument("no interface of the container has that <mac> or <guest dev>")
        args += ["--netif_del", match[0].guest_dev]
    return args
