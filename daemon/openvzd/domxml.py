"""libvirt domain XML <-> ContainerSpec for type='openvz'.

Parsing is safe by construction: no DTD, no entities, no network, a size limit.
Every element the driver cannot honour is refused by name; nothing is dropped
silently. <memory> is optional, as in libvirt's own example.
"""

from __future__ import annotations

import random
import uuid as uuidlib
from collections.abc import Callable

from lxml import etree

from openvzd.vz.errors import bad_argument
from openvzd.vz.spec import (
    ContainerSpec,
    Interface,
    next_guest_dev,
    validate_bridge,
    validate_hostname,
    validate_ip,
    validate_mac,
    validate_template,
    validate_text,
    validate_veid,
)

MAX_XML_BYTES = 1 << 20
OPENVZ_MAC_PREFIX = "00:18:51"
_UNITS = {
    "b": 1,
    "bytes": 1,
    "k": 1024,
    "kib": 1024,
    "kb": 1000,
    "m": 1 << 20,
    "mib": 1 << 20,
    "mb": 10**6,
    "g": 1 << 30,
    "gib": 1 << 30,
    "gb": 10**9,
    "t": 1 << 40,
    "tib": 1 << 40,
    "tb": 10**12,
}
_KNOWN_TOP = {
    "name",
    "uuid",
    "description",
    "memory",
    "currentMemory",
    "maxMemory",
    "memtune",
    "vcpu",
    "cputune",
    "os",
    "devices",
    "clock",
    "on_poweroff",
    "on_reboot",
    "on_crash",
    "hostname",
}


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def safe_parse(xml: str, what: str) -> etree._Element:
    """The root of xml, refused when oversized, with a DOCTYPE (XXE, billion
    laughs) or not well-formed."""
    data = xml.encode()
    if len(data) > MAX_XML_BYTES:
        raise bad_argument(f"{what} is larger than {MAX_XML_BYTES} bytes")
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise bad_argument(f"{what} may not have a DOCTYPE or entities; remove them")
    try:
        return etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as err:
        raise bad_argument(f"{what} is not well-formed: {err}") from None


def _size_kib(element: etree._Element, where: str) -> int:
    unit = (element.get("unit") or "KiB").lower()
    if unit not in _UNITS:
        raise bad_argument(f"{where}: unknown unit {element.get('unit')!r}; use KiB, MiB or GiB")
    text = (element.text or "").strip()
    if not text.isdigit():
        raise bad_argument(f"{where}: {text!r} is not a whole number")
    return int(text) * _UNITS[unit] // 1024


def random_mac() -> str:
    tail = ":".join(f"{random.randrange(256):02X}" for _ in range(3))
    return f"{OPENVZ_MAC_PREFIX}:{tail}".upper()


def parse_domain(xml: str, pick_veid: Callable[[], int] | None = None) -> ContainerSpec:
    """A spec from domain XML; BAD_ARGUMENT errors name the element to change.
    Without <name>, pick_veid (when given) chooses the container ID."""
    root = safe_parse(xml, "domain XML")
    if root.tag != "domain":
        raise bad_argument(f"the root element is <{root.tag}>, not <domain>")
    if root.get("type") != "openvz":
        raise bad_argument(f"<domain type='{root.get('type')}'> is not type='openvz'")
    unknown = [child.tag for child in root if child.tag not in _KNOWN_TOP]
    if unknown:
        raise bad_argument(
            "openvzd cannot honour these elements of <domain>: "
            + ", ".join(f"<{tag}>" for tag in unknown)
        )
    name = (root.findtext("name") or "").strip()
    if not name and pick_veid is not None:
        name = str(pick_veid())
    if not name.isdigit():
        raise bad_argument(
            f"<name>{name}</name> must be the container ID in decimal (for example 101)"
        )
    spec = ContainerSpec(veid=validate_veid(int(name)))
    spec.uuid = _uuid(root.findtext("uuid"))
    spec.description = validate_text((root.findtext("description") or "").strip(), "<description>")
    if root.findtext("hostname"):
        spec.hostname = validate_hostname(root.findtext("hostname", "").strip())
    memory = root.find("memory")
    if memory is not None:
        spec.memory_kib = _size_kib(memory, "<memory>")
    for tag in ("currentMemory", "maxMemory"):
        element = root.find(tag)
        if (
            element is not None
            and spec.memory_kib
            and _size_kib(element, f"<{tag}>") not in (0, spec.memory_kib)
        ):
            raise bad_argument(f"<{tag}> differs from <memory>; OpenVZ has one memory limit")
    _parse_memtune(root.find("memtune"), spec)
    vcpu = root.findtext("vcpu")
    if vcpu is not None:
        if not vcpu.strip().isdigit():
            raise bad_argument(f"<vcpu>{vcpu}</vcpu> is not a whole number")
        spec.vcpus = int(vcpu)
    _parse_cputune(root.find("cputune"), spec)
    _parse_os(root.find("os"))
    _check_events_and_clock(root)
    _parse_devices(root.find("devices"), spec)
    if not spec.ostemplate:
        raise bad_argument(
            "no <filesystem type='template'> with <source name='TEMPLATE'/>: openvzd needs "
            "the OS template to create the container from"
        )
    return spec


def _uuid(text: str | None) -> str:
    if not text or not text.strip():
        return str(uuidlib.uuid4())
    try:
        return str(uuidlib.UUID(text.strip()))
    except ValueError:
        raise bad_argument(f"<uuid>{text}</uuid> is not a UUID") from None


def _parse_memtune(memtune: etree._Element | None, spec: ContainerSpec) -> None:
    if memtune is None:
        return
    for child in memtune:
        if child.tag == "hard_limit":
            spec.memory_kib = spec.memory_kib or _size_kib(child, "<memtune><hard_limit>")
        elif child.tag == "swap_hard_limit":
            spec.swap_hard_limit_kib = _size_kib(child, "<memtune><swap_hard_limit>")
        elif child.tag in ("soft_limit", "min_guarantee"):
            _size_kib(child, f"<memtune><{child.tag}>")
        else:
            raise bad_argument(f"openvzd cannot honour <memtune><{child.tag}>")


def _parse_cputune(cputune: etree._Element | None, spec: ContainerSpec) -> None:
    if cputune is None:
        return
    for child in cputune:
        if child.tag != "shares":
            raise bad_argument(f"openvzd cannot honour <cputune><{child.tag}>; only <shares>")
        text = (child.text or "").strip()
        if not text.isdigit():
            raise bad_argument(f"<cputune><shares>{text}</shares> is not a whole number")
        spec.cpu_shares = int(text)


# What a container can do at each event, as libvirt's OpenVZ driver writes it:
# a container that powers off or crashes is gone; one that reboots restarts.
_EVENT_ACTIONS = {
    "on_poweroff": {"destroy"},
    "on_reboot": {"restart", "destroy"},
    "on_crash": {"destroy"},
}


def _check_events_and_clock(root: etree._Element) -> None:
    for tag, allowed in _EVENT_ACTIONS.items():
        value = (root.findtext(tag) or "").strip()
        if value and value not in allowed:
            raise bad_argument(
                f"<{tag}>{value}</{tag}>: an OpenVZ container can only "
                + " or ".join(sorted(allowed))
            )
    clock = root.find("clock")
    if clock is not None and (clock.get("offset", "utc") != "utc" or len(clock)):
        raise bad_argument("<clock>: containers share the host's clock; only offset='utc'")


def _parse_os(os_element: etree._Element | None) -> None:
    if os_element is None:
        return
    os_type = (os_element.findtext("type") or "exe").strip()
    if os_type != "exe":
        raise bad_argument(f"<os><type>{os_type}</type>: OpenVZ containers are type 'exe'")
    for child in os_element:
        if child.tag not in ("type", "init"):
            raise bad_argument(f"openvzd cannot honour <os><{child.tag}>")
    init = (os_element.findtext("init") or "/sbin/init").strip()
    if init != "/sbin/init":
        raise bad_argument(f"<os><init>{init}</init>: OpenVZ always starts /sbin/init")


def _parse_devices(devices: etree._Element | None, spec: ContainerSpec) -> None:
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
        spec.disk_hard_kib = _size_kib(hard, "<space_hard_limit>")
    if soft is not None:
        spec.disk_soft_kib = _size_kib(soft, "<space_soft_limit>")


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


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    element = etree.SubElement(parent, tag, attrs)
    if text is not None:
        element.text = text
    return element


def format_domain(spec: ContainerSpec, *, running: bool = False, domain_id: int = -1) -> str:
    """Domain XML for spec, valid against libvirt's domain.rng."""
    attrs = {"type": "openvz"}
    if running and domain_id >= 0:
        attrs["id"] = str(domain_id)
    root = etree.Element("domain", attrs)
    _sub(root, "name", str(spec.veid))
    _sub(root, "uuid", spec.uuid)
    if spec.description:
        _sub(root, "description", spec.description)
    if spec.memory_kib:
        _sub(root, "memory", str(spec.memory_kib), unit="KiB")
        _sub(root, "currentMemory", str(spec.memory_kib), unit="KiB")
    if spec.swap_hard_limit_kib:
        memtune = _sub(root, "memtune")
        _sub(memtune, "swap_hard_limit", str(spec.swap_hard_limit_kib), unit="KiB")
    _sub(root, "vcpu", str(spec.vcpus or 1))
    if spec.cpu_shares:
        _sub(_sub(root, "cputune"), "shares", str(spec.cpu_shares))
    os_element = _sub(root, "os")
    _sub(os_element, "type", "exe")
    _sub(os_element, "init", "/sbin/init")
    devices = _sub(root, "devices")
    if spec.ostemplate:
        fs = _sub(devices, "filesystem", type="template")
        _sub(fs, "source", name=spec.ostemplate)
        _sub(fs, "target", dir="/")
        if spec.disk_hard_kib:
            _sub(fs, "space_hard_limit", str(spec.disk_hard_kib), unit="KiB")
        if spec.disk_soft_kib:
            _sub(fs, "space_soft_limit", str(spec.disk_soft_kib), unit="KiB")
    if spec.ip_addresses:
        iface = _sub(devices, "interface", type="ethernet")
        for address in spec.ip_addresses:
            ip, _, prefix = address.partition("/")
            attrs = {"address": ip}
            if prefix:
                attrs["prefix"] = prefix
            _sub(iface, "ip", **attrs)
    for interface in spec.interfaces:
        element = _sub(devices, "interface", type="bridge")
        if interface.guest_mac:
            _sub(element, "mac", address=interface.guest_mac.lower())
        if interface.bridge:
            _sub(element, "source", bridge=interface.bridge)
        if interface.host_dev:
            _sub(element, "target", dev=interface.host_dev)
        _sub(element, "guest", dev=interface.guest_dev)
    return etree.tostring(root, pretty_print=True, encoding="unicode")


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
