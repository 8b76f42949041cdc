"""Parsing `vzctl set` options into config changes and live actions (openvz-tools.md §1.3)."""

from __future__ import annotations

import re

from vzsim import network, ubc
from vzsim.console import VzError
from vzsim.context import Context

UBC_OPTIONS = ubc.BYTE_PARAMS + ubc.PAGE_PARAMS + ubc.ITEM_PARAMS
YES_NO = ("yes", "no")
# Plain options: option -> (config key, validator name); validators below.
PLAIN_OPTIONS: dict[str, tuple[str, str]] = {
    "onboot": ("ONBOOT", "yesno"),
    "disabled": ("DISABLED", "yesno"),
    "diskquota": ("DISK_QUOTA", "yesno"),
    "bootorder": ("BOOTORDER", "uint"),
    "description": ("DESCRIPTION", "any"),
    "hostname": ("HOSTNAME", "any"),
    "ostemplate": ("OSTEMPLATE", "any"),
    "root": ("VE_ROOT", "any"),
    "private": ("VE_PRIVATE", "any"),
    "cpuunits": ("CPUUNITS", "cpuunits"),
    "cpus": ("CPUS", "uint"),
    "cpumask": ("CPUMASK", "any"),
    "nodemask": ("NODEMASK", "any"),
    "ioprio": ("IOPRIO", "ioprio"),
    "iolimit": ("IOLIMIT", "any"),
    "iopslimit": ("IOPSLIMIT", "uint"),
    "stop-timeout": ("STOP_TIMEOUT", "uint"),
    "mount_opts": ("MOUNT_OPTS", "any"),
    "quotatime": ("QUOTATIME", "uint"),
    "quotaugidlimit": ("QUOTAUGIDLIMIT", "uint"),
    "meminfo": ("MEMINFO", "meminfo"),
    "netfilter": ("NETFILTER", "netfilter"),
    "vm_overcommit": ("VM_OVERCOMMIT", "float"),
    "local_uid": ("LOCAL_UID", "uint"),
    "local_gid": ("LOCAL_GID", "uint"),
}
LIST_MERGE_OPTIONS = {"features": "FEATURES", "capability": "CAPABILITY"}
LIST_ADD_OPTIONS = {
    "iptables": "IPTABLES",
    "devices": "DEVICES",
    "devnodes": "DEVNODES",
    "netdev_add": "NETDEV",
    "pci_add": "PCI",
}
LIST_DEL_OPTIONS = {"netdev_del": "NETDEV", "pci_del": "PCI"}
VETH_EDIT_OPTIONS = ("mac", "host_ifname", "host_mac", "bridge", "mac_filter")
# Options whose change needs a restart of a running CT (openvz-tools.md §1.4).
RESTART_KEYS = {
    "CAPABILITY": "capability",
    "IPTABLES": "iptables",
    "NETFILTER": "netfilter",
    "FEATURES": "features",
    "QUOTAUGIDLIMIT": "quotaugidlimit",
    "DISK_QUOTA": "diskquota",
    "MOUNT_OPTS": "mount_opts",
}
CPU_KEYS = ("CPUUNITS", "CPULIMIT", "CPUS", "CPUMASK", "NODEMASK")
CONFIGURE_KEYS = ("HOSTNAME", "NAMESERVER", "SEARCHDOMAIN")
FEATURES_MODERN = ("sysfs", "nfs", "sit", "ipip", "ppp", "ipgre", "bridge", "nfsd")
FEATURES_LEGACY = ("sysfs", "nfs", "sit", "ipip")

SET_OPTIONS: dict[str, bool] = {
    **{name: True for name in PLAIN_OPTIONS},
    **{name: True for name in UBC_OPTIONS},
    **{name: True for name in LIST_MERGE_OPTIONS},
    **{name: True for name in LIST_ADD_OPTIONS},
    **{name: True for name in LIST_DEL_OPTIONS},
    **{name: True for name in VETH_EDIT_OPTIONS},
    **{
        name: True
        for name in (
            "ram",
            "swap",
            "diskspace",
            "diskinodes",
            "cpulimit",
            "ipadd",
            "ipdel",
            "nameserver",
            "searchdomain",
            "netif_add",
            "netif_del",
            "ifname",
            "name",
            "userpasswd",
            "applyconfig",
            "applyconfig_map",
            "setmode",
        )
    },
    "save": False,
    "force": False,
    "reset_ub": False,
}
SHORT_OPTIONS = {
    "p": "numproc",
    "n": "numfile",
    "f": "numflock",
    "t": "numpty",
    "i": "numsiginfo",
    "e": "numiptent",
}


class SetRequest:
    """What one `vzctl set` asks for: config changes plus the live work they imply."""

    def __init__(self) -> None:
        self.changes: dict[str, str] = {}
        self.ips_added: list[str] = []
        self.ips_deleted: list[str] = []
        self.veths_added: list[str] = []
        self.veths_deleted: list[str] = []
        self.name: str | None = None
        self.userpasswd: str | None = None
        self.apply_name_map = False


def bad(option: str, value: str) -> VzError:
    return VzError(21, f"Bad parameter for --{option}: {value}")


def _validated(option: str, kind: str, value: str) -> str:
    ok = {
        "yesno": value in YES_NO,
        "uint": value.isdigit(),
        "cpuunits": value.isdigit() and 8 <= int(value) <= 500000,
        "ioprio": value.isdigit() and 0 <= int(value) <= 7,
        "netfilter": value in ("disabled", "stateless", "stateful", "full"),
        "meminfo": value == "none" or bool(re.fullmatch(r"(pages|privvmpages):\d+", value)),
        "float": bool(re.fullmatch(r"\d+(\.\d+)?", value)),
        "any": True,
    }[kind]
    if not ok:
        raise bad(option, value)
    return value


def _merge_switches(current: str, value: str, option: str, known: tuple[str, ...] | None) -> str:
    entries = dict(item.split(":", 1) for item in current.split() if ":" in item)
    for item in value.replace(",", " ").split():
        name, _, state = item.partition(":")
        if state not in ("on", "off") or (known is not None and name not in known):
            raise bad(option, value)
        entries[name.upper() if option == "capability" else name] = state
    return " ".join(f"{name}:{state}" for name, state in entries.items())


def parse_request(ctx: Context, host_cpus: int) -> SetRequest:
    modern = not ctx.personality.is_legacy
    ct = ctx.ct
    request = SetRequest()
    changes = request.changes
    ips = ct.ip_list()
    devices = network.parse_netif(ct.value("NETIF"))
    netif_touched = False
    dns: dict[str, list[str]] = {}
    for option, value in ctx.options:
        if option in PLAIN_OPTIONS:
            key, kind = PLAIN_OPTIONS[option]
            changes[key] = _validated(option, kind, value)
        elif option in UBC_OPTIONS:
            try:
                barrier, limit = ubc.parse_pair(value, ubc.unit_of(option), modern)
            except ubc.BadValue as error:
                raise bad(option, value) from error
            changes[option.upper()] = ubc.format_pair(barrier, limit, modern)
        elif option in ("ram", "swap"):
            try:
                pages = ubc.parse_number(value, "pages", modern)
            except ubc.BadValue as error:
                raise bad(option, value) from error
            key = "PHYSPAGES" if option == "ram" else "SWAPPAGES"
            changes[key] = f"0:{ubc.format_number(pages, modern)}"
        elif option in ("diskspace", "diskinodes"):
            unit = "kb" if option == "diskspace" else "items"
            try:
                soft, hard = ubc.parse_pair(value, unit, modern)
            except ubc.BadValue as error:
                raise bad(option, value) from error
            changes[option.upper()] = f"{soft}:{hard}"
        elif option == "cpulimit":
            number = value.removesuffix("%")
            if not number.isdigit():
                raise bad(option, value)
            changes["CPULIMIT"] = str(
                int(number) * host_cpus if value.endswith("%") else int(number)
            )
        elif option == "ipadd":
            address = network.validate_ip(value)
            if network.bare_ip(address) == "0.0.0.0":
                continue
            if network.bare_ip(address) not in {network.bare_ip(ip) for ip in ips}:
                ips.append(address)
                request.ips_added.append(address)
            changes["IP_ADDRESS"] = " ".join(ips)
        elif option == "ipdel":
            if value == "all":
                request.ips_deleted.extend(ips)
                ips = []
            else:
                network.validate_ip(value)
                kept = [ip for ip in ips if network.bare_ip(ip) != network.bare_ip(value)]
                request.ips_deleted.extend(ip for ip in ips if ip not in kept)
                ips = kept
            changes["IP_ADDRESS"] = " ".join(ips)
        elif option in ("nameserver", "searchdomain"):
            if option == "nameserver" and value != "inherit":
                network.validate_ip(value)
            dns.setdefault(option, []).append(value)
            changes[option.upper()] = " ".join(dns[option])
        elif option in LIST_MERGE_OPTIONS:
            key = LIST_MERGE_OPTIONS[option]
            known = None
            if option == "features":
                known = FEATURES_MODERN if modern else FEATURES_LEGACY
            changes[key] = _merge_switches(changes.get(key, ct.value(key)), value, option, known)
        elif option in LIST_ADD_OPTIONS:
            key = LIST_ADD_OPTIONS[option]
            items = changes.get(key, ct.value(key)).split()
            for item in value.replace(",", " ").split():
                if item not in items:
                    items.append(item)
            changes[key] = " ".join(items)
        elif option in LIST_DEL_OPTIONS:
            key = LIST_DEL_OPTIONS[option]
            items = changes.get(key, ct.value(key)).split()
            changes[key] = " ".join(item for item in items if item != value)
        elif option == "netif_add":
            device = network.netif_from_add(
                ct.ctid, value, ctx.host.global_value("HOSTNAME", "host"), modern
            )
            devices = [d for d in devices if d["ifname"] != device["ifname"]] + [device]
            request.veths_added.append(device["host_ifname"])
            netif_touched = True
        elif option == "netif_del":
            doomed = devices if value == "all" else [d for d in devices if d["ifname"] == value]
            request.veths_deleted.extend(
                d.get("host_ifname") or network.host_ifname(ct.ctid, d["ifname"]) for d in doomed
            )
            devices = [d for d in devices if d not in doomed]
            netif_touched = True
        elif option == "name":
            request.name = value
        elif option == "userpasswd":
            if ":" not in value or value.startswith(":"):
                raise bad(option, value)
            request.userpasswd = value
        elif option == "applyconfig_map":
            if value != "name":
                raise bad(option, value)
            request.apply_name_map = True
    if ctx.has("ifname"):
        devices = _edit_veth(ctx, devices)
        netif_touched = True
    if netif_touched:
        changes["NETIF"] = network.format_netif(devices)
    return request


def _edit_veth(ctx: Context, devices: list[dict[str, str]]) -> list[dict[str, str]]:
    ifname = ctx.last("ifname") or ""
    matching = [d for d in devices if d["ifname"] == ifname]
    if not matching:
        raise VzError(
            20,
            f"Invalid usage: veth device {ifname} is not configured, use --netif_add option first",
        )
    device = matching[0]
    for option in VETH_EDIT_OPTIONS:
        value = ctx.last(option)
        if value is None:
            continue
        if option in ("mac", "host_mac"):
            if len(value) != 17:
                raise VzError(21, "Invalid container MAC address length")
            value = value.upper()
        if option == "mac_filter" and value not in ("on", "off"):
            raise bad(option, value)
        device[option] = value
    return devices
