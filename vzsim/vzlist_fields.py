"""vzlist fields: header, printf width and where each value comes from (openvz-tools.md §2.2,
§2.4)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from vzsim import conffile, ubc
from vzsim.ubc import LONG_MAX

UBC_HEADERS = {
    "kmemsize": "KMEMSIZE",
    "lockedpages": "LOCKEDP",
    "privvmpages": "PRIVVMP",
    "shmpages": "SHMP",
    "numproc": "NPROC",
    "physpages": "PHYSP",
    "vmguarpages": "VMGUARP",
    "oomguarpages": "OOMGUARP",
    "numtcpsock": "NTCPSOCK",
    "numflock": "NFLOCK",
    "numpty": "NPTY",
    "numsiginfo": "NSIGINFO",
    "tcpsndbuf": "TCPSNDB",
    "tcprcvbuf": "TCPRCVB",
    "othersockbuf": "OTHSOCKB",
    "dgramrcvbuf": "DGRAMRB",
    "numothersock": "NOTHSOCK",
    "dcachesize": "DCACHESZ",
    "numfile": "NFILE",
    "numiptent": "NIPTENT",
    "swappages": "SWAPP",
}
UBC_SUFFIXES = {"m": "maxheld", "b": "barrier", "l": "limit", "f": "failcnt"}


class Field:
    """`width` is printf's: negative means left-aligned; `kind` picks text and JSON forms."""

    def __init__(
        self, name: str, header: str, width: int, kind: str, modern_only: bool = False
    ) -> None:
        self.name = name
        self.header = header
        self.width = width
        self.kind = kind
        self.modern_only = modern_only


def _fields() -> list[Field]:
    fields = [
        Field("ctid", "CTID", 10, "int"),
        Field("veid", "CTID", 10, "int"),
        Field("vpsid", "CTID", 10, "int"),
        Field("private", "PRIVATE", -32, "str", True),
        Field("root", "ROOT", -32, "str", True),
        Field("mount_opts", "MOUNT_OPTS", -16, "str", True),
        Field("origin_sample", "ORIGIN_SAMPLE", 32, "str", True),
        Field("hostname", "HOSTNAME", -32, "str"),
        Field("name", "NAME", -32, "str"),
        Field("smart_name", "SMARTNAME", 10, "str", True),
        Field("description", "DESCRIPTION", -32, "str"),
        Field("ostemplate", "OSTEMPLATE", -32, "str", True),
        Field("ip", "IP_ADDR", -15, "list"),
        Field("nameserver", "NAMESERVER", -15, "list", True),
        Field("searchdomain", "SEARCHDOMAIN", -15, "list", True),
        Field("status", "STATUS", -9, "str"),
    ]
    fields += [Field(n, h, 10, "ubc", n == "swappages") for n, h in UBC_HEADERS.items()]
    fields += [
        Field("diskspace", "DSPACE", 10, "quota"),
        Field("diskinodes", "DINODES", 10, "quota"),
        Field("laverage", "LAVERAGE", 14, "laverage"),
        Field("uptime", "UPTIME", 15, "uptime", True),
        Field("cpulimit", "CPULIM", 7, "int"),
        Field("cpuunits", "CPUUNI", 7, "int"),
        Field("cpus", "CPUS", 5, "int", True),
        Field("ioprio", "IOP", 3, "int", True),
        Field("iolimit", "IOLIMIT", 10, "int", True),
        Field("iopslimit", "IOPS", 4, "int", True),
        Field("onboot", "ONBOOT", 6, "bool", True),
        Field("bootorder", "BOOTORDER", 10, "int", True),
        Field("layout", "LAYOUT", -6, "str", True),
        Field("features", "FEATURES", -15, "str", True),
        Field("vswap", "VSWAP", 5, "bool", True),
        Field("disabled", "DISABL", 6, "bool", True),
        Field("vm_overcommit", "VM_OVC", 6, "float", True),
        Field("netfilter", "NETFILTER", -9, "str", True),
        Field("capability", "CAPABILITY", -15, "str", True),
    ]
    return fields


ALL_FIELDS = _fields()
FIELDS_BY_NAME = {f.name: f for f in ALL_FIELDS}


class Record:
    """One CT as vzlist sees it; `kernel_ubc` (held, maxheld, barrier, limit, failcnt per
    parameter) and `start`/`cpu` are known only for running CTs."""

    def __init__(
        self,
        ctid: int,
        config: dict[str, str],
        global_config: dict[str, str],
        status: str,
        running: bool,
        ips: list[str],
        nproc: int | None,
        names_ok: bool,
        kernel_ubc: dict[str, list[int]],
        start: float | None,
        cpu: tuple[int, int, int] | None,
    ) -> None:
        self.ctid = ctid
        self.config = config
        self.global_config = global_config
        self.status = status
        self.running = running
        self.ips = ips
        self.nproc = nproc
        self.names_ok = names_ok
        self.kernel_ubc = kernel_ubc
        self.start = start
        self.cpu = cpu

    def value(self, key: str) -> str | None:
        if key in self.config:
            return self.config[key]
        return self.global_config.get(key)


Value = str | int | float | list[str] | list[float] | dict[str, int | None] | bool | None
Getter = Callable[[Record, float], Value]


def field_value(record: Record, name: str, suffix: str, now: float) -> Value:
    """The typed value; None means unset (`-` in tables, null in JSON)."""
    if name in ("ctid", "veid", "vpsid"):
        return record.ctid
    if name in UBC_HEADERS:
        return _ubc_value(record, name, suffix)
    if name in ("diskspace", "diskinodes"):
        return _quota_value(record, name, suffix)
    getter = _SIMPLE.get(name)
    return getter(record, now) if getter else None


def _ubc_value(record: Record, name: str, suffix: str) -> Value:
    column = UBC_SUFFIXES.get(suffix, "held")
    values: dict[str, int | None]
    if record.running and name in record.kernel_ubc:
        held, maxheld, barrier, limit, failcnt = record.kernel_ubc[name]
        values = {
            "held": held,
            "maxheld": maxheld,
            "barrier": barrier,
            "limit": limit,
            "failcnt": failcnt,
        }
    else:
        pair = ubc.config_pair(record.config, name)
        values = {
            "held": None,
            "maxheld": None,
            "failcnt": None,
            "barrier": pair[0] if pair else None,
            "limit": pair[1] if pair else None,
        }
        if name == "numproc" and record.running:
            values["held"] = record.nproc
    if suffix == "json":
        if not record.running:
            values.update(held=0, maxheld=0, failcnt=0)
        return dict(values)
    return values[column]


def _quota_value(record: Record, name: str, suffix: str) -> Value:
    soft = hard = None
    raw = record.value(name.upper())
    if raw:
        with contextlib.suppress(ubc.BadValue):
            soft, hard = ubc.parse_pair(raw, "kb" if name == "diskspace" else "items")
    usage = None
    if record.status in ("running", "mounted"):
        usage = (300000 + record.ctid % 1000 * 100) if name == "diskspace" else 25000
    if suffix == "json":
        return {"usage": usage or 0, "softlimit": soft, "hardlimit": hard}
    return {"s": soft, "h": hard}.get(suffix, usage)


def _split(text: str | None) -> list[str]:
    return text.split() if text else []


def _yes_no(text: str | None) -> bool | None:
    return None if text is None or text == "" else text == "yes"


def _int(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() else None


def _vswap(record: Record, _now: float) -> bool:
    pair = ubc.config_pair(record.config, "physpages")
    return pair is not None and pair[1] != LONG_MAX


def _uptime(record: Record, now: float) -> float | None:
    return max(now - record.start, 0.0) if record.start is not None else None


def _cpu(index: int, key: str) -> Getter:
    def getter(record: Record, _now: float) -> int | None:
        if record.cpu is not None:
            value = record.cpu[index]
            return value if value or key != "CPUS" else None
        return _int(record.value(key))

    return getter


_SIMPLE: dict[str, Getter] = {
    "private": lambda r, _n: conffile.expand_veid(r.value("VE_PRIVATE") or "", r.ctid) or None,
    "root": lambda r, _n: conffile.expand_veid(r.value("VE_ROOT") or "", r.ctid) or None,
    "mount_opts": lambda r, _n: r.config.get("MOUNT_OPTS") or None,
    "origin_sample": lambda r, _n: r.config.get("ORIGIN_SAMPLE") or None,
    "hostname": lambda r, _n: r.config.get("HOSTNAME") or None,
    "name": lambda r, _n: (r.config.get("NAME") or None) if r.names_ok else None,
    "smart_name": lambda r, _n: (
        r.config.get("NAME") if r.names_ok and r.config.get("NAME") else str(r.ctid)
    ),
    "description": lambda r, _n: r.config.get("DESCRIPTION") or None,
    "ostemplate": lambda r, _n: r.config.get("OSTEMPLATE") or None,
    "ip": lambda r, _n: r.ips,
    "nameserver": lambda r, _n: _split(r.value("NAMESERVER")),
    "searchdomain": lambda r, _n: _split(r.value("SEARCHDOMAIN")),
    "status": lambda r, _n: r.status,
    "laverage": lambda r, _n: [0.00, 0.01, 0.05] if r.running else None,
    "uptime": _uptime,
    "cpulimit": _cpu(1, "CPULIMIT"),
    "cpuunits": _cpu(0, "CPUUNITS"),
    "cpus": _cpu(2, "CPUS"),
    "ioprio": lambda r, _n: _int(r.value("IOPRIO")),
    "iolimit": lambda r, _n: _int(r.value("IOLIMIT")),
    "iopslimit": lambda r, _n: _int(r.value("IOPSLIMIT")),
    "onboot": lambda r, _n: _yes_no(r.config.get("ONBOOT")),
    "bootorder": lambda r, _n: _int(r.config.get("BOOTORDER")),
    "layout": lambda r, _n: r.value("VE_LAYOUT") or "simfs",
    "features": lambda r, _n: ",".join(_split(r.config.get("FEATURES"))) or None,
    "vswap": _vswap,
    "disabled": lambda r, _n: r.config.get("DISABLED") == "yes",
    "vm_overcommit": lambda r, _n: float(r.value("VM_OVERCOMMIT") or 0) or None,
    "netfilter": lambda r, _n: r.value("NETFILTER") or None,
    "capability": lambda r, _n: ",".join(_split(r.config.get("CAPABILITY"))) or None,
}


def text_cell(value: Value, kind: str, last: bool, trim: bool) -> str:
    """A table cell's text before padding; lists show only their first item unless last."""
    if value is None or value == [] or value == "":
        return "-"
    if kind == "laverage" and isinstance(value, list):
        return "/".join(f"{v:.2f}" for v in value)
    if kind == "uptime" and isinstance(value, float):
        seconds = int(value)
        days, rest = divmod(seconds, 86400)
        hours, rest = divmod(rest, 3600)
        minutes, secs = divmod(rest, 60)
        return f"{days:03d}d{hours:02d}h:{minutes:02d}m:{secs:02d}s"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        items = [str(v) for v in value]
        return " ".join(items) if last or not trim else items[0]
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
