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
# A value virsh takes by position or by name (`dominfo 150`, `dominfo --domain 150`):
# the option's dest carries this suffix, and main.dispatch merges the two.
NAMED_SUFFIX = "__named"


# How a named value is read (int for a count); str when not listed. It is applied
# after merging, since a value given by position may land on another name.
NAMED_TYPES: dict[str, Callable[[str], Any]] = {}


def named(name: str, type: Callable[[str], Any] | None = None, **options: Any) -> Arguments:
    """A required value given by position or as --NAME, as virsh's options are."""
    dest = name.replace("-", "_")
    if type is not None:
        NAMED_TYPES[dest] = type
    return [
        ((dest,), {**options, "nargs": "?", "metavar": name.upper()}),
        ((f"--{name}",), {**options, "dest": dest + NAMED_SUFFIX, "metavar": name.upper()}),
    ]


def merge_named(command_name: str, args: argparse.Namespace) -> None:
    """Each named value from its option or its position, as virsh fills them: values
    given by position go, in order, to the named values not given by name
    (`setvcpus --domain 150 2` is count 2). virsh's error when one is missing."""
    from openvz.errors import InvalidArgument

    dests = [k.removesuffix(NAMED_SUFFIX) for k in vars(args) if k.endswith(NAMED_SUFFIX)]
    by_position = [getattr(args, d) for d in dests if getattr(args, d) is not None]
    for dest in dests:
        by_name = getattr(args, dest + NAMED_SUFFIX)
        delattr(args, dest + NAMED_SUFFIX)
        if by_name is None and not by_position:
            raise InvalidArgument(
                f"command '{command_name}' requires <{dest}> option "
                f"(`ovzsh {command_name} --help` shows the usage)"
            )
        value = by_name if by_name is not None else by_position.pop(0)
        convert = NAMED_TYPES.get(dest, str)
        try:
            setattr(args, dest, convert(value))
        except ValueError as err:
            why = "give a whole number" if convert is int else str(err)
            raise InvalidArgument(f"{command_name}: invalid <{dest}> '{value}': {why}") from None
    if by_position:
        raise InvalidArgument(
            f"unexpected data '{by_position[0]}' (`ovzsh {command_name} --help` shows the usage)"
        )


DOMAIN: Arguments = named("domain", help="ID, name or UUID")
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
    """The connection, without open()'s probe: a command makes its call at once, and
    an unreachable daemon fails that call with the same error, one round trip sooner."""
    from openvz.connection import Connection
    from openvz.uri import parse_uri

    return Connection(parse_uri(args.connect), read_only=args.readonly)


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
    """A message for --json: the fields that are set, by their proto names; numbers
    as JSON numbers (64-bit ones too), states in the words the text output uses
    ("running", "shut off", "succeeded"), other enums as lower-case words, times
    in RFC 3339."""
    return {field.name: _json_field(field, value) for field, value in message.ListFields()}


def _json_field(field: Any, value: Any) -> Any:
    if field.is_repeated:
        return [_json_value(field, item) for item in value]
    return _json_value(field, value)


def _json_value(field: Any, value: Any) -> Any:
    if field.type == field.TYPE_ENUM:
        return enum_word(field.enum_type, value)
    if field.type == field.TYPE_MESSAGE:
        if field.message_type.full_name == "google.protobuf.Timestamp":
            return value.ToJsonString()
        return as_dict(value)
    if field.type == field.TYPE_BYTES:
        return value.hex()
    return value


def enum_word(enum_type: Any, number: int) -> str:
    """DOMAIN_STATE_SHUTOFF -> "shut off" (as dominfo and domstate say it),
    JOB_STATE_SUCCEEDED -> "succeeded", ERROR_KIND_NOT_FOUND -> "not_found"."""
    if enum_type.full_name == "openvz.v1.DomainState":
        from openvz.calls import STATE_NAMES
        from openvz.v1 import domains_pb2

        return STATE_NAMES.get(domains_pb2.DomainState.ValueType(number), "no state")
    value = enum_type.values_by_number.get(number)
    if value is None:
        return str(number)
    prefix = "".join(f"_{c}" if c.isupper() and i else c for i, c in enumerate(enum_type.name))
    return str(value.name).removeprefix(prefix.upper() + "_").lower()


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
    except UnicodeDecodeError as err:
        raise InvalidArgument(
            f"{path} is not a text file in UTF-8 (byte 0x{err.object[err.start]:02x} at "
            f"offset {err.start}); give the domain XML file itself"
        ) from None


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
