"""ContainerSpec: what a container should be, read from its config and turned
into the vzctl runs that make it so.

Memory rule (so that dumpxml defines the same container again): on a VSwap host
memory is PHYSPAGES' limit and swap_hard_limit is memory + SWAPPAGES' limit; on
a UBC-only host memory is PRIVVMPAGES' barrier. All sizes here are KiB.
"""

from __future__ import annotations

import ipaddress
import re
import uuid as uuidlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from openvzd.vz.errors import bad_argument
from openvzd.vz.units import LONG_MAX, PAGE_SIZE, parse_pair

MAX_VEID = 2147483644
UUID_NAMESPACE = uuidlib.UUID("6b1d6e1c-8e4a-4b8c-9d52-4f0b1f6a0d11")
_TEMPLATE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,127}\Z")
_HOSTNAME = re.compile(
    r"(?=.{1,253}\Z)[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9][A-Za-z0-9-]{0,62})*\Z"
)
_BRIDGE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,14}\Z")
_MAC = re.compile(r"([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}\Z")
_GUEST_IF = re.compile(r"eth(\d{1,4})\Z")


@dataclass(slots=True)
class Interface:
    """A veth interface on a bridge (NETIF) — guest ethN, host vethCTID.N."""

    guest_dev: str
    guest_mac: str
    host_dev: str
    host_mac: str
    bridge: str = ""


@dataclass(slots=True)
class ContainerSpec:
    veid: int
    uuid: str = ""
    description: str = ""
    hostname: str = ""
    ostemplate: str = ""
    memory_kib: int = 0
    swap_hard_limit_kib: int = 0
    vcpus: int = 0
    cpu_shares: int = 0
    disk_soft_kib: int = 0
    disk_hard_kib: int = 0
    ip_addresses: list[str] = field(default_factory=list)
    interfaces: list[Interface] = field(default_factory=list)


def validate_veid(veid: int) -> int:
    """IDs 1..MAX_VEID. 0 is refused: it is the host itself (CT0). 1-100 are reserved
    only by convention (vzctl accepts them, and libvirt's own example uses 100)."""
    if veid == 0:
        raise bad_argument("container ID 0 is the host itself (CT0); choose 101 or above")
    if veid < 0 or veid > MAX_VEID:
        raise bad_argument(f"container ID {veid} is outside 1..{MAX_VEID}")
    return veid


def validate_template(name: str) -> str:
    if not _TEMPLATE.match(name):
        raise bad_argument(
            f"OS template {name!r} is not a template name (letters, digits, '.', '_', '+', '-', "
            "as in centos-7-x86_64-minimal)"
        )
    return name


def validate_hostname(name: str) -> str:
    if not _HOSTNAME.match(name):
        raise bad_argument(f"{name!r} is not a host name (letters, digits, '-', dot-separated)")
    return name


def validate_ip(text: str) -> str:
    try:
        interface = ipaddress.ip_interface(text)
    except ValueError:
        raise bad_argument(f"{text!r} is not an IPv4 or IPv6 address (prefix allowed)") from None
    return str(interface) if "/" in text else str(interface.ip)


def validate_mac(text: str) -> str:
    if not _MAC.match(text):
        raise bad_argument(f"{text!r} is not a MAC address like 00:18:51:12:34:56")
    return text.upper()


def validate_bridge(name: str) -> str:
    if not _BRIDGE.match(name):
        raise bad_argument(f"{name!r} is not a bridge name (up to 15 letters, digits, _.:-)")
    return name


def validate_text(text: str, what: str) -> str:
    if any(ch in text for ch in '\n\r"\\`$') or len(text) > 1024:
        raise bad_argument(f"{what} may not contain newlines, quotes, '\\', '`' or '$'")
    return text


def default_uuid(host_id: str, veid: int) -> str:
    """A stable UUID for a container whose config has none (never written back)."""
    return str(uuidlib.uuid5(UUID_NAMESPACE, f"{host_id}:{veid}"))


def _pages_kib(values: Mapping[str, str], key: str, use_limit: bool) -> int:
    raw = values.get(key)
    if not raw:
        return 0
    try:
        barrier, limit = parse_pair(raw, unit=PAGE_SIZE)
    except ValueError:
        return 0
    pages = limit if use_limit else barrier
    return 0 if pages >= LONG_MAX else pages * PAGE_SIZE // 1024


def parse_netif(text: str) -> list[Interface]:
    """NETIF: entries separated by ';', each 'key=value,...'."""
    interfaces = []
    for entry in text.split(";"):
        fields = dict(part.partition("=")[::2] for part in entry.split(",") if "=" in part)
        if "ifname" not in fields:
            continue
        interfaces.append(
            Interface(
                guest_dev=fields["ifname"],
                guest_mac=fields.get("mac", "").upper(),
                host_dev=fields.get("host_ifname", ""),
                host_mac=fields.get("host_mac", "").upper(),
                bridge=fields.get("bridge", ""),
            )
        )
    return interfaces


def spec_from_config(values: Mapping[str, str], veid: int, uuid: str) -> ContainerSpec:
    """The spec of an existing container from its effective config values."""
    vswap = bool(_pages_kib(values, "PHYSPAGES", True))
    if vswap:
        memory = _pages_kib(values, "PHYSPAGES", True)
        swap = memory + _pages_kib(values, "SWAPPAGES", True)
    else:
        memory, swap = _pages_kib(values, "PRIVVMPAGES", False), 0
    soft = hard = 0
    if values.get("DISKSPACE"):
        try:
            soft, hard = parse_pair(values["DISKSPACE"], unit=1024)
        except ValueError:
            soft = hard = 0

    def number(key: str) -> int:
        raw = values.get(key, "")
        return int(raw) if raw.isdigit() else 0

    return ContainerSpec(
        veid=veid,
        uuid=uuid,
        description=values.get("DESCRIPTION", ""),
        hostname=values.get("HOSTNAME", ""),
        ostemplate=values.get("OSTEMPLATE", ""),
        memory_kib=memory,
        swap_hard_limit_kib=swap,
        vcpus=number("CPUS"),
        cpu_shares=number("CPUUNITS"),
        disk_soft_kib=0 if soft >= LONG_MAX else soft,
        disk_hard_kib=0 if hard >= LONG_MAX else hard,
        ip_addresses=values.get("IP_ADDRESS", "").split(),
        interfaces=parse_netif(values.get("NETIF", "")),
    )


@dataclass(frozen=True, slots=True)
class Step:
    """One vzctl run of a plan; `operation` picks its timeout."""

    args: tuple[str, ...]
    operation: str


def settings_args(spec: ContainerSpec, *, vswap: bool) -> list[str]:
    """vzctl set options that give a created container the spec's settings."""
    args: list[str] = []
    if spec.memory_kib:
        if vswap:
            swap = max(spec.swap_hard_limit_kib - spec.memory_kib, 0)
            args += ["--ram", f"{spec.memory_kib}K", "--swap", f"{swap}K"]
        else:
            pages = spec.memory_kib * 1024 // PAGE_SIZE
            args += ["--privvmpages", f"{pages}:{pages}"]
    if spec.vcpus:
        args += ["--cpus", str(spec.vcpus)]
    if spec.cpu_shares:
        args += ["--cpuunits", str(spec.cpu_shares)]
    if spec.disk_hard_kib:
        soft = spec.disk_soft_kib or spec.disk_hard_kib
        args += ["--diskspace", f"{soft}:{spec.disk_hard_kib}"]
    if spec.description:
        args += ["--description", spec.description]
    for address in spec.ip_addresses:
        args += ["--ipadd", address]
    for iface in spec.interfaces:
        netif = ",".join(
            [iface.guest_dev, iface.guest_mac, iface.host_dev, iface.host_mac]
            + ([iface.bridge] if iface.bridge else [])
        )
        args += ["--netif_add", netif]
    return args


def plan_define(spec: ContainerSpec, *, vswap: bool) -> list[Step]:
    """create from the template, then one set --save with every setting."""
    veid = str(spec.veid)
    create = ["--quiet", "create", veid, "--ostemplate", validate_template(spec.ostemplate)]
    if spec.hostname:
        create += ["--hostname", validate_hostname(spec.hostname)]
    steps = [Step(tuple(create), "create")]
    settings = settings_args(spec, vswap=vswap)
    if settings:
        steps.append(Step(("--quiet", "set", veid, *settings, "--save"), "set"))
    return steps


def next_guest_dev(interfaces: list[Interface]) -> int:
    """N of the next ethN: one past the highest existing (as libvirt numbers them)."""
    numbers = [int(m.group(1)) for i in interfaces if (m := _GUEST_IF.match(i.guest_dev))]
    return max(numbers, default=-1) + 1
