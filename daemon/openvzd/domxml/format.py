"""ContainerSpec -> domain XML, in libvirt's element order."""

from __future__ import annotations

from lxml import etree

from openvzd.domxml.xmlsafe import sub
from openvzd.vz.spec import ContainerSpec


def format_domain(spec: ContainerSpec, *, running: bool = False, domain_id: int = -1) -> str:
    """Domain XML for spec, valid against libvirt's domain.rng."""
    attrs = {"type": "openvz"}
    if running and domain_id >= 0:
        attrs["id"] = str(domain_id)
    root = etree.Element("domain", attrs)
    sub(root, "name", str(spec.veid))
    sub(root, "uuid", spec.uuid)
    if spec.description:
        sub(root, "description", spec.description)
    if spec.memory_kib:
        sub(root, "memory", str(spec.memory_kib), unit="KiB")
        sub(root, "currentMemory", str(spec.memory_kib), unit="KiB")
    if spec.swap_hard_limit_kib:
        memtune = sub(root, "memtune")
        sub(memtune, "swap_hard_limit", str(spec.swap_hard_limit_kib), unit="KiB")
    sub(root, "vcpu", str(spec.vcpus or 1))
    if spec.cpu_shares:
        sub(sub(root, "cputune"), "shares", str(spec.cpu_shares))
    os_element = sub(root, "os")
    sub(os_element, "type", "exe")
    sub(os_element, "init", "/sbin/init")
    devices = sub(root, "devices")
    if spec.ostemplate:
        fs = sub(devices, "filesystem", type="template")
        sub(fs, "source", name=spec.ostemplate)
        sub(fs, "target", dir="/")
        if spec.disk_hard_kib:
            sub(fs, "space_hard_limit", str(spec.disk_hard_kib), unit="KiB")
        if spec.disk_soft_kib:
            sub(fs, "space_soft_limit", str(spec.disk_soft_kib), unit="KiB")
    if spec.ip_addresses:
        iface = sub(devices, "interface", type="ethernet")
        for address in spec.ip_addresses:
            ip, _, prefix = address.partition("/")
            attrs = {"address": ip}
            if prefix:
                attrs["prefix"] = prefix
            sub(iface, "ip", **attrs)
    for interface in spec.interfaces:
        element = sub(devices, "interface", type="bridge")
        if interface.guest_mac:
            sub(element, "mac", address=interface.guest_mac.lower())
        if interface.bridge:
            sub(element, "source", bridge=interface.bridge)
        if interface.host_dev:
            sub(element, "target", dev=interface.host_dev)
        sub(element, "guest", dev=interface.guest_dev)
    return etree.tostring(root, pretty_print=True, encoding="unicode")
