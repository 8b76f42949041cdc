"""`vzsim`: lay out a simulated OpenVZ host and manage it (init, populate, tick)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vzsim import bridges
from vzsim.host import VZ_CONF, Host


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vzsim", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    init = commands.add_parser("init", help="create (or refresh) a simulated host at ROOT")
    init.add_argument("root", type=Path)
    init.add_argument("--personality", choices=("4.x", "3.0.23"))
    init.add_argument("--delays", choices=("none", "realistic"))
    init.add_argument("--hostname", default="vzsim-host.example.com")
    init.add_argument("--cpus", type=int, default=4)
    init.add_argument("--memory-mb", type=int, default=8192)
    populate = commands.add_parser("populate", help="write N containers directly")
    populate.add_argument("root", type=Path)
    populate.add_argument("--count", type=int, required=True)
    populate.add_argument("--first-id", type=int, default=1000)
    populate.add_argument("--running", type=int, default=0)
    populate.add_argument("--template", default="centos-7-x86_64-minimal")
    tick = commands.add_parser("tick", help="refresh the growing /proc counters")
    tick.add_argument("root", type=Path)
    bridge = commands.add_parser("bridge", help="add, remove or list host bridges")
    bridge.add_argument("root", type=Path)
    bridge.add_argument("action", choices=("add", "del", "list"))
    bridge.add_argument("name", nargs="?")
    return parser


def main(argv: list[str] | None = None) -> int:
    from vzsim.toolrun import bytes_out_as_given

    bytes_out_as_given()
    args = _parser().parse_args(argv)
    root = args.root.resolve()
    if args.command != "init" and not (root / VZ_CONF.lstrip("/")).is_file():
        print(
            f"vzsim: {root} is not a simulated host (it has no {VZ_CONF}): "
            f"lay one out with `vzsim init {root}`",
            file=sys.stderr,
        )
        return 1
    if args.command == "init":
        from vzsim.layout import init_host

        init_host(root, args.personality, args.delays, args.hostname, args.cpus, args.memory_mb)
        return 0
    if args.command == "populate":
        from vzsim.populate import PopulateError, populate

        try:
            created = populate(root, args.count, args.first_id, args.running, args.template)
        except PopulateError as error:
            print(f"vzsim: {error}", file=sys.stderr)
            return 1
        print(f"{created} containers written")
        return 0
    if args.command == "tick":
        from vzsim.kernel import Kernel

        Kernel(Host(root)).tick()
        return 0
    return _bridge(Host(root), args.action, args.name)


def _bridge(host: Host, action: str, name: str | None) -> int:
    if action == "list":
        directory = bridges.bridge_dir(host)
        for bridge in sorted(p.name for p in directory.iterdir() if not p.name.startswith(".")):
            print(f"{bridge} {' '.join(bridges.members(host, bridge))}".rstrip())
        return 0
    if not name:
        print("vzsim: bridge name required", file=sys.stderr)
        return 2
    if action == "add":
        bridges.create(host, name)
    else:
        (bridges.bridge_dir(host) / name).unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
