"""libvirt domain XML <-> ContainerSpec for type='openvz'.

Every element the driver cannot honour is refused by name; nothing is dropped
silently. <memory> is optional, as in libvirt's own example. One module per
part of the document: xmlsafe (parsing), devices, format; the top-level
elements are read here.
"""

from __future__ import annotations

import uuid as uuidlib

from lxml import etree

from openvzd.domxml.devices import device_args, parse_devices
from openvzd.domxml.format import format_domain
from openvzd.domxml.xmlsafe import safe_parse, size_kib
from openvzd.vz.errors import bad_argument
from openvzd.vz.spec import (
    ContainerSpec,
    validate_hostname,
    validate_text,
    validate_veid,
)

__all__ = ["device_args", "format_domain", "parse_domain", "safe_parse"]

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


def parse_domain(xml: str) -> ContainerSpec:
    """A spec from domain XML; BAD_ARGUMENT errors name the element to change."""
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
        spec.memory_kib = size_kib(memory, "<memory>")
    for tag in ("currentMemory", "maxMemory"):
        element = root.find(tag)
        if (
            element is not None
            and spec.memory_kib
            and size_kib(element, f"<{tag}>") not in (0, spec.memory_kib)
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
    parse_devices(root.find("devices"), spec)
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
            spec.memory_kib = spec.memory_kib or size_kib(child, "<memtune><hard_limit>")
        elif child.tag == "swap_hard_limit":
            spec.swap_hard_limit_kib = size_kib(child, "<memtune><swap_hard_limit>")
        elif child.tag in ("soft_limit", "min_guarantee"):
            size_kib(child, f"<memtune><{child.tag}>")
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
