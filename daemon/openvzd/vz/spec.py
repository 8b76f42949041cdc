"""ContainerSpec: what a container should be, and how it is read from its config.

Memory rule (so that dumpxml defines the same container again): on a VSwap host
memory is PHYSPAGES' limit and swap_hard_limit is memory + SWAPPAGES' limit; on
a UBC-only host memory is PRIVVMPAGES' limit and soft_limit its barrier (when
lower). On both, min_guarantee is VMGUARPAGES' barrier, as libvirt maps it
(openvz-tools.md §10). All sizes here are KiB. vz/plan.py turns a spec into vzctl runs.
"""

from __future__ import annotations

import hashlib
import re
import uuid as uuidlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from openvzd.vz.conffile import expand_veid
from openvzd.vz.errors import ErrorKind, VzError, bad_argument
from openvzd.vz.grammar import (
    validate_bridge,
    validate_hostname,
    validate_interface_name,
    validate_ip,
    validate_mac,
    validate_nameserver,
    validate_private_dir,
    validate_search_domain,
    validate_template,
    validate_user_name,
)
from openvzd.vz.units import LONG_MAX, PAGE_SIZE, parse_pair

MAX_VEID = 2147483644
LAST_RESERVED_VEID = 100
INT32_MAX = 2147483647
UUID_NAMESPACE = uuidlib.UUID("6b1d6e1c-8e4a-4b8c-9d52-4f0b1f6a0d11")
_GUEST_IF = re.compile(r"eth([0-9]{1,4})\Z")
_HOST_IF = re.compile(r"veth([0-9]{1,10})\.([0-9]{1,4})\Z")
# ASCII digits only (str.isdigit() takes '²', which int() refuses), and few enough
# that int() converts them: nothing the driver reads as a number needs more.
_WHOLE = re.compile(r"[0-9]{1,19}\Z")
MAX_TITLE = 1024

# The grammars live in vz/grammar.py; the daemon imports them from here too.
__all__ = [
    "validate_bridge",
    "validate_hostname",
    "validate_interface_name",
    "validate_ip",
    "validate_mac",
    "validate_nameserver",
    "validate_private_dir",
    "validate_search_domain",
    "validate_template",
    "validate_user_name",
]


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
    """0 or "" means "not set": the container keeps what its sample config or
    vzctl's defaults give. A container is made from `ostemplate`, or (a
    filesystem type='mount') uses the existing directory `private_dir`."""

    veid: int
    uuid: str = ""
    title: str = ""
    description: str = ""
    hostname: str = ""
    ostemplate: str = ""
    private_dir: str = ""
    memory_kib: int = 0
    memory_soft_kib: int = 0
    min_guarantee_kib: int = 0
    swap_hard_limit_kib: int = 0
    vcpus: int = 0
    cpu_shares: int = 0
    cpu_limit_percent: int = 0
    disk_soft_kib: int = 0
    disk_hard_kib: int = 0
    ip_addresses: list[str] = field(default_factory=list)
    interfaces: list[Interface] = field(default_factory=list)
    # NAMESERVER and SEARCHDOMAIN, in their order; "inherit" takes the host's.
    nameservers: list[str] = field(default_factory=list)
    search_domains: list[str] = field(default_factory=list)


def whole_number(text: str) -> int | None:
    """text as a whole number written in ASCII digits, or None."""
    return int(text) if _WHOLE.match(text) else None


def validate_veid(veid: int) -> int:
    """IDs 1..MAX_VEID. 0 is refused: it is the host itself (CT0). 1-100 are reserved
    only by convention (vzctl accepts them, and libvirt's own example uses 100)."""
    if veid == 0:
        raise bad_argument("container ID 0 is the host itself (CT0); choose 101 or above")
    if veid < 0 or veid > MAX_VEID:
        raise bad_argument(f"container ID {veid} is outside 1..{MAX_VEID}")
    return veid


def check_new_container(spec: ContainerSpec, uuids: Mapping[int, str]) -> None:
    """What a define may not take that the XML alone cannot show: an ID vzctl(8)
    reserves, or a UUID another container has (uuids: each container's)."""
    if spec.veid <= LAST_RESERVED_VEID:
        raise bad_argument(
            f"container ID {spec.veid} is reserved: vzctl(8) keeps IDs 1-{LAST_RESERVED_VEID} "
            f"for OpenVZ's own use; use {LAST_RESERVED_VEID + 1} or above in <name>"
        )
    for veid, uuid in sorted(uuids.items()):
        if veid != spec.veid and uuid == spec.uuid:
            raise VzError(
                ErrorKind.ALREADY_EXISTS,
                f"<uuid>{spec.uuid}</uuid> is container {veid}'s; two containers cannot share "
                "one UUID: give another, or leave <uuid> out for a new one",
            )


def validate_text(text: str, what: str) -> str:
    if any(ch in text for ch in '\n\r\x00"\\`$') or len(text) > 1024:
        raise bad_argument(
            f"{what} may not contain newlines, NUL, quotes, '\\', '`' or '$' "
            "(and at most 1024 characters)"
        )
    return text


def validate_title(text: str) -> str:
    """A title is one line (libvirt's schema: [^\\n]+); it lives in a config comment."""
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in text) or len(text) > MAX_TITLE:
        raise bad_argument(
            f"<title> must be one line of at most {MAX_TITLE} characters without control "
            "characters (tabs, newlines)"
        )
    return text.strip()


def validate_guest_dev(name: str) -> int:
    """N of a guest device ethN: its host end is vethCTID.N (openvz-tools.md §6.1)."""
    match = _GUEST_IF.match(name)
    if not match:
        raise bad_argument(
            f"<guest dev={name!r}> must be ethN (eth0, eth1, ...): the host end is named "
            "vethCTID.N after it"
        )
    return int(match.group(1))


def default_host_dev_number(name: str, veid: int) -> int | None:
    """N when name is vzctl's default host end vethCTID.N of container veid's ethN."""
    match = _HOST_IF.match(name)
    if not match or int(match.group(1)) != veid:
        return None
    return int(match.group(2))


def host_dev_owners(configs: Mapping[int, Mapping[str, str]]) -> dict[str, int]:
    """Each host-side veth name in use, by the container whose NETIF names it
    (or whose ethN vzctl names vethCTID.N)."""
    return {
        iface.host_dev: veid
        for veid, values in configs.items()
        for iface in parse_netif(values.get("NETIF", ""), veid)
        if iface.host_dev
    }


def check_host_devs_free(spec: ContainerSpec, configs: Mapping[int, Mapping[str, str]]) -> None:
    """Refuse a veth host name another container already uses: two containers
    cannot both have the host end of one veth pair."""
    owners = host_dev_owners({veid: v for veid, v in configs.items() if veid != spec.veid})
    for iface in spec.interfaces:
        owner = owners.get(iface.host_dev)
        if owner is not None:
            raise VzError(
                ErrorKind.ALREADY_EXISTS,
                f"<target dev='{iface.host_dev}'> is the host end of an interface of container "
                f"{owner}; choose another name, or leave <target> out for "
                f"veth{spec.veid}.N",
            )


def derived_host_mac(veid: int, guest_dev: str, guest_mac: str) -> str:
    """The host end's MAC: OpenVZ's 00:18:51 prefix, stable for the same
    container, device and guest MAC (so dumpxml -> define makes the same pair),
    and never equal to the guest MAC."""
    for salt in range(16):
        digest = hashlib.sha256(f"{veid}:{guest_dev}:{guest_mac}:{salt}".encode()).digest()
        mac = "00:18:51:" + ":".join(f"{byte:02X}" for byte in digest[:3])
        if mac != guest_mac.upper():
            return mac
    raise AssertionError("sixteen SHA-256 digests gave the guest's own MAC")


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
    # vzctl before 3.0.29 wrote "unlimited" as LONG_MAX of the machine that
    # wrote it: 2147483647 on 32-bit hosts (ve-vps.basic: PHYSPAGES="0:2147483647").
    return 0 if pages >= LONG_MAX or pages == INT32_MAX else pages * PAGE_SIZE // 1024


def parse_netif(text: str, veid: int = 0) -> list[Interface]:
    """NETIF: entries separated by ';', each 'key=value,...'. With veid, what
    vzctl fills in is filled in the same way (openvz-tools.md §6.2): a missing host_ifname
    is vethCTID.N, a missing host_mac copies mac."""
    interfaces = []
    for entry in text.split(";"):
        fields = dict(part.partition("=")[::2] for part in entry.split(",") if "=" in part)
        if "ifname" not in fields:
            continue
        guest_mac = fields.get("mac", "").upper()
        host_dev = fields.get("host_ifname", "")
        number = _GUEST_IF.match(fields["ifname"])
        if not host_dev and veid and number:
            host_dev = f"veth{veid}.{int(number.group(1))}"
        interfaces.append(
            Interface(
                guest_dev=fields["ifname"],
                guest_mac=guest_mac,
                host_dev=host_dev,
                host_mac=fields.get("host_mac", "").upper() or (guest_mac if veid else ""),
                bridge=fields.get("bridge", ""),
            )
        )
    return interfaces


def _memory_from_config(values: Mapping[str, str], spec: ContainerSpec) -> None:
    spec.min_guarantee_kib = _pages_kib(values, "VMGUARPAGES", False)
    if _pages_kib(values, "PHYSPAGES", True):
        spec.memory_kib = _pages_kib(values, "PHYSPAGES", True)
        spec.swap_hard_limit_kib = spec.memory_kib + _pages_kib(values, "SWAPPAGES", True)
        return
    barrier = _pages_kib(values, "PRIVVMPAGES", False)
    limit = _pages_kib(values, "PRIVVMPAGES", True)
    spec.memory_kib = limit or barrier
    if barrier and limit and barrier < limit:
        spec.memory_soft_kib = barrier


def spec_from_config(
    values: Mapping[str, str], veid: int, uuid: str, title: str = ""
) -> ContainerSpec:
    """The spec of an existing container from its CTID.conf values. A container
    without OSTEMPLATE uses its VE_PRIVATE as it is (libvirt's type='mount')."""
    soft = hard = 0
    if values.get("DISKSPACE"):
        try:
            soft, hard = parse_pair(values["DISKSPACE"], unit=1024)
        except ValueError:
            soft = hard = 0

    def number(key: str) -> int:
        raw = values.get(key, "")
        return int(raw) if _WHOLE.match(raw) else 0

    ostemplate = values.get("OSTEMPLATE", "")
    private = values.get("VE_PRIVATE", "") if not ostemplate else ""
    spec = ContainerSpec(
        veid=veid,
        uuid=uuid,
        title=title,
        description=values.get("DESCRIPTION", ""),
        hostname=values.get("HOSTNAME", ""),
        ostemplate=ostemplate,
        private_dir=expand_veid(private, veid) if private else "",
        vcpus=number("CPUS"),
        cpu_shares=number("CPUUNITS"),
        cpu_limit_percent=number("CPULIMIT"),
        disk_soft_kib=0 if soft >= LONG_MAX else soft,
        disk_hard_kib=0 if hard >= LONG_MAX else hard,
        ip_addresses=values.get("IP_ADDRESS", "").split(),
        interfaces=parse_netif(values.get("NETIF", ""), veid),
        nameservers=values.get("NAMESERVER", "").split(),
        search_domains=values.get("SEARCHDOMAIN", "").split(),
    )
    _memory_from_config(values, spec)
    return spec


def next_guest_dev(interfaces: list[Interface]) -> int:
    """N of the next ethN: one past the highest existing (as libvirt numbers them)."""
    numbers = [int(m.group(1)) for i in interfaces if (m := _GUEST_IF.match(i.guest_dev))]
    return max(numbers, default=-1) + 1
