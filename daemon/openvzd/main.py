"""The openvzd command: the daemon, and its `check` and `--simulate` forms."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path

from openvzd import __version__
from openvzd.config import (
    DEFAULT_CONFIG_PATH,
    DEFAULTS_DOC,
    Config,
    ConfigError,
    load_config,
    simulated_config,
)
from openvzd.logs import setup_logging

log = logging.getLogger("openvzd")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="openvzd",
        description="The OpenVZ container driver service: owns the host's containers and "
        "serves them over gRPC.",
    )
    parser.add_argument("--version", action="version", version=f"openvzd {__version__}")
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help=f"configuration file (TOML; default {DEFAULT_CONFIG_PATH}); with --simulate, "
        "laid over the simulation's settings, whose paths and tools stay",
    )
    parser.add_argument(
        "--simulate",
        type=Path,
        metavar="DIR",
        help="serve a simulated OpenVZ host kept in DIR (made if needed); no root needed",
    )
    parser.add_argument(
        "--sim-delays",
        choices=["realistic", "none"],
        default="realistic",
        help="with --simulate, for a new host: tool run times like a real host's, or none",
    )
    parser.add_argument(
        "--tour", action="store_true", help="with --simulate: print how to connect and a short tour"
    )
    parser.add_argument("--debug", action="store_true", help="log debug messages")
    parser.add_argument(
        "--print-default-config",
        action="store_true",
        help="print every configuration key with its default, then exit",
    )
    parser.add_argument(
        "command",
        nargs="?",
        choices=["serve", "check", "passwd"],
        default="serve",
        help="serve (the default), check the host like virt-host-validate; "
        "`openvzd passwd USER` manages SCRAM passwords (openvzd passwd --help)",
    )
    return parser


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    # passwd has its own options and arguments (openvzd passwd --help).
    if argv[:1] == ["passwd"]:
        from openvzd.remote.passwords import passwd_main

        sys.exit(passwd_main(argv[1:]))
    parser = _parser()
    args, rest = parser.parse_known_args(argv)
    if args.command == "passwd":
        parser.error("passwd takes no daemon options: run openvzd passwd USER [--readonly]")
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.print_default_config:
        sys.stdout.write(DEFAULTS_DOC)
        return
    setup_logging(logging.DEBUG if args.debug else logging.INFO)

    def read_config() -> Config:
        if args.simulate is not None:
            return simulated_config(args.simulate, args.config)
        return load_config(args.config or DEFAULT_CONFIG_PATH)

    try:
        config = read_config()
    except ConfigError as err:
        sys.exit(f"openvzd: {err}")
    if not args.debug:
        logging.getLogger().setLevel(config.log.level.upper())

    if args.command == "check":
        from openvzd.hostcheck import run_checks_cli

        sys.exit(run_checks_cli(config))

    if not config.simulated and os.geteuid() != 0:
        sys.exit(
            "openvzd: must run as root to drive vzctl; "
            "to try it without OpenVZ, run: openvzd --simulate DIR"
        )
    from openvzd.daemon import run

    sys.exit(
        asyncio.run(
            run(
                config,
                load_config=read_config,
                debug=args.debug,
                tour=args.tour,
                realistic_delays=args.sim_delays == "realistic",
            )
        )
    )


if __name__ == "__main__":
    main()
