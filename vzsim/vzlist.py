"""The vzlist stand-in (openvz-tools.md §2): selection, fields, table/JSON output, exit codes."""

from __future__ import annotations

import fnmatch
import json
import os
import sys
import time
from pathlib import Path

from vzsim import conffile, getopt, knobs, toolrun
from vzsim.console import VzError
from vzsim.host import Host, parse_ctid
from vzsim.kernel import Kernel
from vzsim.personality import PERSONALITIES, Personality
from vzsim.toolrun import run_tool
from vzsim.vzlist_fields import (
    ALL_FIELDS,
    FIELDS_BY_NAME,
    UBC_HEADERS,
    UBC_SUFFIXES,
    Field,
    Record,
    Value,
    field_value,
    text_cell,
)

LONG_OPTIONS = {
    "all": False,
    "stopped": False,
    "name": False,
    "no-header": False,
    "no-trim": False,
    "json": False,
    "output": True,
    "sort": True,
    "hostname": True,
    "name_filter": True,
    "description": True,
    "list": False,
    "help": False,
}
SHORT_OPTIONS = {
    "a": "all",
    "S": "stopped",
    "n": "name",
    "H": "no-header",
    "t": "no-trim",
    "j": "json",
    "o": "output",
    "s": "sort",
    "h": "hostname",
    "N": "name_filter",
    "d": "description",
    "L": "list",
    "1": "one",
}
DEFAULT_FIELDS = "ctid,numproc,status,ip,hostname"
USAGE = """Usage: vzlist [-a | -S] [-n] [-H] [-o field[,field...] | -1] [-s [-]field]
              [-h <pattern>] [-N <pattern>] [-d <pattern>] [ctid [ctid ...]]
       vzlist -L | --list

Options:
  -a, --all                list all containers
  -S, --stopped            list stopped containers
  -n, --name               display containers' names
  -N, --name_filter <pat>  filter by name pattern
  -h, --hostname <pat>     filter by hostname pattern
  -d, --description <pat>  filter by description pattern
  -o, --output <fields>    output only specified fields
  -H, --no-header          suppress columns header
  -t, --no-trim            do not trim long values
  -j, --json               output in JSON format
  -s, --sort [-]<field>    sort by the specified field ('-field' to reverse)
  -1                       output CTIDs only
  -L, --list               get possible field names"""


def main(root: Path, argv: list[str]) -> int:
    return run_tool(root, "vzlist", argv, lambda: _run(root, argv))


def _run(root: Path, argv: list[str]) -> int:
    host = Host(root)
    settings = knobs.load(host.state_dir)
    personality = PERSONALITIES.get(settings.personality, PERSONALITIES["4.x"])
    long_options = dict(LONG_OPTIONS, one=False)
    if personality.is_legacy:
        for name in ("json", "no-trim"):
            long_options.pop(name)
    shorts = {k: v for k, v in SHORT_OPTIONS.items() if v in long_options}
    try:
        options, positionals = getopt.parse("vzlist", argv, long_options, shorts, error_code=1)
        return _list(host, personality, settings, dict(options), positionals)
    except VzError as failure:
        for message in failure.messages:
            print(message, file=sys.stderr, flush=True)
        return failure.code


def _fields_for(personality: Personality, options: dict[str, str]) -> list[tuple[Field, str]]:
    if "one" in options:
        spec = "ctid"
    elif "output" in options:
        spec = options["output"]
    elif "name" in options:
        spec = (
            "veid,numproc,status,ip,name"
            if personality.is_legacy
            else "smart_name,numproc,status,ip,hostname"
        )
    else:
        spec = DEFAULT_FIELDS
    return [_resolve_field(personality, token, "json" in options) for token in spec.split(",")]


def _resolve_field(personality: Personality, token: str, json_output: bool) -> tuple[Field, str]:
    name, _, suffix = token.partition(".")
    found = FIELDS_BY_NAME.get(name)
    if found is None or (found.modern_only and personality.is_legacy):
        raise VzError(1, f"Unknown field: {token}")
    if suffix:
        valid = (
            UBC_SUFFIXES
            if name in UBC_HEADERS
            else ({"s": "", "h": ""} if name in ("diskspace", "diskinodes") else {})
        )
        if suffix not in valid:
            raise VzError(1, f"Unknown field: {token}")
        if json_output:
            raise VzError(1, f"Field '{token}' is not available in JSON output")
    return _adjusted(personality, found), suffix


def _adjusted(personality: Personality, found: Field) -> Field:
    if found.name == "status":
        return Field("status", "STATUS", -personality.status_width, "str")
    if personality.is_legacy and found.name in ("diskspace", "diskinodes"):
        header = "DQBLOCKS" if found.name == "diskspace" else "DQINODES"
        return Field(found.name, header, found.width, found.kind)
    return found


def _list(
    host: Host,
    personality: Personality,
    settings: knobs.Knobs,
    options: dict[str, str],
    positionals: list[str],
) -> int:
    if "help" in options:
        print(USAGE, flush=True)
        return 0
    if "list" in options:
        for field in ALL_FIELDS:
            if not (field.modern_only and personality.is_legacy):
                line = f"{field.name:<15} {_adjusted(personality, field).header:<15}"
                print(line.rstrip() if personality.strips_trailing_spaces else line)
        return 0
    fields = _fields_for(personality, options)
    wanted_ids = _explicit_ids(host, positionals)
    Kernel(host).refresh_if_stale()
    records = _collect(host, personality, options, wanted_ids, fields)
    records = _filtered(records, options)
    if not records:
        print("Container(s) not found", file=sys.stderr, flush=True)
        if "json" in options and not wanted_ids:
            print("[]", flush=True)
        return 1 if wanted_ids is not None else personality.empty_list_exit
    now = time.time()
    _sort(records, options.get("sort"), personality, now)
    if "json" in options:
        sys.stdout.write(_json(records, fields if "output" in options else None, now))
        return 0
    sys.stdout.write(_table(records, fields, options, personality, now))
    return 0


def _explicit_ids(host: Host, positionals: list[str]) -> list[int] | None:
    if not positionals:
        return None
    ids = []
    for arg in positionals:
        ctid = parse_ctid(arg)
        if ctid == 0:
            ctid = None
        if ctid is None:
            ctid = host.resolve_name(arg)
        if ctid is None:
            raise VzError(1, f"CT ID {arg} is invalid.")
        ids.append(ctid)
    return ids


def _read_veinfo(host: Host) -> dict[int, tuple[int, list[str]]]:
    running: dict[int, tuple[int, list[str]]] = {}
    try:
        text = (host.proc_dir / "vz" / "veinfo").read_text()
    except FileNotFoundError:
        return running
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0].isdigit() and parts[0] != "0":
            running[int(parts[0])] = (int(parts[2]), list(reversed(parts[3:])))
    return running


def _read_beancounters(host: Host) -> dict[int, dict[str, list[int]]]:
    counters: dict[int, dict[str, list[int]]] = {}
    try:
        text = (host.proc_dir / "user_beancounters").read_text()
    except FileNotFoundError:
        return counters
    current: dict[str, list[int]] = {}
    for line in text.splitlines()[2:]:
        parts = line.split()
        if parts and parts[0].endswith(":"):
            current = counters.setdefault(int(parts[0][:-1]), {})
            parts = parts[1:]
        if len(parts) == 6 and parts[0] != "dummy":
            current[parts[0]] = [int(v) for v in parts[1:]]
    return counters


def _config_ids(host: Host) -> list[int]:
    ids: list[int] = []
    try:
        entries = os.listdir(host.conf_dir)
    except FileNotFoundError:
        return ids
    for entry in entries:
        if entry.endswith(".conf") and entry[:-5].isdigit():
            ctid = parse_ctid(entry[:-5])
            if ctid is None:
                print(
                    f"Warning: invalid CTID in config file name: {entry}, skipping", file=sys.stderr
                )
            elif ctid:
                ids.append(ctid)
    return ids


def _collect(
    host: Host,
    personality: Personality,
    options: dict[str, str],
    wanted: list[int] | None,
    fields: list[tuple[Field, str]],
) -> list[Record]:
    veinfo = _read_veinfo(host)
    if wanted is not None:
        candidates = sorted(set(wanted))
    elif "all" in options or "stopped" in options:
        candidates = sorted(set(_config_ids(host)) | set(veinfo))
    else:
        candidates = sorted(veinfo)
    names = {f.name for f, _ in fields} | {options.get("sort", "").lstrip("-").split(".")[0]}
    needs_ubc = bool(names & set(UBC_HEADERS)) or "json" in options
    needs_kernel = bool(names & {"uptime", "cpulimit", "cpuunits", "cpus"}) or "json" in options
    counters = _read_beancounters(host) if needs_ubc else {}
    kernel_state = Kernel(host).load() if needs_kernel else {}
    global_config = host.vz_conf or {}
    mounted = host.mounted_ids()
    dump_dir = host.path(host.dump_dir_host)
    records = []
    for ctid in candidates:
        is_running = ctid in veinfo
        if "stopped" in options and is_running:
            continue
        config = conffile.read_config(host.conf_file(ctid))
        if config is None and not is_running:
            continue
        config = config or {}
        if not is_running:
            private = conffile.expand_veid(
                config.get("VE_PRIVATE") or global_config.get("VE_PRIVATE", ""), ctid
            )
            if not os.path.isdir(host.path(private)):
                continue
        if is_running:
            status = "running"
        elif ctid in mounted:
            status = "mounted"
        elif personality.has_suspended_word and (dump_dir / f"Dump.{ctid}").exists():
            status = "suspended"
        else:
            status = "stopped"
        nproc, ips = veinfo.get(ctid, (None, []))
        if not is_running:
            ips = [ip.split("/")[0] for ip in config.get("IP_ADDRESS", "").split()]
        name = config.get("NAME")
        entry = kernel_state.get(ctid)
        records.append(
            Record(
                ctid=ctid,
                config=config,
                global_config=global_config,
                status=status,
                running=is_running,
                ips=ips,
                nproc=nproc,
                names_ok=bool(name) and host.resolve_name(name or "") == ctid,
                kernel_ubc=counters.get(ctid, {}),
                start=entry.start if entry else None,
                cpu=(entry.cpuunits, entry.cpulimit, entry.cpus) if entry else None,
            )
        )
    return records


def _filtered(records: list[Record], options: dict[str, str]) -> list[Record]:
    checks = (("hostname", "HOSTNAME"), ("name_filter", "NAME"), ("description", "DESCRIPTION"))
    for option, key in checks:
        pattern = options.get(option)
        if pattern is not None:
            records = [
                r
                for r in records
                if fnmatch.fnmatchcase(r.config.get(key, ""), pattern) and r.config.get(key)
            ]
    return records


def _sort(records: list[Record], spec: str | None, personality: Personality, now: float) -> None:
    if not spec:
        return
    reverse = spec.startswith("-")
    token = spec.lstrip("-")
    try:
        field, suffix = _resolve_field(personality, token, False)
    except VzError as error:
        raise VzError(1, f"Invalid sort field name: {token}") from error

    def key(record: Record) -> tuple[int, float, str]:
        value = field_value(record, field.name, suffix, now)
        if isinstance(value, list):
            value = value[0] if value else None
        if value is None:
            return (0, 0.0, "")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return (1, float(value), "")
        return (1, 0.0, str(value))

    records.sort(key=key, reverse=reverse)


def _table(
    records: list[Record],
    fields: list[tuple[Field, str]],
    options: dict[str, str],
    personality: Personality,
    now: float,
) -> str:
    trim = "no-trim" not in options
    strip = personality.strips_trailing_spaces
    lines = []
    if "no-header" not in options and "one" not in options:
        cells = []
        for field, suffix in fields:
            header = f"{field.header}.{suffix.upper()}" if suffix else field.header
            cells.append(_pad(header, field.width, False))
        lines.append(" ".join(cells))
    last_index = len(fields) - 1
    for record in records:
        cells = []
        for index, (field, suffix) in enumerate(fields):
            last = index == last_index
            text = text_cell(field_value(record, field.name, suffix, now), field.kind, last, trim)
            cells.append(_pad(text, field.width, trim and not last))
        lines.append(" ".join(cells))
    return "".join((line.rstrip() if strip else line) + "\n" for line in lines)


def _pad(text: str, width: int, cut: bool) -> str:
    size = abs(width)
    if cut and width < 0 and len(text) > size:
        text = text[:size]
    return text.ljust(size) if width < 0 else text.rjust(size)


def _json_value(value: Value, kind: str) -> str:
    if kind in ("ubc", "quota") and isinstance(value, dict):
        inner = ",".join(f'\n      "{k}": {json.dumps(v)}' for k, v in value.items())
        return "{" + inner + "\n    }"
    if kind == "uptime" and isinstance(value, float):
        return f"{value:.3f}"
    if kind == "laverage" and isinstance(value, list):
        return "[" + ", ".join(f"{v:.2f}" for v in value) + "]"
    return json.dumps(value)


def _json(records: list[Record], fields: list[tuple[Field, str]] | None, now: float) -> str:
    chosen = fields if fields is not None else [(f, "") for f in ALL_FIELDS]
    objects = []
    for record in records:
        members = []
        for field, _ in chosen:
            suffix = "json" if field.kind in ("ubc", "quota") else ""
            value = field_value(record, field.name, suffix, now)
            members.append(f'\n    "{field.name}": {_json_value(value, field.kind)}')
        objects.append("\n  {" + ",".join(members) + "\n  }")
    return "[" + ",".join(objects) + "\n]\n"


def entry_point(script: str) -> None:
    """Called by ROOT/usr/sbin/vzlist; ROOT is two levels above the script's folder."""
    toolrun.entry_point(script, main)
