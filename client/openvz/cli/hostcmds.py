"""ovzsh's host commands: version, hostname, nodeinfo, capabilities, uri, host-validate."""

from __future__ import annotations

import argparse

from openvz.cli.base import JSON, as_dict, command, connect, print_fields, print_json


@command(
    "version",
    "versions of the library, openvzd and vzctl",
    [(("--daemon",), {"action": "store_true", "help": "the daemon's version too"}), *JSON],
)
def cmd_version(args: argparse.Namespace) -> None:
    import openvz

    with connect(args) as conn:
        version = conn.version()
    if args.json:
        print_json({"library": openvz.__version__, **as_dict(version)})
        return
    # virsh's four lines, with OpenVZ as the hypervisor and vzctl's version as its own.
    print(f"Compiled against library: openvz {openvz.__version__}")
    print(f"Using library: openvz {openvz.__version__}")
    print(f"Using API: OpenVZ {version.daemon} (protocol v{version.protocol})")
    flavour = f"{version.vzctl_flavour}, simulated" if version.simulated else version.vzctl_flavour
    print(f"Running hypervisor: OpenVZ {version.vzctl} ({flavour})")
    if args.daemon:
        print(f"Running against daemon: {version.daemon}")


@command("hostname", "the host's name", JSON)
def cmd_hostname(args: argparse.Namespace) -> None:
    with connect(args) as conn:
        hostname = conn.hostname()
    print_json({"hostname": hostname}) if args.json else print(hostname)


@command("nodeinfo", "the host's CPUs and memory", JSON)
def cmd_nodeinfo(args: argparse.Namespace) -> None:
    with connect(args) as conn:
        node = conn.node_info()
    if args.json:
        print_json(as_dict(node))
        return
    rows: list[tuple[str, object]] = [("CPU model", node.model), ("CPU(s)", node.cpus)]
    if node.mhz:
        rows.append(("CPU frequency", f"{node.mhz} MHz"))
    rows += [
        ("CPU socket(s)", node.sockets),
        ("Core(s) per socket", node.cores),
        ("Thread(s) per core", node.threads),
        ("NUMA cell(s)", node.nodes),
        ("Memory size", f"{node.memory_kib} KiB"),
    ]
    print_fields(rows, 20)


@command("capabilities", "the host's capabilities XML", JSON)
def cmd_capabilities(args: argparse.Namespace) -> None:
    with connect(args) as conn:
        xml = conn.capabilities()
    print_json({"xml": xml}) if args.json else print(xml, end="")


@command("uri", "the URI of the connection", JSON)
def cmd_uri(args: argparse.Namespace) -> None:
    from openvz.uri import parse_uri

    uri = parse_uri(args.connect)  # $OPENVZ_DEFAULT_URI or openvz:///system without -c
    if args.json:
        print_json({"uri": uri.text, "transport": uri.transport, "read_only": args.readonly})
    else:
        print(uri.text)


@command("host-validate", "check the host like virt-host-validate", JSON)
def cmd_host_validate(args: argparse.Namespace) -> None:
    from openvz.errors import WrongState
    from openvz.v1 import host_pb2

    with connect(args) as conn:
        checks = conn.host_check()
    if args.json:
        print_json([as_dict(c) for c in checks])
    else:
        width = max((len(c.name) for c in checks), default=0)
        for check in checks:
            result = host_pb2.CheckResult.Name(check.result).removeprefix("CHECK_RESULT_")
            print(f"OpenVZ: Checking {check.name:<{width}} : {result} ({check.detail})")
            if check.fix:
                print(f"        {'':<{width + 9}}   fix: {check.fix}")
    failed = [c.name for c in checks if c.result == host_pb2.CHECK_RESULT_FAIL]
    if failed:
        raise WrongState(f"{len(failed)} check(s) failed: {', '.join(failed)}")
