"""ContainerSpec -> domain XML, in libvirt's element order, valid against
libvirt's domain.rng (except template names with dots: see the schema test)."""

from __future__ import annotations

from lxml import etree

from openvzd.domxml.xmlsafe import sub
from openvzd.vz.spec import ContainerSpec

CPU_PERIOD_US = 100000
METADATA_NS = "urn:x-openvzd:container:1"


def _memory(root: etree._Element, spec: ContainerSpec) -> None:
    if spec.memory_kib:
        sub(root, "memory", str(spec.memory_kib), unit="KiB")
        sub(root, "currentMemory", str(spec.memory_kib), unit="KiB")
    # A limit equal to the one it refines is left out: defining without it
    # sets the same (no swap; a disk soft limit equal to the hard one), so
    # dumpxml of a container just defined shows the XML it was defined with.
    tunes = [
        ("soft_limit", spec.memory_soft_kib),
        (
            "swap_hard_limit",
            0 if spec.swap_hard_limit_kib == spec.memory_kib else spec.swap_hard_limit_kib,
        ),
        ("min_guarantee", spec.min_guarantee_kib),
    ]
    if any(value for _, value in tunes):
        memtune = sub(root, "memtune")
        for tag, value in tunes:
            if value:
                sub(memtune, tag, str(value), unit="KiB")


def _cpu(root: etree._Element, spec: ContainerSpec) -> None:
    # CPUS unset means every host CPU; writing a number would pin it on define.
    if spec.vcpus:
        sub(root, "vcpu", str(spec.vcpus))
    if spec.cpu_shares or spec.cpu_limit_percent:
        cputune = sub(root, "cputune")
        if spec.cpu_shares:
            sub(cputune, "shares", str(spec.cpu_shares))
        if spec.cpu_limit_percent:
            sub(cputune, "period", str(CPU_PERIOD_US))
            sub(cputune, "quota", str(spec.cpu_limit_percent * CPU_PERIOD_US // 100))


def _filesystem(devices: etree._Element, spec: ContainerSpec) -> None:
    if spec.ostemplate:
        fs = sub(devices, "filesystem", type="template")
        sub(fs, "source", name=spec.ostemplate)
    elif spec.private_dir:
        fs = sub(devices, "filesystem", type="mount")
        sub(fs, "source", dir=spec.private_dir)
    else:
        return
    sub(fs, "target", dir="/")
    if spec.disk_hard_kib:
        sub(fs, "space_hard_limit", str(spec.disk_hard_kib), unit="KiB")
    if spec.disk_soft_kib and spec.disk_soft_kib != spec.disk_hard_kib:
        sub(fs, "space_soft_limit", str(spec.disk_soft_kib), unit="KiB")


def _interfaces(devices: etree._Element, spec: ContainerSpec) -> None:
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


def format_domain(spec: ContainerSpec, *, running: bool = False, domain_id: int = -1) -> str:
    """Domain XML for spec, valid against libvirt's domain.rng."""
    attrs = {"type": "openvz"}
    if running and domain_id >= 0:
        attrs["id"] = str(domain_id)
    root = etree.Element("domain", attrs)
    sub(root, "name", str(spec.veid))
    sub(root, "uuid", spec.uuid)
    if spec.title:
        sub(root, "title", spec.title)
    if spec.description:
        sub(root, "description", spec.description)
    if spec.hostname or spec.nameservers or spec.search_domains:
        metadata = sub(root, "metadata")
        container = etree.SubElement(
            metadata, f"{{{METADATA_NS}}}container", nsmap={"openvzd": METADATA_NS}
        )
        if spec.hostname:
            sub(container, f"{{{METADATA_NS}}}hostname", spec.hostname)
        for server in spec.nameservers:
            sub(container, f"{{{METADATA_NS}}}nameserver", server)
        for domain in spec.search_domains:
            sub(container, f"{{{METADATA_NS}}}searchdomain", domain)
    _memory(root, spec)
    _cpu(root, spec)
    os_element = sub(root, "os")
    sub(os_element, "type", "exe")
    sub(os_element, "init", "/sbin/init")
    devices = sub(root, "devices")
    _filesystem(devices, spec)
    _interfaces(devices, spec)
    return etree.tostring(root, pretty_print=True, encoding="unicode")
