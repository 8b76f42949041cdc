"""ovzsh's domain commands: what each does and how it prints, as virsh does."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from openvz.cli.base import (
    DOMAIN,
    JSON,
    NO_WAIT,
    Arguments,
    as_dict,
    command,
    connect,
    kib,
    named,
    print_fields,
    print_json,
    read_file,
)
from openvz.cli.base import lookup as _domain
from openvz.cli.progress import run_job
from openvz.connection import (
    LIST_ACTIVE,
    LIST_AUTOSTART,
    LIST_INACTIVE,
    LIST_MANAGEDSAVE,
    LIST_NO_AUTOSTART,
    LIST_NO_MANAGEDSAVE,
    LIST_OTHER,
    LIST_PAUSED,
    LIST_PERSISTENT,
    LIST_RUNNING,
    LIST_SHUTOFF,
    LIST_TRANSIENT,
    STATE_NAMES,
)

if TYPE_CHECKING:
    from openvz.connection import Domain

FLAG: dict[str, object] = {"action": "store_true"}
# virsh's --live, --config and --current. OpenVZ applies a change to the running
# container and to its config in one `vzctl set --save`, so each means the same.
AFFECT: Arguments = [
    (("--live",), {**FLAG, "help": "the running container (OpenVZ changes its config too)"}),
    (("--config",), {**FLAG, "help": "the config (OpenVZ changes a running container too)"}),
    (("--current",), {**FLAG, "help": "as the container is (the same on OpenVZ)"}),
]
# virsh's shutdown and reboot modes, by their flag values (virDomainShutdownFlagValues).
SHUTDOWN_MODES = {"acpi": 1, "agent": 2, "initctl": 4, "signal": 8, "paravirt": 16}
# vzctl stop and restart halt the container through its own init: that mode alone.
OPENVZ_SHUTDOWN_MODE = "initctl"
PERSISTENT: Arguments = [(("--persistent",), {**FLAG, "help": "the same as --config on OpenVZ"})]
MODE: Arguments = [
    (
        ("--mode",),
        {"help": f"comma-separated modes; OpenVZ does {OPENVZ_SHUTDOWN_MODE} (vzctl stop)"},
    )
]
# virsh list's filter options and the listAllDomains flag each adds.
LIST_FILTERS = {
    "autostart": LIST_AUTOSTART,
    "no_autostart": LIST_NO_AUTOSTART,
    "persistent": LIST_PERSISTENT,
    "transient": LIST_TRANSIENT,
    "with_managed_save": LIST_MANAGEDSAVE,
    "without_managed_save": LIST_NO_MANAGEDSAVE,
    "state_running": LIST_RUNNING,
    "state_paused": LIST_PAUSED,
    "state_shutoff": LIST_SHUTOFF,
    "state_other": LIST_OTHER,
}


def table(header: list[str], rows: list[list[str]]) -> str:
    """virsh's vshTable: cells left-aligned, a space before each and two after
    all but the last, then a dashed line as wide as the columns plus three each."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        padded = [f" {cell:<{widths[i]}}  " for i, cell in enumerate(cells[:-1])]
        return "".join(padded) + f" {cells[-1]}\n"

    return line(header) + "-" * sum(w + 3 for w in widths) + "\n" + "".join(map(line, rows))


def check_mode(verb: str, name: str, modes: str | None) -> None:
    """virsh's --mode list: unknown words as virsh refuses them, modes OpenVZ cannot
    do as libvirt's driver refuses their flags."""
    from openvz.errors import InvalidArgument, NotSupported

    if modes is None:
        return
    words = [word for word in modes.split(",") if word]
    flags = 0
    for word in words:
        if word not in SHUTDOWN_MODES:
            raise InvalidArgument(
                f"Unknown mode {word} value, expecting "
                "'acpi', 'agent', 'initctl', 'signal' or 'paravirt'"
            )
        flags |= SHUTDOWN_MODES[word]
    if flags & ~SHUTDOWN_MODES[OPENVZ_SHUTDOWN_MODE]:
        does = {"shutdown": "shuts down", "reboot": "reboots"}[verb]
        raise NotSupported(
            f"Failed to {verb} domain '{name}'\n"
            f"error: unsupported flags (0x{flags & ~SHUTDOWN_MODES[OPENVZ_SHUTDOWN_MODE]:x}): "
            f"OpenVZ {does} a container through its init only (--mode {OPENVZ_SHUTDOWN_MODE})"
        )


def state_name(dom: Domain) -> str:
    return STATE_NAMES.get(dom.message.state, "no state")


@command(
    "list",
    "list containers",
    [
        (("--all",), {**FLAG, "help": "active and inactive"}),
        (("--inactive",), FLAG),
        *[((f"--{name.replace('_', '-')}",), FLAG) for name in LIST_FILTERS],
        (("--name",), {**FLAG, "help": "names only"}),
        (("--uuid",), {**FLAG, "help": "UUIDs only (with --name: both)"}),
        (("--id",), {**FLAG, "help": "IDs of running containers only"}),
        (("--table",), {**FLAG, "help": "the table (the default)"}),
        (("--title",), {**FLAG, "help": "a Title column"}),
        *JSON,
    ],
)
def cmd_list(args: argparse.Namespace) -> None:
    from openvz.errors import InvalidArgument

    if args.table and (args.name or args.uuid or args.id):
        raise InvalidArgument("--table cannot be combined with --name, --uuid or --id")
    flags = LIST_ACTIVE
    if args.inactive:
        flags = LIST_INACTIVE
    if args.all:
        flags = LIST_ACTIVE | LIST_INACTIVE
    for name, bit in LIST_FILTERS.items():
        if getattr(args, name):
            flags |= bit
    names_only = (args.name or args.id) and not (args.uuid or args.json)
    with connect(args) as conn:
        domains = conn.list_all_domains(flags, names_only=bool(names_only))
    if args.json:
        print_json([as_dict(d.message) for d in domains])
    elif args.id or args.name or args.uuid:
        for dom in domains:
            if args.id:
                if dom.message.id >= 0:
                    print(dom.message.id)
            elif args.uuid and args.name:
                print(f"{dom.uuid_string():<36} {dom.name()}")
            else:
                print(dom.uuid_string() if args.uuid else dom.name())
    else:
        header = ["Id", "Name", "State", *(["Title"] if args.title else [])]
        rows = [
            [
                str(dom.message.id) if dom.message.id >= 0 else "-",
                dom.name(),
                state_name(dom),
                *([dom.message.title] if args.title else []),
            ]
            for dom in domains
        ]
        print(table(header, rows), end="")


@command("dominfo", "show a container's basic information", [*DOMAIN, *JSON])
def cmd_dominfo(args: argparse.Namespace) -> None:
    with connect(args) as conn:
        info = _domain(conn, args).info()
    if args.json:
        print_json(as_dict(info))
        return
    d = info.domain
    rows: list[tuple[str, object]] = [
        ("Id", d.id if d.id >= 0 else "-"),
        ("Name", d.name),
        ("UUID", d.uuid),
        ("OS Type", info.os_type),
        ("State", STATE_NAMES.get(d.state, "no state")),
        ("CPU(s)", info.vcpus),
    ]
    if info.cpu_time_ns:
        rows.append(("CPU time", f"{info.cpu_time_ns / 1e9:.1f}s"))
    rows += [
        ("Max memory", f"{info.max_memory_kib} KiB" if info.max_memory_kib else "no limit"),
        ("Used memory", f"{info.memory_kib} KiB"),
        ("Persistent", "yes" if d.persistent else "no"),
        ("Autostart", "enable" if d.autostart else "disable"),
        ("Managed save", "yes" if info.has_managed_save else "no"),
    ]
    # OpenVZ's own, after virsh's fields (as virsh itself adds the security ones).
    if d.hostname:
        rows.append(("Hostname", d.hostname))
    if d.ostemplate:
        rows.append(("OS template", d.ostemplate))
    print_fields(rows, 15)


@command("domstate", "the container's state", [*DOMAIN, (("--reason",), FLAG), *JSON])
def cmd_domstate(args: argparse.Namespace) -> None:
    with connect(args) as conn:
        state, reason = _domain(conn, args).state()
    if args.json:
        print_json({"state": state, "reason": reason})
    else:
        print(f"{state} ({reason})" if args.reason else state)


def _identity(name: str, help_text: str, value: str) -> None:
    def run(args: argparse.Namespace) -> None:
        with connect(args) as conn:
            dom = _domain(conn, args)
        identity = {"id": dom.message.id, "name": dom.name(), "uuid": dom.uuid_string()}
        if args.json:
            print_json(identity)
        elif value == "id":
            print(dom.message.id if dom.message.id >= 0 else "-")
        else:
            print(identity[value])

    command(name, help_text, [*DOMAIN, *JSON])(run)


_identity("domid", "the ID of a running container", "id")
_identity("domname", "the name of a container", "name")
_identity("domuuid", "the UUID of a container", "uuid")


@command("domhostname", "the container's host name", [*DOMAIN, *JSON])
def cmd_domhostname(args: argparse.Namespace) -> None:
    from openvz.errors import WrongState

    with connect(args) as conn:
        dom = _domain(conn, args)
        hostname = dom.hostname()
    if not hostname:
        # virsh's two lines, as libvirt's OpenVZ driver words it.
        raise WrongState(
            "failed to get hostname\n"
            f"error: operation failed: Hostname of '{dom.name()}' is unassigned"
        )
    print_json({"hostname": hostname}) if args.json else print(hostname)


@command(
    "dumpxml",
    "the container's domain XML",
    [
        *DOMAIN,
        (("--inactive",), FLAG),
        # virsh's; an OpenVZ container's XML has no secrets and nothing host-specific to drop.
        (("--security-info",), {**FLAG, "help": "accepted: the XML is the same"}),
        (("--migratable",), {**FLAG, "help": "accepted: the XML is the same"}),
        *JSON,
    ],
)
def cmd_dumpxml(args: argparse.Namespace) -> None:
    with connect(args) as conn:
        xml = _domain(conn, args).xml_desc(inactive=args.inactive)
    print_json({"xml": xml}) if args.json else print(xml, end="")


@command(
    "domstats", "CPU, memory and beancounter statistics", [(("domain",), {"nargs": "*"}), *JSON]
)
def cmd_domstats(args: argparse.Namespace) -> None:
    with connect(args) as conn:
        if args.domain:
            stats = conn.domain_list_get_stats([conn.lookup(name) for name in args.domain])
        else:
            stats = conn.get_all_domain_stats()
    if args.json:
        print_json([as_dict(s) for s in stats])
        return
    blocks = []
    for s in stats:
        lines = [
            f"Domain: '{s.domain.name}'",
            f"  state.state={s.domain.state}",
            f"  cpu.time={s.cpu_time_ns}",
            f"  cpu.user={s.cpu_user_ns}",
            f"  cpu.system={s.cpu_system_ns}",
            f"  balloon.current={s.memory_used_kib}",
            f"  balloon.maximum={s.memory_limit_kib}",
            f"  disk.used={s.disk_used_kib}",
            f"  disk.soft_limit={s.disk_soft_limit_kib}",
            f"  disk.hard_limit={s.disk_hard_limit_kib}",
        ]
        # /proc/user_beancounters repeats its "dummy" placeholder rows: they count nothing.
        for bc in (bc for bc in s.beancounters if bc.resource != "dummy"):
            for field in ("held", "maxheld", "barrier", "limit", "failcnt"):
                lines.append(f"  ubc.{bc.resource}.{field}={getattr(bc, field)}")
        blocks.append("\n".join(lines) + "\n")
    print("\n".join(blocks), end="")


MEMTUNE = [
    ("hard_limit", "hard_limit_kib"),
    ("soft_limit", "soft_limit_kib"),
    ("swap_hard_limit", "swap_hard_limit_kib"),
    ("min_guarantee", "min_guarantee_kib"),
]


@command(
    "memtune",
    "show or set memory parameters (sizes in KiB, or with a unit like 512M)",
    [
        *DOMAIN,
        *[((f"--{name.replace('_', '-')}",), {"metavar": "SIZE"}) for name, _ in MEMTUNE],
        *AFFECT,
        *JSON,
    ],
)
def cmd_memtune(args: argparse.Namespace) -> None:
    from openvz.errors import InvalidArgument

    changes = {}
    for name, field in MEMTUNE:
        value = getattr(args, name)
        if value is None:
            continue
        if value == "-1":
            raise InvalidArgument(
                f"--{name.replace('_', '-')} -1 (unlimited) cannot be set on OpenVZ; give a size"
            )
        changes[field] = kib(value)
    with connect(args) as conn:
        dom = _domain(conn, args)
        if changes:
            run_job(args, lambda: dom.set_memory_parameters(wait=False, **changes))
            return
        params = dom.memory_parameters()
    if args.json:
        print_json(as_dict(params))
        return
    # The fields this driver reports, as virsh prints them: `%-15s: %s`.
    for name, field in MEMTUNE[:3]:
        value = getattr(params, field)
        print(f"{name:<15}: {value or 'unlimited'}")


# -- changes ---------------------------------------------------------------------------


def _define(name: str, method: str, verb: str, help_text: str) -> None:
    def run(args: argparse.Namespace) -> None:
        xml = read_file(args.file)
        with connect(args) as conn:
            run_job(
                args,
                lambda: getattr(conn, method)(xml, wait=False),
                lambda job: f"Domain '{job.message.result_veid}' {verb} from {args.file}",
            )

    command(name, help_text, [*named("file"), *NO_WAIT])(run)


_define("define", "define_xml", "defined", "define a container from domain XML")
_define("create", "create_xml", "created", "define and start a container from domain XML")


def _simple(name: str, method: str, done: str, help_text: str) -> None:
    def run(args: argparse.Namespace) -> None:
        with connect(args) as conn:
            dom = _domain(conn, args)
            run_job(args, lambda: getattr(dom, method)(wait=False), done.format(dom.name()))

    command(name, help_text, [*DOMAIN, *NO_WAIT])(run)


_simple("start", "create", "Domain '{}' started", "start a container")
_simple(
    "destroy", "destroy", "Domain '{}' destroyed", "stop a container at once (vzctl stop --fast)"
)


@command(
    "shutdown",
    "stop a container gracefully",
    [
        *DOMAIN,
        (
            ("--timeout",),
            {
                "type": int,
                "default": 0,
                "help": "seconds to halt before it is killed (default: the host's STOP_TIMEOUT)",
            },
        ),
        *MODE,
        *NO_WAIT,
    ],
)
def cmd_shutdown(args: argparse.Namespace) -> None:
    if not 0 <= args.timeout <= 86400:
        from openvz.errors import InvalidArgument

        raise InvalidArgument(f"--timeout {args.timeout}: give 0 to 86400 seconds")
    with connect(args) as conn:
        dom = _domain(conn, args)
        check_mode("shutdown", dom.name(), args.mode)
        run_job(
            args,
            lambda: dom.shutdown(timeout=args.timeout, wait=False),
            f"Domain '{dom.name()}' is being shutdown",
        )


@command("reboot", "restart a container", [*DOMAIN, *MODE, *NO_WAIT])
def cmd_reboot(args: argparse.Namespace) -> None:
    with connect(args) as conn:
        dom = _domain(conn, args)
        check_mode("reboot", dom.name(), args.mode)
        run_job(args, lambda: dom.reboot(wait=False), f"Domain '{dom.name()}' is being rebooted")


_simple("suspend", "suspend", "Domain '{}' suspended", "freeze a container's processes")
_simple("resume", "resume", "Domain '{}' resumed", "thaw a frozen container")


@command(
    "undefine",
    "remove a container; its private area is kept unless --remove-all-storage",
    [*DOMAIN, (("--remove-all-storage",), FLAG), *NO_WAIT],
)
def cmd_undefine(args: argparse.Namespace) -> None:
    # As virsh does, storage stays unless --remove-all-storage says otherwise.
    with connect(args) as conn:
        dom = _domain(conn, args)
        run_job(
            args,
            lambda: dom.undefine(keep_storage=not args.remove_all_storage, wait=False),
            # virsh's line; and when storage was to go but some stayed (a directory
            # openvzd did not create, outside the private roots), what stayed.
            lambda job: "\n".join(
                filter(
                    None,
                    [
                        f"Domain '{dom.name()}' has been undefined",
                        job.message.outcome if args.remove_all_storage else "",
                    ],
                )
            ),
        )


@command(
    "autostart", "start the container at host boot", [*DOMAIN, (("--disable",), FLAG), *NO_WAIT]
)
def cmd_autostart(args: argparse.Namespace) -> None:
    with connect(args) as conn:
        dom = _domain(conn, args)
        word = "unmarked as" if args.disable else "marked as"
        run_job(
            args,
            lambda: dom.set_autostart(not args.disable, wait=False),
            f"Domain '{dom.name()}' {word} autostarted",
        )


@command(
    "setvcpus",
    "set the number of CPUs",
    [
        *DOMAIN,
        *named("count", type=int),
        *AFFECT,
        (("--maximum",), {**FLAG, "help": "refused: OpenVZ has no separate maximum"}),
        (("--guest",), {**FLAG, "help": "refused: OpenVZ has no guest agent"}),
        (("--hotpluggable",), FLAG),
        *NO_WAIT,
    ],
)
def cmd_setvcpus(args: argparse.Namespace) -> None:
    from openvz.errors import NotSupported

    # virsh's flag values: VIR_DOMAIN_VCPU_MAXIMUM 4, _GUEST 8, _HOTPLUGGABLE 16.
    refused = 4 * args.maximum | 8 * args.guest | 16 * args.hotpluggable
    if refused:
        raise NotSupported(
            f"unsupported flags (0x{refused:x}): OpenVZ sets a container's CPU count "
            "(vzctl set --cpus) and nothing else"
        )
    with connect(args) as conn:
        dom = _domain(conn, args)
        run_job(args, lambda: dom.set_vcpus(args.count, wait=False))


@command(
    "setmem",
    "set the memory (KiB, or with a unit like 512M)",
    [*DOMAIN, *named("size"), *AFFECT, *NO_WAIT],
)
def cmd_setmem(args: argparse.Namespace) -> None:
    size = kib(args.size)
    with connect(args) as conn:
        dom = _domain(conn, args)
        run_job(args, lambda: dom.set_memory(size, wait=False))


@command(
    "set-user-password",
    "set a user's password inside the container: asked for on a terminal, else one line "
    "read from standard input",
    [
        *DOMAIN,
        (("user",), {}),
        (
            ("password",),
            {
                "nargs": "?",
                "help": "virsh's form, for scripts that must: the password on the command "
                "line, where other local users can read it",
            },
        ),
        *NO_WAIT,
    ],
)
def cmd_set_user_password(args: argparse.Namespace) -> None:
    password = args.password if args.password is not None else _read_password(args.user)
    with connect(args) as conn:
        dom = _domain(conn, args)
        run_job(
            args,
            lambda: dom.set_user_password(args.user, password, wait=False),
            f"Password set successfully for {args.user} in {dom.name()}",
        )


def _read_password(user: str) -> str:
    """The new password without it ever being on a command line: typed twice
    on a terminal (not echoed), else the first line of standard input."""
    import getpass
    import sys

    from openvz.errors import InvalidArgument

    if sys.stdin.isatty():
        password = getpass.getpass(f"New password for {user}: ")
        if password and getpass.getpass("Retype the new password: ") != password:
            raise InvalidArgument("the two passwords differ; nothing was changed")
    else:
        password = sys.stdin.readline().removesuffix("\n").removesuffix("\r")
    if not password:
        raise InvalidArgument(
            "no password given: type it when asked, or give it as one line on standard input "
            "(printf '%s\\n' \"$PW\" | ovzsh set-user-password DOMAIN USER)"
        )
    return password


@command("set-hostname", "set the container's host name", [*DOMAIN, *named("hostname"), *NO_WAIT])
def cmd_set_hostname(args: argparse.Namespace) -> None:
    with connect(args) as conn:
        dom = _domain(conn, args)
        run_job(args, lambda: dom.set_hostname(args.hostname, wait=False))


@command(
    "migrate",
    "move a container to another host (vzmigrate)",
    [
        (("--live",), {**FLAG, "help": "online migration (vzmigrate --online)"}),
        (("--keep-source",), {**FLAG, "help": "keep the source's copy (vzmigrate -r no)"}),
        (("--verbose",), {**FLAG, "help": "accepted for virsh's sake: a terminal shows progress"}),
        *DOMAIN,
        *named("desturi", help="openvz+ssh://HOST/system, or the host itself"),
        *NO_WAIT,
    ],
)
def cmd_migrate(args: argparse.Namespace) -> None:
    with connect(args) as conn:
        dom = _domain(conn, args)
        run_job(
            args,
            lambda: dom.migrate(
                args.desturi, online=args.live, keep_source=args.keep_source, wait=False
            ),
            f"Domain '{dom.name()}' migrated to {args.desturi}",
            label="Migration",
        )
