"""ovzsh's commands that virsh users reach for beyond the basics, in virsh's formats:
CPUs (vcpucount, maxvcpus, vcpuinfo), memory (dommemstat, setmaxmem), devices
(domblklist, domblkstat, domiflist, domifaddr), desc, edit, and the host's
sysinfo, nodememstats, nodecpustats and freecell.

setmaxmem, `desc --new-desc` and edit change the container by defining its XML
again, as virsh does (docs/libvirt-semantics.md).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from openvz.cli.base import DOMAIN, JSON, command, connect, kib, named, print_json, say
from openvz.cli.base import lookup as _domain
from openvz.cli.commands import AFFECT, FLAG, table

if TYPE_CHECKING:
    from xml.etree import ElementTree

    from openvz.connection import Connection, Domain


# -- CPUs ------------------------------------------------------------------------------


@command(
    "vcpucount",
    "the container's CPU count, and the most it may be given (the host's CPUs)",
    [
        *DOMAIN,
        (("--maximum",), {**FLAG, "help": "the most it may be given"}),
        (("--active",), {**FLAG, "help": "the count it has"}),
        *AFFECT,
        *JSON,
    ],
)
def cmd_vcpucount(args: argparse.Namespace) -> None:
    from openvz.errors import InvalidArgument

    if args.maximum and args.active:
        raise InvalidArgument("Options --maximum and --active are mutually exclusive")
    if args.current and (args.live or args.config):
        raise InvalidArgument("Options --current and --live or --config are mutually exclusive")
    with connect(args) as conn:
        dom = _domain(conn, args)
        vcpus = dom.info().vcpus
        maximum = conn.node_info().cpus
    active = dom.message.id >= 0
    # OpenVZ keeps one count, applied live and saved at once: config and live agree.
    rows = [
        ("maximum", "config", maximum),
        ("maximum", "live", maximum),
        ("current", "config", vcpus),
        ("current", "live", vcpus),
    ]
    if not active:
        rows = [row for row in rows if row[1] != "live"]
    if args.json:
        print_json({f"{which}_{where}": count for which, where, count in rows})
        return
    if args.maximum or args.active or args.live or args.config or args.current:
        which = "maximum" if args.maximum else "current"
        where = "config" if args.config or (args.current and not active) else "live"
        if where == "live" and not active:
            from openvz.errors import WrongState

            raise WrongState(f"domain '{dom.name()}' is not running: it has no live count")
        print(next(count for w, place, count in rows if w == which and place == where))
        return
    for which, where, count in rows:
        print(f"{which:<12} {where:<12} {count:3d}")


@command(
    "maxvcpus",
    "the most CPUs a container may be given on this host",
    [
        (("--type",), {"help": "accepted for virsh's sake: openvz"}),
        *JSON,
    ],
)
def cmd_maxvcpus(args: argparse.Namespace) -> None:
    from openvz.errors import InvalidArgument

    if args.type not in (None, "openvz", "OpenVZ"):
        raise InvalidArgument(f"unknown type '{args.type}': this host runs openvz")
    with connect(args) as conn:
        cpus = conn.node_info().cpus
    print_json({"maxvcpus": cpus}) if args.json else print(cpus)


@command(
    "vcpuinfo",
    "the container's CPUs: state and affinity (it may run on any host CPU)",
    [*DOMAIN, (("--pretty",), {**FLAG, "help": "affinity as a CPU list"}), *JSON],
)
def cmd_vcpuinfo(args: argparse.Namespace) -> None:
    with connect(args) as conn:
        dom = _domain(conn, args)
        vcpus = dom.info().vcpus
        host_cpus = conn.node_info().cpus
    state = "running" if dom.message.id >= 0 else "offline"
    # A container's processes run on every host CPU (no CPUMASK is set through openvzd).
    affinity = f"0-{host_cpus - 1}" if args.pretty and host_cpus > 1 else "y" * host_cpus
    if args.pretty and host_cpus == 1:
        affinity = "0"
    if args.json:
        print_json([{"vcpu": n, "state": state, "affinity": "y" * host_cpus} for n in range(vcpus)])
        return
    blocks = [
        f"{'VCPU:':<15} {n}\n{'State:':<15} {state}\n{'CPU Affinity:':<15} {affinity}\n"
        for n in range(vcpus)
    ]
    print("\n".join(blocks), end="")


# -- memory ----------------------------------------------------------------------------


@command("dommemstat", "the container's memory statistics, in KiB", [*DOMAIN, *JSON])
def cmd_dommemstat(args: argparse.Namespace) -> None:
    with connect(args) as conn:
        stats = _domain(conn, args).stats()
    limit, used = stats.memory_limit_kib, stats.memory_used_kib
    # virsh's tags: actual = the balloon (OpenVZ: the memory limit), rss = in use.
    values = {"actual": limit}
    if limit:
        values["unused"] = max(limit - used, 0)
        values["available"] = limit
    values["rss"] = used
    if args.json:
        print_json(values)
        return
    for tag, value in values.items():
        print(f"{tag} {value}")


def redefine(conn: Connection, dom: Domain, change: Callable[[ElementTree.Element], None]) -> None:
    """Define the container again from its persistent XML with change applied, as
    virsh's setmaxmem, desc and edit do through virDomainDefineXML (openvzd plans
    the difference as an update of the container)."""
    from xml.etree import ElementTree

    root = ElementTree.fromstring(dom.xml_desc(inactive=True))
    change(root)
    conn.define_xml(ElementTree.tostring(root, encoding="unicode"))


@command(
    "setmaxmem",
    "set the container's maximum memory (<memory>; KiB, or with a unit like 1G)",
    [*DOMAIN, *named("size"), *AFFECT],
)
def cmd_setmaxmem(args: argparse.Namespace) -> None:
    from xml.etree import ElementTree

    size = kib(args.size)

    def set_memory(root: ElementTree.Element) -> None:
        memory = root.find("memory")
        if memory is None:
            memory = ElementTree.SubElement(root, "memory")
        memory.attrib = {"unit": "KiB"}
        memory.text = str(size)
        # A container has no balloon: its allocation is its one limit, so openvzd
        # takes <currentMemory> only equal to <memory> (docs/libvirt-semantics.md).
        current = root.find("currentMemory")
        if current is not None:
            current.attrib = {"unit": "KiB"}
            current.text = str(size)

    with connect(args) as conn:
        redefine(conn, _domain(conn, args), set_memory)


# -- devices ---------------------------------------------------------------------------


def domain_xml(args: argparse.Namespace, inactive: bool = False) -> ElementTree.Element:
    from xml.etree import ElementTree

    with connect(args) as conn:
        return ElementTree.fromstring(_domain(conn, args).xml_desc(inactive=inactive))


@command(
    "domblklist",
    "the container's block devices (an OpenVZ container has filesystems, not disks)",
    [
        *DOMAIN,
        (("--inactive",), FLAG),
        (("--details",), {**FLAG, "help": "with the type and device columns"}),
        *JSON,
    ],
)
def cmd_domblklist(args: argparse.Namespace) -> None:
    disks = []
    for disk in domain_xml(args, args.inactive).iterfind("./devices/disk"):
        target, source = disk.find("target"), disk.find("source")
        where = ""
        if source is not None:
            where = next((v for k in ("file", "dev", "dir", "name") if (v := source.get(k))), "")
        disks.append(
            {
                "type": disk.get("type", ""),
                "device": disk.get("device", "disk"),
                "target": (target.get("dev") or "") if target is not None else "",
                "source": where,
            }
        )
    if args.json:
        print_json(disks)
        return
    keys = ["type", "device", "target", "source"] if args.details else ["target", "source"]
    rows = [[disk[k] or "-" for k in keys] for disk in disks]
    print(table([k.capitalize() for k in keys], rows), end="")


@command(
    "domblkstat",
    "block device statistics (an OpenVZ container has none: see domstats' disk.used)",
    [*DOMAIN, (("device",), {"nargs": "?"}), (("--human",), FLAG)],
)
def cmd_domblkstat(args: argparse.Namespace) -> None:
    from openvz.errors import NotSupported

    with connect(args) as conn:
        dom = _domain(conn, args)
    device = f" {args.device}" if args.device else ""
    raise NotSupported(
        f"Failed to get block stats {dom.name()}{device}\n"
        "error: an OpenVZ container has no block devices (domblklist lists none); "
        f"the use of its private area is disk.used in `ovzsh domstats {dom.name()}`"
    )


def with_prefix(address: str, prefix: str | None) -> str:
    """address/prefix as virsh prints it; venet's addresses are host routes."""
    return f"{address}/{prefix or (128 if ':' in address else 32)}"


def interfaces(root: ElementTree.Element) -> list[dict[str, str]]:
    """Each <interface>: host device, type, source, model, MAC, guest name, addresses."""
    found = []
    for interface in root.iterfind("./devices/interface"):

        def attr(tag: str, name: str, element: ElementTree.Element = interface) -> str:
            child = element.find(tag)
            return (child.get(name) or "") if child is not None else ""

        source = interface.find("source")
        where = ""
        if source is not None:
            where = next((v for k in ("bridge", "network", "dev") if (v := source.get(k))), "")
        found.append(
            {
                "interface": attr("target", "dev"),
                "type": interface.get("type", ""),
                "source": where,
                "model": attr("model", "type"),
                "mac": attr("mac", "address"),
                "guest": attr("guest", "dev"),
                "addresses": " ".join(
                    with_prefix(address, ip.get("prefix"))
                    for ip in interface.iterfind("ip")
                    if (address := ip.get("address"))
                ),
            }
        )
    return found


@command(
    "domiflist",
    "the container's network interfaces",
    [*DOMAIN, (("--inactive",), FLAG), *JSON],
)
def cmd_domiflist(args: argparse.Namespace) -> None:
    found = interfaces(domain_xml(args, args.inactive))
    if args.json:
        print_json(found)
        return
    header = ["Interface", "Type", "Source", "Model", "MAC"]
    keys = ["interface", "type", "source", "model", "mac"]
    print(table(header, [[i[k] or "-" for k in keys] for i in found]), end="")


@command(
    "domifaddr",
    "the container's addresses: venet's, and those set on its interfaces",
    [
        *DOMAIN,
        (("interface",), {"nargs": "?", "help": "only this interface (eth0, venet0)"}),
        (("--full",), {**FLAG, "help": "repeat the name and MAC on every line"}),
        (
            ("--source",),
            {"choices": ["lease", "agent", "arp"], "help": "accepted: openvzd reads the config"},
        ),
        *JSON,
    ],
)
def cmd_domifaddr(args: argparse.Namespace) -> None:
    rows: list[tuple[str, str, list[str]]] = []
    for found in interfaces(domain_xml(args)):
        # An ethernet interface without a target is a venet address: the guest sees venet0.
        name = found["guest"] or ("venet0" if found["type"] == "ethernet" else found["interface"])
        rows.append((name, found["mac"], found["addresses"].split()))
    merged: dict[str, tuple[str, list[str]]] = {}
    for name, mac, addresses in rows:  # venet's addresses are one device's
        mac_before, before = merged.get(name, (mac, []))
        merged[name] = (mac_before or mac, before + addresses)
    if args.interface:
        merged = {k: v for k, v in merged.items() if k == args.interface}
    if args.json:
        print_json([{"name": k, "mac": m, "addresses": a} for k, (m, a) in merged.items()])
        return
    # virsh's own layout, printed with its fixed widths.
    sys.stdout.write(
        f" {'Name':<10} {'MAC address':<20} {'Protocol':<8}     Address\n" + "-" * 79 + "\n"
    )
    for name, (mac, addresses) in merged.items():
        if not addresses:
            print(f" {name:<10} {mac:<17}    {'N/A':<12} N/A")
        for n, address in enumerate(addresses):
            protocol = "ipv6" if ":" in address else "ipv4"
            shown_name, shown_mac = (name, mac) if args.full or n == 0 else ("-", "-")
            print(f" {shown_name:<10} {shown_mac:<17}    {protocol:<12} {address}")


# -- description -----------------------------------------------------------------------


@command(
    "desc",
    "show or set the container's description (or --title)",
    [
        *DOMAIN,
        (("--title",), {**FLAG, "help": "the title instead of the description"}),
        (("--new-desc",), {"metavar": "TEXT", "help": "set it to TEXT"}),
        (("new_desc_words",), {"nargs": "*", "metavar": "TEXT", "help": "set it to TEXT"}),
        (("--edit",), {**FLAG, "help": "refused: give the new text instead"}),
        *AFFECT,
    ],
)
def cmd_desc(args: argparse.Namespace) -> None:
    from xml.etree import ElementTree

    from openvz.errors import InvalidArgument

    if args.edit:
        raise InvalidArgument("desc --edit is not offered: give the new text, or use `ovzsh edit`")
    tag = "title" if args.title else "description"
    new_text = args.new_desc if args.new_desc is not None else " ".join(args.new_desc_words)
    with connect(args) as conn:
        dom = _domain(conn, args)
        if args.new_desc is None and not args.new_desc_words:
            element = ElementTree.fromstring(dom.xml_desc(inactive=args.config)).find(tag)
            text = element.text if element is not None and element.text else ""
            print(text if text else f"No {tag} for domain: {dom.name()}")
            return

        def set_text(root: ElementTree.Element) -> None:
            element = root.find(tag)
            if element is None:
                element = ElementTree.Element(tag)
                # libvirt's order: name, uuid, title, description.
                after = (
                    [c.tag for c in root].index("uuid") + 1 if root.find("uuid") is not None else 1
                )
                root.insert(
                    after + (tag == "description" and root.find("title") is not None), element
                )
            element.text = new_text

        redefine(conn, dom, set_text)
    say(args, f"Domain {tag} updated successfully")


# -- edit ------------------------------------------------------------------------------


@command("edit", "edit the container's XML in $VISUAL or $EDITOR, then define it", DOMAIN)
def cmd_edit(args: argparse.Namespace) -> None:
    import os
    import shlex
    import subprocess
    import tempfile

    from openvz.errors import Error, InvalidArgument

    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    try:
        editor_argv = shlex.split(editor)
    except ValueError as err:
        raise InvalidArgument(f"cannot read the editor command {editor!r}: {err}") from None
    if not editor_argv:
        raise InvalidArgument("$VISUAL or $EDITOR names no editor")
    with connect(args) as conn:
        dom = _domain(conn, args)
        original = dom.xml_desc(inactive=True)
        with tempfile.TemporaryDirectory(prefix="ovzsh-edit-") as folder:
            path = os.path.join(folder, f"{dom.name()}.xml")
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(original)
            try:
                # Never a shell: the editor's own words, then the file.
                finished = subprocess.run([*editor_argv, path], check=False)
            except OSError as err:
                raise Error(f"cannot run the editor {editor_argv[0]!r}: {err.strerror}") from None
            if finished.returncode != 0:
                raise Error(
                    f"the editor {editor_argv[0]!r} exited with status {finished.returncode}; "
                    "nothing was changed"
                )
            from openvz.cli.base import read_file

            edited = read_file(path)
        if edited == original:
            say(args, f"Domain '{dom.name()}' XML configuration not changed.")
            return
        conn.define_xml(edited)
    say(args, f"Domain '{dom.name()}' XML configuration edited.")


# -- the host --------------------------------------------------------------------------


@command("sysinfo", "the host's system information as XML (from its CPU and memory)", JSON)
def cmd_sysinfo(args: argparse.Namespace) -> None:
    from xml.etree import ElementTree

    with connect(args) as conn:
        node = conn.node_info()
    if args.json:
        print_json({"processor": node.model, "cpus": node.cpus, "memory_kib": node.memory_kib})
        return
    root = ElementTree.Element("sysinfo", {"type": "smbios"})
    for _ in range(max(node.sockets, 1)):
        processor = ElementTree.SubElement(root, "processor")
        ElementTree.SubElement(processor, "entry", {"name": "version"}).text = node.model
        if node.mhz:
            ElementTree.SubElement(
                processor, "entry", {"name": "max_speed"}
            ).text = f"{node.mhz} MHz"
    memory = ElementTree.SubElement(root, "memory_device")
    ElementTree.SubElement(memory, "entry", {"name": "size"}).text = f"{node.memory_kib // 1024} MB"
    ElementTree.indent(root)
    print(ElementTree.tostring(root, encoding="unicode"))


@command(
    "nodememstats",
    "the host's memory: total and free, in KiB",
    [(("cell",), {"nargs": "?", "type": int}), *JSON],
)
def cmd_nodememstats(args: argparse.Namespace) -> None:
    with connect(args) as conn:
        node = conn.node_info()
    check_cell(args.cell, node.nodes)
    values = {"total": node.memory_kib, "free": node.free_memory_kib}
    if args.json:
        print_json(values)
        return
    for name, value in values.items():
        print(f"{name:<7}: {value:12d} KiB")


def check_cell(cell: int | None, cells: int) -> None:
    """A NUMA cell's own figures: only the host's one cell, as openvzd has no per-cell."""
    from openvz.errors import InvalidArgument, NotSupported

    if cell is None or (cell == 0 and cells <= 1):
        return
    if cell < 0 or cell >= max(cells, 1):
        have = "one NUMA cell, 0" if cells <= 1 else f"NUMA cells 0 to {cells - 1}"
        raise InvalidArgument(f"cell {cell}: this host has {have}")
    raise NotSupported(f"the host has {cells} NUMA cells; openvzd reports the host's total only")


@command(
    "freecell",
    "the host's free memory (its NUMA cells: one, as openvzd sees it)",
    [
        (("cellno",), {"nargs": "?", "type": int}),
        (("--cellno",), {"type": int, "dest": "cellno_named"}),
        (("--all",), {**FLAG, "help": "every cell, then the total"}),
        *JSON,
    ],
)
def cmd_freecell(args: argparse.Namespace) -> None:
    cell = args.cellno if args.cellno is not None else args.cellno_named
    with connect(args) as conn:
        node = conn.node_info()
    check_cell(cell, node.nodes)
    if args.all and node.nodes > 1:
        check_cell(1, node.nodes)
    free = node.free_memory_kib
    if args.json:
        print_json({"total": free} if cell is None else {str(cell): free})
    elif args.all:
        print(f"{0:5d}: {free:10d} KiB\n{'-' * 20}\n{'Total':>5}: {free:10d} KiB")
    elif cell is not None:
        print(f"{cell}: {free} KiB")
    else:
        print(f"Total: {free} KiB")


@command(
    "nodecpustats",
    "the host's CPU times since boot in ns, or with --percent its use over a second",
    [(("cpu",), {"nargs": "?", "type": int}), (("--percent",), FLAG), *JSON],
)
def cmd_nodecpustats(args: argparse.Namespace) -> None:
    import time

    with connect(args) as conn:
        first = conn.node_cpu_stats(args.cpu)
        if args.percent:
            time.sleep(1)  # virsh's two samples, a second apart
            second = conn.node_cpu_stats(args.cpu)
    if not args.percent:
        values = {
            "user": first.user_ns,
            "system": first.kernel_ns,
            "idle": first.idle_ns,
            "iowait": first.iowait_ns,
        }
        if args.json:
            print_json(values)
            return
        for name, value in values.items():
            print(f"{name + ':':<15} {value:20d}")
        return
    spent = {
        "user": second.user_ns - first.user_ns,
        "system": second.kernel_ns - first.kernel_ns,
        "idle": second.idle_ns - first.idle_ns,
        "iowait": second.iowait_ns - first.iowait_ns,
    }
    # No time passed on a host whose clock stands still (vzsim's): nothing was used.
    total = sum(spent.values()) or 1
    percent: dict[str, float] = {"usage": (spent["user"] + spent["system"]) / total * 100}
    percent.update({name: value / total * 100 for name, value in spent.items()})
    if args.json:
        print_json({name: round(value, 1) for name, value in percent.items()})
        return
    for name, share in percent.items():
        print(f"{name + ':':<15} {share:5.1f}%")
