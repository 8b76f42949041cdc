"""What every ovzsh command shares: the command table, common arguments, the
connection, and the ways of printing (virsh's words, or JSON for scripts)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from openvz.connection import Connection, Domain

Arguments = list[tuple[tuple[str, ...], dict[str, Any]]]
Handler = Callable[[argparse.Namespace], None]
DOMAIN: Arguments = [(("domain",), {"help": "ID, name or UUID"})]
JSON: Arguments = [(("--json",), {"action": "store_true", "help": "print JSON for scripts"})]
NO_WAIT: Arguments = [
    (("--no-wait",), {"action": "store_true", "help": "print the job and return"})
]

# name -> (handler, help, arguments); the modules of openvz.cli fill it as they are imported.
COMMANDS: dict[str, tuple[Handler, str, Arguments]] = {}


def command(name: str, help_text: str, arguments: Arguments = ()) -> Callable[[Handler], Handler]:  # type: ignore[assignment]
    def register(function: Handler) -> Handler:
        COMMANDS[name] = (function, help_text, list(arguments))
        return function

    return register


def connect(args: argparse.Namespace) -> Connection:
    from openvz.connection import open as open_connection
    from openvz.connection import open_read_only

    return open_read_only(args.connect) if args.readonly else open_connection(args.connect)


def lookup(conn: Connection, args: argparse.Namespace) -> Domain:
    return conn.lookup(args.domain)


def say(args: argparse.Namespace, text: str) -> None:
    """An informational line ("Domain '101' started"), which -q silences as in virsh."""
    if not getattr(args, "quiet", False):
        print(text)


def print_json(value: Any) -> None:
    import json

    print(json.dumps(value, indent=2, sort_keys=True))


def as_dict(message: Any) -> dict[str, Any]:
    from google.protobuf.json_format import MessageToDict

    return MessageToDict(message, preserving_proto_field_name=True)


def print_fields(rows: list[tuple[str, object]], width: int) -> None:
    """virsh's `%-15s %s` lines: the label with its colon, padded, a space, the value."""
    sys.stdout.write("".join(f"{label + ':':<{width}} {value}\n" for label, value in rows))


def read_file(path: str) -> str:
    from openvz.errors import InvalidArgument

    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError as err:
        raise InvalidArgument(f"cannot read {path}: {err.strerror}") from None


# Bytes per unit; a bare number is KiB, as virsh's scaled integers for memory.
UNIT_BYTES = {"B": 1, "": 1024, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


def kib(text: str) -> int:
    """A size as virsh takes it: a number of KiB, or with a unit (512M, 2GiB, 1048576b)."""
    from openvz.errors import InvalidArgument

    digits = text.rstrip("bBkKmMgGtTiI")
    unit = text[len(digits) :].upper()
    unit = unit.removesuffix("IB") if len(unit) == 3 else unit
    if not digits.isdigit() or unit not in UNIT_BYTES:
        raise InvalidArgument(f"{text!r} is not a size like 524288 (KiB), 512M or 2G")
    return int(digits) * UNIT_BYTES[unit] // 1024
