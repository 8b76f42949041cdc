"""libvirt domain XML <-> ContainerSpec for type='openvz'.

Every element the driver cannot honour is refused by name; nothing is dropped
silently. <memory> is optional, as in libvirt's own example. One module per
part of the document: xmlsafe (parsing), devices, format; the top-level
elements are read here.
"""

from __future__ import annotations

import uuid as uuidlib
from collections.abc import Callable

from lxml import etree

from openvzd.domxml.devices import device_args, device_kind, parse_devices, update_device_spec
from openvzd.domxml.format import METADATA_NS, format_domain
from openvzd.domxml.xmlsafe import safe_parse, size_kib
from openvzd.vz.errors import bad_argument
from openvzd.vz.plan import check_memory
from openvzd.vz.spec import (
    ContainerSpec,
    validate_hostname,
    validate_nameserver,
    validate_text,
    validate_title,
    validate_veid,
    whole_number,
)

__all__ = [
    "device_args",
    "device_kind",
    "format_domain",
    "parse_domain",
    "safe_parse",
    "update_device_spec",
]

_KNOWN_TOP = {
    "name",
    "uuid",
    "title",
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
    "metadata",
}
DEFAULT_CPU_PERIOD_US = 100000


def parse_domain(xml: str, pick_veid: Callable[[], int] | None = None) -> ContainerSpec:
    """A spec from domain XML; BAD_ARGUMENT errors name the element to change.
    Without <name>, pick_veid (when given) chooses the container ID."""
    root = safe_parse(xml, "domain XML")
    if root.tag != "domain":
        raise bad_argument(f"the root element is <{root.tag}>, not <domain>")
    if root.get("type") != "openvz":
        raise bad_argument(f"<domain type='{root.get('type')}'> is not type='openvz'")
    unknown = [str(child.tag) for child in root if child.tag not in _KNOWN_TOP]
    if unknown:
        raise bad_argument(
            "openvzd cannot honour these elements of <domain>: "
            + ", ".join(f"<{tag}>" for tag in unknown)
        )
    name = (root.findtext("name") or "").strip()
    if not name and pick_veid is not None:
        name = str(pick_veid())
    veid = whole_number(name)
    if veid is None:
        raise bad_argument(
            f"<name>{name}</name> must be the container ID in decimal (for example 101)"
        )
    spec = ContainerSpec(veid=validate_veid(veid))
    spec.uuid = _uuid(root.findtext("uuid"))
    spec.title = validate_title(root.findtext("title") or "")
    spec.description = validate_text((root.findtext("description") or "").strip(), "<description>")
    if root.findtext("hostname"):
        spec.hostname = validate_hostname(root.findtext("hostname", "").strip())
    _parse_metadata(root.find("metadata"), spec)
    _parse_memory(root, spec)
    _parse_vcpu(root.find("vcpu"), spec)
    _parse_cputune(root.find("cputune"), spec)
    _parse_os(root.find("os"))
    _check_events_and_clock(root)
    parse_devices(root.find("devices"), spec)
    if not spec.ostemplate and not spec.private_dir:
        raise bad_argument(
            "no <filesystem type='template'> with <source name='TEMPLATE'/> (nor type='mount' "
            "with <source dir='/existing/dir'/>): openvzd needs the OS template to create the "
            "container from"
        )
    return spec


def _uuid(text: str | None) -> str:
    if not text or not text.strip():
        return str(uuidlib.uuid4())
    try:
        return str(uuidlib.UUID(text.strip()))
    except ValueError:
        raise bad_argument(f"<uuid>{text}</uuid> is not a UUID") from None


def _parse_metadata(metadata: etree._Element | None, spec: ContainerSpec) -> None:
    """openvzd's own <metadata> element: what OpenVZ keeps but libvirt's schema
    has no element for (the host name, the resolvers). Other applications'
    metadata would have to be stored to come back in dumpxml; openvzd has no
    place for it."""
    for child in metadata if metadata is not None else ():
        if child.tag != f"{{{METADATA_NS}}}container":
            raise bad_argument(
                f"<metadata>: openvzd cannot keep {child.tag}; only its own "
                f"<container xmlns='{METADATA_NS}'>"
            )
        for item in child:
            text = (item.text or "").strip()
            if item.tag == f"{{{METADATA_NS}}}hostname":
                spec.hostname = validate_hostname(text)
            elif item.tag == f"{{{METADATA_NS}}}nameserver":
                spec.nameservers.append(validate_nameserver(text))
            elif item.tag == f"{{{METADATA_NS}}}searchdomain":
                spec.search_domains.append(validate_hostname(text))
            else:
                raise bad_argument(
                    f"<metadata><container>: openvzd has no {item.tag}; it keeps hostname, "
                    "nameserver and searchdomain"
                )


def _parse_memory(root: etree._Element, spec: ContainerSpec) -> None:
    """<memory>, its copies and <memtune>. 0 (libvirt's driver always wrote
    0) means not set; every value given must agree with the one limit
    OpenVZ has, and none is dropped."""
    memory = root.find("memory")
    if memory is not None:
        spec.memory_kib = size_kib(memory, "<memory>")
    memtune = root.find("memtune")
    for child in memtune if memtune is not None else ():
        where = f"<memtune><{child.tag}>"
        if child.tag == "hard_limit":
            hard = size_kib(child, where)
            if spec.memory_kib and hard != spec.memory_kib:
                raise bad_argument(f"{where} differs from <memory>; OpenVZ has one memory limit")
            spec.memory_kib = hard
        elif child.tag == "swap_hard_limit":
            spec.swap_hard_limit_kib = size_kib(child, where)
        elif child.tag == "soft_limit":
            spec.memory_soft_kib = size_kib(child, where)
        elif child.tag == "min_guarantee":
            spec.min_guarantee_kib = size_kib(child, where)
        else:
            raise bad_argument(f"openvzd cannot honour {where}")
    for tag in ("currentMemory", "maxMemory"):
        element = root.find(tag)
        if element is not None and size_kib(element, f"<{tag}>") not in (0, spec.memory_kib):
            raise bad_argument(f"<{tag}> differs from <memory>; OpenVZ has one memory limit")
    if spec.memory_soft_kib == spec.memory_kib:
        spec.memory_soft_kib = 0
    check_memory(spec)


def _parse_vcpu(vcpu: etree._Element | None, spec: ContainerSpec) -> None:
    if vcpu is None:
        return
    text = (vcpu.text or "").strip()
    count = whole_number(text)
    if count is None:
        raise bad_argument(f"<vcpu>{text}</vcpu> is not a whole number")
    extra = sorted({str(name) for name in vcpu.attrib} - {"placement"})
    if extra or vcpu.get("placement", "static") != "static":
        raise bad_argument(
            "<vcpu>: OpenVZ only sets how many CPUs a container sees; remove "
            + ", ".join(f"{name}=" for name in extra or ["placement"])
        )
    spec.vcpus = count


def _whole(element: etree._Element, where: str) -> int:
    text = (element.text or "").strip()
    value = whole_number(text.removeprefix("-"))
    if value is None:
        raise bad_argument(f"{where}{text}: not a whole number")
    return -value if text.startswith("-") else value


def _parse_cputune(cputune: etree._Element | None, spec: ContainerSpec) -> None:
    """shares -> CPUUNITS; quota/period -> CPULIMIT in percent of one CPU."""
    if cputune is None:
        return
    period = DEFAULT_CPU_PERIOD_US
    quota = -1
    for child in cputune:
        where = f"<cputune><{child.tag}>"
        if child.tag == "shares":
            spec.cpu_shares = _whole(child, where)
            if spec.cpu_shares and not 8 <= spec.cpu_shares <= 500000:
                raise bad_argument(f"{where}: OpenVZ's CPU units are 8..500000")
        elif child.tag == "period":
            period = _whole(child, where)
            if not 1000 <= period <= 1000000:
                raise bad_argument(f"{where}: the period is 1000..1000000 microseconds")
        elif child.tag == "quota":
            quota = _whole(child, where)
        else:
            raise bad_argument(
                f"openvzd cannot honour {where}; only <shares>, <period> and <quota>"
            )
    if quota == -1 or quota == 0:
        return
    percent, rest = divmod(quota * 100, period)
    if quota < 0 or rest or percent < 1:
        raise bad_argument(
            f"<cputune><quota>{quota}</quota> of <period>{period}</period> is not a whole "
            "percentage of one CPU, which is what OpenVZ's CPU limit counts"
        )
    spec.cpu_limit_percent = percent


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
        if child.tag == "initarg":
            raise bad_argument(
                "<os><initarg>: vzctl starts the container's /sbin/init without arguments; "
                "remove <initarg>"
            )
        if child.tag not in ("type", "init"):
            raise bad_argument(
                f"openvzd cannot honour <os><{child.tag}>; only <type>exe</type> and "
                "<init>/sbin/init</init>"
            )
    init = (os_element.findtext("init") or "/sbin/init").strip()
    if init != "/sbin/init":
        raise bad_argument(
            f"<os><init>{init}</init>: vzctl always starts /sbin/init inside the container "
            "and has no setting for another init; remove <init> or give /sbin/init"
        )
