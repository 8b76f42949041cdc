"""From a ContainerSpec to vzctl runs: a define is `create` from the template
(or, for an existing directory, a config copied from the sample) then one
`set ... --save`; a change is one `set` with only the options that differ.

The memory mapping lives here once, for define, update and SetMemoryParameters:
on a VSwap host memory is --ram, swap_hard_limit - memory is --swap and
min_guarantee is --vmguarpages' barrier; soft_limit has no VSwap counterpart
(PHYSPAGES' barrier is always 0) and is refused. On a UBC host memory and
soft_limit are --privvmpages' limit and barrier, min_guarantee --vmguarpages',
as libvirt's driver sets them (openvz-tools.md §10); swap_hard_limit is refused.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass

from openvzd.vz.conffile import updated_text
from openvzd.vz.errors import bad_argument
from openvzd.vz.spec import (
    ContainerSpec,
    Interface,
    validate_hostname,
    validate_nameserver,
    validate_search_domain,
    validate_template,
)
from openvzd.vz.units import PAGE_SIZE

Setting = tuple[str, str]

# What `set` takes to undo an option the new spec no longer has. Options not
# listed (memory, CPUs, CPU units, hostname) keep the container's value: "not
# set" in a spec means "as the sample config or vzctl's defaults give it".
RESET_VALUES = {
    "--cpulimit": "0",
    "--description": "",
    "--diskspace": "unlimited",
    "--vmguarpages": "0:unlimited",
}
NETIF_EDIT_FIELDS = (("guest_mac", "--mac"), ("host_mac", "--host_mac"), ("bridge", "--bridge"))


@dataclass(frozen=True, slots=True)
class Step:
    """One vzctl run of a plan; `operation` picks its timeout."""

    args: tuple[str, ...]
    operation: str


def _pages(kib: int) -> int:
    return -(-kib * 1024 // PAGE_SIZE)


def memory_settings(spec: ContainerSpec, *, vswap: bool, strict: bool = True) -> list[Setting]:
    """The set options for spec's memory on this kind of host. strict refuses
    what the host cannot honour; without it (a container's current settings)
    those parts are left out."""
    settings: list[Setting] = []
    if vswap:
        if spec.memory_soft_kib and strict:
            raise bad_argument(
                "<memtune><soft_limit>: a VSwap host has no soft memory limit (RAM is a hard "
                "limit, PHYSPAGES' barrier is always 0); remove it or make it equal to the hard "
                "limit"
            )
        if spec.memory_kib:
            swap = max(spec.swap_hard_limit_kib - spec.memory_kib, 0)
            settings += [("--ram", f"{spec.memory_kib}K"), ("--swap", f"{swap}K")]
    else:
        if spec.swap_hard_limit_kib > spec.memory_kib and strict:
            raise bad_argument(
                "<memtune><swap_hard_limit>: this host has no VSwap, so OpenVZ cannot limit "
                "swap; remove it"
            )
        if spec.memory_kib:
            hard = _pages(spec.memory_kib)
            soft = _pages(spec.memory_soft_kib) if spec.memory_soft_kib else hard
            settings.append(("--privvmpages", f"{soft}:{hard}"))
    if spec.min_guarantee_kib:
        settings.append(("--vmguarpages", f"{_pages(spec.min_guarantee_kib)}:unlimited"))
    return settings


def _scalar_settings(spec: ContainerSpec, *, vswap: bool, strict: bool = True) -> list[Setting]:
    settings = memory_settings(spec, vswap=vswap, strict=strict)
    if spec.vcpus:
        settings.append(("--cpus", str(spec.vcpus)))
    if spec.cpu_shares:
        settings.append(("--cpuunits", str(spec.cpu_shares)))
    if spec.cpu_limit_percent:
        settings.append(("--cpulimit", str(spec.cpu_limit_percent)))
    if spec.disk_hard_kib:
        soft = spec.disk_soft_kib or spec.disk_hard_kib
        settings.append(("--diskspace", f"{soft}:{spec.disk_hard_kib}"))
    if spec.description:
        settings.append(("--description", spec.description))
    return settings


def netif_add_value(iface: Interface) -> str:
    parts = [iface.guest_dev, iface.guest_mac, iface.host_dev, iface.host_mac]
    return ",".join(parts + ([iface.bridge] if iface.bridge else []))


def _flatten(settings: Iterable[Setting]) -> list[str]:
    return [part for setting in settings for part in setting]


def _dns_args(spec: ContainerSpec) -> list[str]:
    """One `set` replaces NAMESERVER and SEARCHDOMAIN with the values it names."""
    args: list[str] = []
    for server in spec.nameservers:
        args += ["--nameserver", validate_nameserver(server)]
    for domain in spec.search_domains:
        args += ["--searchdomain", validate_search_domain(domain)]
    return args


def settings_args(spec: ContainerSpec, *, vswap: bool) -> list[str]:
    """vzctl set options that give a created container the spec's settings."""
    args = _flatten(_scalar_settings(spec, vswap=vswap))
    if spec.private_dir and spec.hostname:
        args += ["--hostname", validate_hostname(spec.hostname)]
    args += _dns_args(spec)
    for address in spec.ip_addresses:
        args += ["--ipadd", address]
    for iface in spec.interfaces:
        args += ["--netif_add", netif_add_value(iface)]
    return args


def plan_define(spec: ContainerSpec, *, vswap: bool) -> list[Step]:
    """create from the template, then one set --save with every setting. A
    spec with private_dir has no create: the daemon writes its config from the
    sample first (mount_config), as libvirt does for type='mount'."""
    veid = str(spec.veid)
    steps = []
    if not spec.private_dir:
        create = ["--quiet", "create", veid, "--ostemplate", validate_template(spec.ostemplate)]
        if spec.hostname:
            create += ["--hostname", validate_hostname(spec.hostname)]
        steps.append(Step(tuple(create), "create"))
    settings = settings_args(spec, vswap=vswap)
    if settings:
        steps.append(Step(("--quiet", "set", veid, *settings, "--save"), "set"))
    return steps


def mount_config(sample_text: str, spec: ContainerSpec) -> str:
    """CTID.conf of a container that uses an existing directory: the sample's
    lines with VE_PRIVATE set and no OSTEMPLATE (which is how dumpxml tells a
    mount from a template container)."""
    return updated_text(sample_text, {"VE_PRIVATE": spec.private_dir, "OSTEMPLATE": None})


def _interface_args(old: list[Interface], new: list[Interface]) -> list[str]:
    before = {iface.guest_dev: iface for iface in old}
    after = {iface.guest_dev: iface for iface in new}
    args: list[str] = []
    for dev in before.keys() - after.keys():
        args += ["--netif_del", dev]
    edits: list[list[str]] = []
    for dev, iface in after.items():
        previous = before.get(dev)
        if previous is None:
            args += ["--netif_add", netif_add_value(iface)]
            continue
        if previous.host_dev != iface.host_dev:
            raise bad_argument(
                f"the host end of {dev} is {previous.host_dev}; it cannot be renamed"
            )
        edit = [
            part
            for attribute, option in NETIF_EDIT_FIELDS
            if getattr(previous, attribute) != getattr(iface, attribute)
            for part in (option, getattr(iface, attribute))
        ]
        if edit:
            edits.append(["--ifname", dev, *edit])
    if len(edits) > 1:
        raise bad_argument("vzctl changes one interface per call; update them one at a time")
    return args + (edits[0] if edits else [])


def _memory_of(spec: ContainerSpec) -> tuple[int, int, int, int]:
    return (
        spec.memory_kib,
        spec.memory_soft_kib,
        spec.swap_hard_limit_kib,
        spec.min_guarantee_kib,
    )


def plan_update(old: ContainerSpec, new: ContainerSpec, *, vswap: bool) -> list[str]:
    """vzctl set options that turn a container with spec old into new, naming
    only what differs (an empty list: nothing to do)."""
    if (old.ostemplate, old.private_dir) != (new.ostemplate, new.private_dir):
        raise bad_argument(
            "the root filesystem of an existing container cannot change (its template or "
            "directory); define a new container instead"
        )
    # A container's memory as it is may be what this host could not set (a UBC
    # config on a VSwap kernel); only a change to it has to be possible.
    memory_changed = _memory_of(old) != _memory_of(new)
    before = dict(_scalar_settings(old, vswap=vswap, strict=False))
    after = dict(_scalar_settings(new, vswap=vswap, strict=memory_changed))
    args: list[str] = []
    for option, value in after.items():
        if before.get(option) != value:
            args += [option, value]
    for option in before.keys() - after.keys():
        if option in RESET_VALUES:
            args += [option, RESET_VALUES[option]]
    if new.hostname and new.hostname != old.hostname:
        args += ["--hostname", validate_hostname(new.hostname)]
    # Unset ones keep the container's, as the host name does.
    if new.nameservers and new.nameservers != old.nameservers:
        args += _dns_args(ContainerSpec(new.veid, nameservers=new.nameservers))
    if new.search_domains and new.search_domains != old.search_domains:
        args += _dns_args(ContainerSpec(new.veid, search_domains=new.search_domains))
    for address in old.ip_addresses:
        if address not in new.ip_addresses:
            args += ["--ipdel", address]
    for address in new.ip_addresses:
        if address not in old.ip_addresses:
            args += ["--ipadd", address]
    return args + _interface_args(old.interfaces, new.interfaces)


def with_memory(
    spec: ContainerSpec,
    *,
    hard_kib: int | None = None,
    soft_kib: int | None = None,
    swap_hard_kib: int | None = None,
    min_guarantee_kib: int | None = None,
) -> ContainerSpec:
    """spec with the given memory parameters changed (None keeps one). A new
    hard limit without a new swap_hard_limit keeps the amount of swap, as
    `virsh memtune --hard-limit` alone would expect."""
    changed = dataclasses.replace(spec, interfaces=list(spec.interfaces))
    if hard_kib is not None:
        if swap_hard_kib is None and spec.swap_hard_limit_kib:
            changed.swap_hard_limit_kib = spec.swap_hard_limit_kib - spec.memory_kib + hard_kib
        changed.memory_kib = hard_kib
    if soft_kib is not None:
        changed.memory_soft_kib = 0 if soft_kib == changed.memory_kib else soft_kib
    if swap_hard_kib is not None:
        changed.swap_hard_limit_kib = swap_hard_kib
    if min_guarantee_kib is not None:
        changed.min_guarantee_kib = min_guarantee_kib
    check_memory(changed)
    return changed


def check_memory(spec: ContainerSpec) -> None:
    """The relations between the memory parameters that hold on every host."""
    if spec.memory_soft_kib and spec.memory_soft_kib > spec.memory_kib:
        raise bad_argument("<memtune><soft_limit> may not exceed the hard limit (<memory>)")
    if spec.swap_hard_limit_kib and spec.swap_hard_limit_kib < spec.memory_kib:
        raise bad_argument(
            "<memtune><swap_hard_limit> is memory plus swap; it may not be below <memory>"
        )
    if spec.swap_hard_limit_kib and not spec.memory_kib:
        raise bad_argument("<memtune><swap_hard_limit> needs <memory> (it is memory plus swap)")
