"""ovzsh's device commands: attach/detach/update-device from XML, attach- and
detach-interface in virsh's words, and domifstat."""

from __future__ import annotations

import argparse

from openvz.cli.base import DOMAIN, JSON, NO_WAIT, command, connect, named, print_json, read_file
from openvz.cli.base import lookup as _domain
from openvz.cli.commands import AFFECT, PERSISTENT
from openvz.cli.progress import run_job


def _device(method: str, name: str, help_text: str, done: str) -> None:
    def run(args: argparse.Namespace) -> None:
        xml = read_file(args.file)
        with connect(args) as conn:
            dom = _domain(conn, args)
            run_job(args, lambda: getattr(dom, method)(xml, wait=False), done)

    command(name, help_text, [*DOMAIN, *named("file"), *AFFECT, *PERSISTENT, *NO_WAIT])(run)


_device(
    "attach_device",
    "attach-device",
    "attach an <interface> from XML",
    "Device attached successfully",
)
_device(
    "detach_device",
    "detach-device",
    "detach an <interface> given as XML",
    "Device detached successfully",
)
_device("update_device", "update-device", "change a device from XML", "Device updated successfully")


def interface_type(text: str) -> str:
    """attach/detach-interface's type: what OpenVZ's veth (bridge) and venet (ethernet) are."""
    if text not in ("bridge", "ethernet"):
        raise ValueError("give bridge (a veth) or ethernet (a venet address)")
    return text


def _interface_xml(args: argparse.Namespace, attach: bool) -> str:
    from xml.sax.saxutils import quoteattr

    from openvz.errors import InvalidArgument

    if args.type == "bridge":
        mac = f"<mac address={quoteattr(args.mac)}/>" if args.mac else ""
        if attach:
            source = f"<source bridge={quoteattr(args.source)}/>"
            return f"<interface type='bridge'>{mac}{source}</interface>"
        if not args.mac:
            raise InvalidArgument("detach-interface bridge needs --mac MAC")
        return f"<interface type='bridge'>{mac}</interface>"
    address = args.ip or (args.source if attach else None)
    if not address:
        raise InvalidArgument("detach-interface ethernet needs --ip ADDRESS")
    return f"<interface type='ethernet'><ip address={quoteattr(address)}/></interface>"


@command(
    "attach-interface",
    "attach a network interface: bridge BRIDGE [--mac MAC], or ethernet IP",
    [
        *DOMAIN,
        *named("type", type=interface_type),
        *named("source"),
        (("--mac",), {}),
        (("--ip",), {}),
        *AFFECT,
        *PERSISTENT,
        *NO_WAIT,
    ],
)
def cmd_attach_interface(args: argparse.Namespace) -> None:
    xml = _interface_xml(args, attach=True)
    with connect(args) as conn:
        dom = _domain(conn, args)
        run_job(args, lambda: dom.attach_device(xml, wait=False), "Interface attached successfully")


@command(
    "detach-interface",
    "detach a network interface: bridge --mac MAC, or ethernet --ip IP",
    [
        *DOMAIN,
        *named("type", type=interface_type),
        (("--mac",), {}),
        (("--ip",), {}),
        *AFFECT,
        *PERSISTENT,
        *NO_WAIT,
    ],
)
def cmd_detach_interface(args: argparse.Namespace) -> None:
    xml = _interface_xml(args, attach=False)
    with connect(args) as conn:
        dom = _domain(conn, args)
        run_job(args, lambda: dom.detach_device(xml, wait=False), "Interface detached successfully")


@command(
    "domifstat",
    "a running container's interface counters, as the guest counts them",
    [*DOMAIN, *named("interface", help="host device (veth101.0) or guest name (eth0)"), *JSON],
)
def cmd_domifstat(args: argparse.Namespace) -> None:
    from openvz.interfaces import COUNTERS

    with connect(args) as conn:
        counters = _domain(conn, args).interface_stats(args.interface)
    if args.json:
        print_json({name: getattr(counters, name) for name in ["device", *COUNTERS]})
        return
    for name in COUNTERS:
        print(f"{args.interface} {name} {getattr(counters, name)}")
