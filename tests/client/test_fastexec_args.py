"""ovzsh's entry point reads the plain `exec` form itself (openvz.cli.fastexec) to skip
grpc: whatever it accepts, it must read exactly as ovzsh's own parser does."""

from __future__ import annotations

import argparse

import pytest
from openvz.cli.base import merge_named
from openvz.cli.execio import options_after_domain
from openvz.cli.fastexec import local_exec_arguments
from openvz.cli.main import build_parser

LOCAL = "openvz+unix:///system?socket=/tmp/x.sock"
FIELDS = ("connect", "readonly", "domain", "tty", "env", "cwd")

TAKEN = [
    ["exec", "101", "--", "true"],
    ["exec", "101", "true"],
    ["-c", LOCAL, "exec", "web", "--", "sh", "-c", "exit 3"],
    [f"--connect={LOCAL}", "-r", "exec", "101", "-t", "--", "bash"],
    ["-q", "--readonly", "exec", "101", "-e", "A=1", "--env", "B=", "--cwd", "/srv", "ls", "-l"],
    ["exec", "101", "--", "-t", "x"],
    ["exec", "101", "--", "--", "-x"],
    ["exec", "101", "-t", "--", "bash"],
    ["exec", "101", "true", "--", "x"],
    ["exec", "0b6b1a62-1c0e-4a53-9b7c-2a2bb1d1a3a5", "id"],
]
LEFT_TO_OVZSH = [
    ["exec", "-t", "101", "--", "bash"],  # exec's options before the domain
    ["exec", "--domain", "101", "--", "true"],
    ["exec", "101"],  # no command: ovzsh's own error
    ["exec", "101", "--"],
    ["exec", "101", "--bogus", "true"],
    ["exec", "101", "--", "-t", "--cwd"],
    ["exec", "101", "-e", "novalue", "true"],
    ["--conn", LOCAL, "exec", "101", "true"],  # an abbreviation argparse takes
    ["-c", "openvz://remote.example/system", "exec", "101", "true"],
    ["-c", "openvz+ssh://root@remote/system", "exec", "101", "true"],
    ["-c", "http://nonsense", "exec", "101", "true"],
    ["-h", "exec", "101", "true"],
    ["list", "--all"],
    ["exec"],
    [],
]


def _ovzsh_reads(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    args = build_parser("exec").parse_args(argv)
    merge_named(args.command, args)
    return args, options_after_domain(args, list(args.argv))


@pytest.mark.parametrize("argv", TAKEN)
def test_the_plain_forms_are_read_as_ovzsh_reads_them(argv: list[str]) -> None:
    found = local_exec_arguments(argv)
    assert found is not None
    fast, _ = found
    full, full_command = _ovzsh_reads(argv)
    assert fast.command == full_command
    assert {f: getattr(fast, f) for f in FIELDS} == {f: getattr(full, f) for f in FIELDS}


@pytest.mark.parametrize("argv", LEFT_TO_OVZSH)
def test_everything_else_is_left_to_ovzsh(argv: list[str]) -> None:
    assert local_exec_arguments(argv) is None
