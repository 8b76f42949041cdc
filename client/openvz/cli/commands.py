"""ovzsh's commands: what each does and how it prints, as virsh does."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from openvz.connection import (
    LIST_ACTIVE,
    LIST_AUTOSTART,
    LIST_INACTIVE,
    STATE_NAMES,
    Connection,
    Domain,
    Job,
)

Arguments = list[tuple[tuple[str, ...], dict[str, Any]]]
DOMAIN: Arguments = [(("domain",), {"help": "ID, name or UUID"})]
JSON: Arguments = [(("--json",), {"action": "store_true", "help": "print JSON for scripts"})]
NO_WAIT: Arguments = [
    (("--no-wait",), {"action": "store_true", "help": "print the job and return"})
]

COMMANDS: dict[str, tuple[Callable[[argparse.Namespace], None], str, Arguments]] = {}


def command(name: str, help_text: str, arguments: Arguments = ()) -> Callable[..., Any]:  # type: ignore[assignment]
    def register(
        function: Callable[[argparse.Namespace], None],
    ) -> Callable[[argparse.Namespace], None]:
        COMMANDS[name] = (function, help_text, list(arguments))
        return function

    return register


def connect(args: argparse.Namespace) -> Connection:
    from openvz.connection import open as open_connection
    from openvz.connection import open_read_only

    return open_read_only(args.connect) if args.readonly else open_connection(args.connect)


def print_json(value: Any) -> None:
    import json

    print(json.dumps(value, indent=2, sort_keys=True))


def as_dict(message: Any) -> dict[str, Any]:
    from google.protobuf.json_format import MessageToDict

    return MessageToDict(message, preserving_proto_field_name=True)


def follow(job: Job | None, args: argparse.Namespace, done: str) -> None:
    """Print what a mutating call did; with --no-wait, the job it queued."""
    if job is not None:
        print(f"Job {job.id} queued ({job.message.operation} on {job.message.veid})")
        return
    print(done)


def _with_progress(
    conn: Connection, start: Callable[[bool], Job | None], done: str, args: argparse.Namespace
) -> None:
    if getattr(args, "no_wait", False):
        follow(start(False), args, done)
        return
    if not sys.stdout.isatty():
        start(True)
        print(done)
        return
    import time

    job = start(False)
    assert job is not None
    began = time.monotonic()
    for snapshot in job.watch():
        if time.monotonic() - began > 1.0:
            percent, step = snapshot.progress
            print(f"\r[{percent:3d}%] {step:<20}", end="", flush=True)
    if time.monotonic() - began > 1.0:
        print()
    job.wait()
    print(done)


# -- listing and looking -----------------------------------------------------------


@command(
    "list",
    "list containers",
    [
        (("--all",), {"action": "store_true"}),
        (("--inactive",), {"action": "store_true"}),
        (("--autostart",), {"action": "store_true"}),
        (("--name",), {"action": "store_true"}),
        (("--uuid",), {"action": "store_true"}),
        (("--table",), {"action": "store_true"}),
        *JSON,
    ],
)
def cmd_list(args: argparse.Namespace) -> None:
    flags = LIST_ACTIVE
    if args.all:
        flags = LIST_ACTIVE | LIST_INACTIVE
    elif args.inactive:
        flags = LIST_INACTIVE
    if args.autostart:
        flags |= LIST_AUTOSTART
    with connect(args) as conn:
        domains = conn.list_all_domains(flags, names_only=args.name and not args.json)
    if args.json:
        print_json([as_dict(d.message) for d in domains])
        return
    if args.name or args.uuid:
        for dom in domains:
            print(dom.name() if args.name else dom.uuid_string())
        return
    lines = [" Id     Name   State", "-" * 28]
    for dom in domains:
        veid = str(dom.id()) if dom.id() >= 0 else "-"
        lines.append(f" {veid:<6} {dom.name():<6} {STATE_NAMES.get(dom.message.state, 'no state')}")
    print("\n".join(lines) + "\n")


def _domain(conn: Connection, args: argparse.Namespace) -> Domain:
    return conn.lookup(args.domain)


@command("dominfo", "show a container's basic information", [*DOMAIN, *JSON])
def cmd_dominfo(args: argparse.Namespace) -> None:
    with connect(args) as conn:
        dom = _domain(conn, args)
        info = dom.info()
    if args.json:
        print_json(as_dict(info))
        return
    d = info.domain
    rows = [
        ("Id", str(d.id) if d.id >= 0 else "-"),
        ("Name", d.name),
        ("UUID", d.uuid),
        ("OS Type", info.os_type),
        ("State", STATE_NAMES.get(d.state, "no state")),
        ("CPU(s)", str(info.vcpus)),
        ("CPU time", f"{info.cpu_time_ns / 1e9:.1f}s"),
        ("Max memory", f"{info.max_memory_kib} KiB"),
        ("Used memory", f"{info.memory_kib} KiB"),
        ("Persistent", "yes" if d.persistent else "no"),
        ("Autostart", "enable" if d.autostart else "disable"),
        ("Managed save", "yes" if info.has_managed_save else "no"),
        ("Hostname", d.hostname or "-"),
        ("OS template", d.ostemplate or "-"),
    ]
    print("\n".join(f"{k + ':':<16}{v}" for k, v in rows) + "\n")


@command(
    "domstate", "the container's state", [*DOMAIN, (("--reason",), {"action": "store_true"}), *JSON]
)
def cmd_domstate(args: argparse.Namespace) -> None:
    with connect(args) as conn:
        state, reason = _domain(conn, args).state()
    if args.json:
        print_json({"state": state, "reason": reason})
    else:
        print(f"{state} ({reason})" if args.reason else state)


@command("domid", "the ID of a container", DOMAIN)
def cmd_domid(args: argparse.Namespace) -> None:
    with connect(args) as conn:
        dom = _domain(conn, args)
    print(dom.id() if dom.id() >= 0 else "-")


@command("domname", "the name of a container", DOMAIN)
def cmd_domname(args: argparse.Namespace) -> None:
    with connect(args) as conn:
        print(_domain(conn, args).name())


@command("domuuid", "the UUID of a container", DOMAIN)
def cmd_domuuid(args: argparse.Namespace) -> None:
    with connect(args) as conn:
        print(_domain(conn, args).uuid_string())


@command(
    "dumpxml", "the container's domain XML", [*DOMAIN, (("--inactive",), {"action": "store_true"})]
)
def cmd_dumpxml(args: argparse.Namespace) -> None:
    with connect(args) as conn:
        print(_domain(conn, args).xml_desc(inactive=args.inactive), end="")


@command(
    "domstats",
    "CPU, memory and beancounter statistics",
    [
        (("domain",), {"nargs": "*"}),
        *JSON,
    ],
)
def cmd_domstats(args: argparse.Namespace) -> None:
    with connect(args) as conn:
        if args.domain:
            stats = [conn.lookup(name).stats() for name in args.domain]
        else:
            stats = conn.all_domain_stats()
    if args.json:
        print_json([as_dict(s) for s in stats])
        return
    for s in stats:
        print(f"Domain: '{s.domain.name}'")
        print(f"  state.state={s.domain.state}")
        print(
            f"  cpu.time={s.cpu_time_ns}\n  cpu.user={s.cpu_user_ns}\n"
            f"  cpu.system={s.cpu_system_ns}"
        )
        print(f"  balloon.current={s.memory_used_kib}\n  balloon.maximum={s.memory_limit_kib}")
        for bc in s.beancounters:
            print(
                f"  ubc.{bc.resource}.held={bc.held} .maxheld={bc.maxheld} "
                f".barrier={bc.barrier} .limit={bc.limit} .failcnt={bc.failcnt}"
            )
        print()


@command(
    "memtune",
    "memory parameters",
    [
        *DOMAIN,
        (("--hard-limit",), {"type": int, "help": "KiB"}),
        (("--swap-hard-limit",), {"type": int, "help": "KiB"}),
        *JSON,
    ],
)
def cmd_memtune(args: argparse.Namespace) -> None:
    with connect(args) as conn:
        dom = _domain(conn, args)
        changes = {
            k: v
            for k, v in (
                ("hard_limit_kib", args.hard_limit),
                ("swap_hard_limit_kib", args.swap_hard_limit),
            )
            if v
        }
        if changes:
            dom.set_memory_parameters(**changes)
        params = dom.memory_parameters()
    if args.json:
        print_json(as_dict(params))
        return
    print(f"hard_limit     : {params.hard_limit_kib or 'unlimited'}")
    print(f"swap_hard_limit: {params.swap_hard_limit_kib or 'unlimited'}")


# -- changes ---------------------------------------------------------------------------


def _read_file(path: str) -> str:
    from openvz.errors import InvalidArgument

    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError as err:
        raise InvalidArgument(f"cannot read {path}: {err.strerror}") from None


@command("define", "define a container from domain XML", [(("file",), {}), *NO_WAIT])
def cmd_define(args: argparse.Namespace) -> None:
    xml = _read_file(args.file)
    with connect(args) as conn:
        result = conn.define_xml(xml, wait=not args.no_wait)
    if isinstance(result, Job):
        follow(result, args, "")
    else:
        print(f"Domain '{result.name()}' defined from {args.file}")


@command("create", "define and start a container from domain XML", [(("file",), {}), *NO_WAIT])
def cmd_create(args: argparse.Namespace) -> None:
    xml = _read_file(args.file)
    with connect(args) as conn:
        result = conn.create_xml(xml, wait=not args.no_wait)
    if isinstance(result, Job):
        follow(result, args, "")
    else:
        print(f"Domain '{result.name()}' created from {args.file}")


def _simple(name: str, method: str, done: str, help_text: str) -> None:
    def run(args: argparse.Namespace) -> None:
        with connect(args) as conn:
            dom = _domain(conn, args)
            _with_progress(
                conn, lambda wait: getattr(dom, method)(wait=wait), done.format(dom.name()), args
            )

    command(name, help_text, [*DOMAIN, *NO_WAIT])(run)


_simple("start", "create", "Domain '{}' started", "start a container")
_simple(
    "destroy", "destroy", "Domain '{}' destroyed", "stop a container at once (vzctl stop --fast)"
)
_simple("shutdown", "shutdown", "Domain '{}' is being shutdown", "stop a container gracefully")
_simple("reboot", "reboot", "Domain '{}' is being rebooted", "restart a container")
_simple("suspend", "suspend", "Domain '{}' suspended", "freeze a container's processes")
_simple("resume", "resume", "Domain '{}' resumed", "thaw a frozen container")


@command(
    "undefine",
    "remove a container; its private area is kept unless --remove-all-storage",
    [
        *DOMAIN,
        (("--remove-all-storage",), {"action": "store_true"}),
        *NO_WAIT,
    ],
)
def cmd_undefine(args: argparse.Namespace) -> None:
    # As virsh does, storage stays unless --remove-all-storage says otherwise.
    with connect(args) as conn:
        dom = _domain(conn, args)
        job = dom.undefine(keep_storage=not args.remove_all_storage, wait=not args.no_wait)
        follow(job, args, f"Domain '{dom.name()}' has been undefined")


@command(
    "autostart",
    "start the container at host boot",
    [
        *DOMAIN,
        (("--disable",), {"action": "store_true"}),
        *NO_WAIT,
    ],
)
def cmd_autostart(args: argparse.Namespace) -> None:
    with connect(args) as conn:
        dom = _domain(conn, args)
        job = dom.set_autostart(not args.disable, wait=not args.no_wait)
        word = "unmarked as" if args.disable else "marked as"
        follow(job, args, f"Domain '{dom.name()}' {word} autostarted")


@command("setvcpus", "set the number of CPUs", [*DOMAIN, (("count",), {"type": int}), *NO_WAIT])
def cmd_setvcpus(args: argparse.Namespace) -> None:
    with connect(args) as conn:
        follow(_domain(conn, args).set_vcpus(args.count, wait=not args.no_wait), args, "")


@command(
    "setmem",
    "set the memory (KiB, or with a suffix like 512M)",
    [
        *DOMAIN,
        (("size",), {}),
        *NO_WAIT,
    ],
)
def cmd_setmem(args: argparse.Namespace) -> None:
    with connect(args) as conn:
        follow(_domain(conn, args).set_memory(_kib(args.size), wait=not args.no_wait), args, "")


def _kib(text: str) -> int:
    from openvz.errors import InvalidArgument

    factors = {"K": 1, "M": 1024, "G": 1024 * 1024}
    number, suffix = (text[:-1], text[-1].upper()) if text[-1:].isalpha() else (text, "K")
    if not number.isdigit() or suffix not in factors:
        raise InvalidArgument(f"{text!r} is not a size like 524288, 512M or 2G")
    return int(number) * factors[suffix]


def _device(method: str, name: str, help_text: str) -> None:
    def run(args: argparse.Namespace) -> None:
        xml = _read_file(args.file)
        with connect(args) as conn:
            follow(
                getattr(_domain(conn, args), method)(xml, wait=not args.no_wait),
                args,
                "Device attached successfully"
                if "attach" in method
                else "Device detached successfully"
                if "detach" in method
                else "Device updated successfully",
            )

    command(name, help_text, [*DOMAIN, (("file",), {}), *NO_WAIT])(run)


_device("attach_device", "attach-device", "attach an <interface> from XML")
_device("detach_device", "detach-device", "detach an <interface> given as XML")
_device("update_device", "update-device", "change a device from XML")


@command(
    "attach-interface",
    "attach a network interface",
    [
        *DOMAIN,
        (("type",), {"choices": ["bridge", "ethernet"]}),
        (("source",), {}),
        (("--mac",), {}),
        (("--ip",), {}),
        *NO_WAIT,
    ],
)
def cmd_attach_interface(args: argparse.Namespace) -> None:
    from xml.sax.saxutils import quoteattr

    if args.type == "bridge":
        mac = f"<mac address={quoteattr(args.mac)}/>" if args.mac else ""
        xml = f"<interface type='bridge'>{mac}<source bridge={quoteattr(args.source)}/></interface>"
    else:
        address = quoteattr(args.ip or args.source)
        xml = f"<interface type='ethernet'><ip address={address}/></interface>"
    with connect(args) as conn:
        follow(
            _domain(conn, args).attach_device(xml, wait=not args.no_wait),
            args,
            "Interface attached successfully",
        )


@command(
    "detach-interface",
    "detach a network interface",
    [
        *DOMAIN,
        (("type",), {"choices": ["bridge", "ethernet"]}),
        (("--mac",), {}),
        (("--ip",), {}),
        *NO_WAIT,
    ],
)
def cmd_detach_interface(args: argparse.Namespace) -> None:
    from xml.sax.saxutils import quoteattr

    if args.type == "bridge":
        xml = f"<interface type='bridge'><mac address={quoteattr(args.mac or '')}/></interface>"
    else:
        xml = f"<interface type='ethernet'><ip address={quoteattr(args.ip or '')}/></interface>"
    with connect(args) as conn:
        follow(
            _domain(conn, args).detach_device(xml, wait=not args.no_wait),
            args,
            "Interface detached successfully",
        )


@command(
    "migrate",
    "move a container to another host (vzmigrate)",
    [
        (("--live",), {"action": "store_true"}),
        *DOMAIN,
        (("desturi",), {}),
        *NO_WAIT,
    ],
)
def cmd_migrate(args: argparse.Namespace) -> None:
    with connect(args) as conn:
        dom = _domain(conn, args)
        follow(
            dom.migrate(args.desturi, online=args.live, wait=not args.no_wait),
            args,
            f"Domain '{dom.name()}' migrated to {args.desturi}",
        )


@command(
    "domifstat",
    "a running container's interface counters, as the guest counts them",
    [*DOMAIN, (("interface",), {"help": "host device (veth101.0) or guest name (eth0)"}), *JSON],
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


# -- host ----------------------------------------------------------------------------------


@command("version", "versions of openvzd, the protocol and vzctl", JSON)
def cmd_version(args: argparse.Namespace) -> None:
    with connect(args) as conn:
        version = conn.version()
    if args.json:
        print_json(as_dict(version))
        return
    print(f"Running openvzd {version.daemon} (protocol v{version.protocol})")
    print(
        f"Using vzctl {version.vzctl} ({version.vzctl_flavour})"
        + (" on a simulated host" if version.simulated else "")
    )


@command("hostname", "the host's name")
def cmd_hostname(args: argparse.Namespace) -> None:
    with connect(args) as conn:
        print(conn.hostname())


@command("nodeinfo", "the host's CPUs and memory", JSON)
def cmd_nodeinfo(args: argparse.Namespace) -> None:
    with connect(args) as conn:
        node = conn.node_info()
    if args.json:
        print_json(as_dict(node))
        return
    rows = [
        ("CPU model", node.model),
        ("CPU(s)", node.cpus),
        ("CPU frequency", f"{node.mhz} MHz"),
        ("CPU socket(s)", node.sockets),
        ("Core(s) per socket", node.cores),
        ("Thread(s) per core", node.threads),
        ("NUMA cell(s)", node.nodes),
        ("Memory size", f"{node.memory_kib} KiB"),
    ]
    print("\n".join(f"{k + ':':<20}{v}" for k, v in rows) + "\n")


@command("capabilities", "the host's capabilities XML")
def cmd_capabilities(args: argparse.Namespace) -> None:
    with connect(args) as conn:
        print(conn.capabilities(), end="")


@command("uri", "the URI of the connection")
def cmd_uri(args: argparse.Namespace) -> None:
    from openvz.uri import default_uri

    print(args.connect or default_uri())


@command("host-validate", "check the host like virt-host-validate", JSON)
def cmd_host_validate(args: argparse.Namespace) -> None:
    from openvz.errors import WrongState
    from openvz.v1 import host_pb2

    with connect(args) as conn:
        checks = conn.host_check()
    if args.json:
        print_json([as_dict(c) for c in checks])
    for check in [] if args.json else checks:
        result = host_pb2.CheckResult.Name(check.result).removeprefix("CHECK_RESULT_")
        print(f"{check.name:<28}: {result}  {check.detail}")
        if check.fix:
            print(f"{'':<30}fix: {check.fix}")
    if any(c.result == host_pb2.CHECK_RESULT_FAIL for c in checks):
        raise WrongState("some checks failed")


# -- jobs and events --------------------------------------------------------------------


def _job_line(job: Job) -> str:
    m = job.message
    error = f"  {m.error.message}" if m.error.message else ""
    return (
        f" {m.id}  {m.operation:<10} {m.veid:>6}  {job.state:<11} {m.progress_percent:>3}%{error}"
    )


@command(
    "jobs",
    "recent jobs, newest first",
    [
        (("--domain",), {"type": int, "default": 0}),
        (("--limit",), {"type": int, "default": 20}),
        *JSON,
    ],
)
def cmd_jobs(args: argparse.Namespace) -> None:
    with connect(args) as conn:
        jobs = conn.list_jobs(args.domain, args.limit)
    if args.json:
        print_json([as_dict(j.message) for j in jobs])
        return
    print(f" {'Id':<32}  {'Operation':<10} {'CT':>6}  {'State':<11} Done")
    for job in jobs:
        print(_job_line(job))


@command("job-info", "one job", [(("job",), {}), *JSON])
def cmd_job_info(args: argparse.Namespace) -> None:
    with connect(args) as conn:
        job = conn.job(args.job)
    print_json(as_dict(job.message)) if args.json else print(_job_line(job))


@command("job-wait", "wait for a job to end", [(("job",), {}), (("--timeout",), {"type": float})])
def cmd_job_wait(args: argparse.Namespace) -> None:
    with connect(args) as conn:
        job = conn.job(args.job).wait(args.timeout)
        print(_job_line(job))


@command("job-cancel", "cancel a job", [(("job",), {})])
def cmd_job_cancel(args: argparse.Namespace) -> None:
    with connect(args) as conn:
        print(_job_line(conn.job(args.job).cancel()))


@command(
    "event",
    "print events",
    [
        (("--loop",), {"action": "store_true"}),
        (("--timeout",), {"type": float}),
        (("--all",), {"action": "store_true", "help": "job events too"}),
        *JSON,
    ],
)
def cmd_event(args: argparse.Namespace) -> None:
    import threading

    from openvz.v1 import events_pb2

    conn = connect(args)
    if args.timeout:
        threading.Timer(args.timeout, conn.close).start()
    try:
        for event in conn.events(include_jobs=args.all):
            if args.json:
                print_json(as_dict(event))
            elif event.HasField("lifecycle"):
                life = event.lifecycle
                kind = (
                    events_pb2.LifecycleKind.Name(life.kind).removeprefix("LIFECYCLE_KIND_").lower()
                )
                print(
                    f"event #{event.seq} 'lifecycle' for domain '{life.veid}': "
                    f"{kind} ({life.cause})"
                )
            elif event.HasField("job"):
                print(f"event #{event.seq} 'job' {_job_line(Job(conn, event.job))}")
            else:
                print(f"event #{event.seq} missed {event.gap.missed_count} events")
            sys.stdout.flush()
            if not args.loop:
                break
    except Exception as err:  # the timer's close ends the stream with CANCELLED
        from openvz.errors import Cancelled, Error

        if not isinstance(err, (Cancelled, Error)) or not args.timeout:
            raise
    finally:
        conn.close()
