"""The vzctl stand-in: global flags, command and CTID checks, the CT lock, dispatch
(openvz-tools.md §1.1)."""

from __future__ import annotations

import importlib
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

from vzsim import faults, getopt, knobs, toolrun
from vzsim.console import Console, VzError
from vzsim.container import Container
from vzsim.context import Context
from vzsim.host import VZ_CONF, Host, parse_ctid
from vzsim.kernel import Kernel
from vzsim.locking import acquire_ct_lock, release_ct_lock
from vzsim.personality import PERSONALITIES, Personality
from vzsim.toolrun import run_tool

Handler = Callable[[Context], int]


class Command:
    """A vzctl command; its module is imported only when run, to keep start-up light.

    `options` is the getopt table, or the name of the module attribute holding it.
    """

    def __init__(
        self,
        module: str,
        handler: str,
        options: dict[str, bool] | str,
        locks: bool = True,
        modern_only: bool = False,
    ) -> None:
        self.module = module
        self.handler_name = handler
        self.option_source = options
        self.locks = locks
        self.modern_only = modern_only

    def load(self) -> tuple[Handler, dict[str, bool], dict[str, str] | None]:
        module = importlib.import_module(self.module)
        options = self.option_source
        if isinstance(options, str):
            options = getattr(module, options)
        handler: Handler = getattr(module, self.handler_name)
        return handler, options, getattr(module, "SHORT_OPTIONS", None)


CREATE_OPTIONS = {
    name: True
    for name in (
        "ostemplate",
        "config",
        "private",
        "root",
        "ipadd",
        "hostname",
        "name",
        "description",
        "layout",
        "diskspace",
        "diskinodes",
        "local_uid",
        "local_gid",
    )
}
START_OPTIONS = {"wait": False, "force": False, "skip-fsck": False, "skip-remount": False}
STOP_OPTIONS = {"fast": False, "skip-umount": False}
CPT_COMMON = {"dumpfile": True, "context": True, "flags": True, "skip_arpdetect": False}
CHKPNT_OPTIONS = {**CPT_COMMON, "suspend": False, "dump": False, "kill": False, "resume": False}
RESTORE_OPTIONS = {**CPT_COMMON, "undump": False, "kill": False, "resume": False}
LIFECYCLE = "vzsim.lifecycle"
CHECKPOINT = "vzsim.checkpoint"
EXEC = "vzsim.execcmd"

COMMANDS: dict[str, Command] = {
    "create": Command(LIFECYCLE, "create", CREATE_OPTIONS),
    "destroy": Command(LIFECYCLE, "destroy", {}),
    "delete": Command(LIFECYCLE, "destroy", {}, modern_only=True),
    "start": Command(CHECKPOINT, "start", START_OPTIONS),
    "stop": Command(LIFECYCLE, "stop", STOP_OPTIONS),
    "restart": Command(CHECKPOINT, "restart", {**START_OPTIONS, **STOP_OPTIONS}),
    "status": Command(LIFECYCLE, "status", {}, locks=False),
    "mount": Command(LIFECYCLE, "mount", {}),
    "umount": Command(LIFECYCLE, "umount", {}),
    "set": Command("vzsim.setcmd", "set_command", "SET_OPTIONS"),
    "chkpnt": Command(CHECKPOINT, "chkpnt", CHKPNT_OPTIONS),
    "suspend": Command(CHECKPOINT, "chkpnt", CHKPNT_OPTIONS, modern_only=True),
    "restore": Command(CHECKPOINT, "restore", RESTORE_OPTIONS),
    "resume": Command(CHECKPOINT, "restore", RESTORE_OPTIONS, modern_only=True),
    "exec": Command(EXEC, "exec_command", {}, locks=False),
    "exec2": Command(EXEC, "exec_command", {}, locks=False),
    "exec3": Command(EXEC, "exec_command", {}, locks=False),
    "enter": Command("vzsim.enter", "enter", {}, locks=False),
    "console": Command("vzsim.consoletty", "console", {}, modern_only=True, locks=False),
}
# Commands whose arguments after the CTID are theirs, not vzctl options.
RAW_ARGUMENTS = ("exec", "exec2", "exec3", "enter", "console")
NO_CONFIG_NEEDED = ("create", "status", "set")

USAGE = """Usage: vzctl [options] <command> <ctid> [parameters]
vzctl create <ctid> [--ostemplate <name>] [--config <name>]
   [--private <path>] [--root <path>] [--ipadd <addr>] [--hostname <name>]
   [--name <name>] [--description <text>] [--diskspace <kbytes>]
vzctl start <ctid> [--force] [--wait] [--skip-fsck] [--skip-remount]
vzctl destroy | mount | umount | status <ctid>
vzctl stop <ctid> [--fast] [--skip-umount]
vzctl restart <ctid> [--wait] [--force] [--fast]
vzctl suspend | chkpnt <ctid> [--dumpfile <name>]
vzctl resume | restore <ctid> [--dumpfile <name>]
vzctl exec | exec2 <ctid> <command> [arg ...]
vzctl enter <ctid> [--exec <command> [arg ...]]
vzctl console <ctid> [ttynum]
vzctl set <ctid> [--save] [--force] [--setmode restart|ignore]
   [--ipadd <addr>] [--ipdel <addr>|all] [--hostname <name>]
   [--nameserver <addr>] [--searchdomain <name>]
   [--onboot yes|no] [--bootorder <N>] [--disabled yes|no]
   [--name <name>] [--description <text>] [--userpasswd <user>:<passwd>]
   [--cpuunits <N>] [--cpulimit <N>[%]] [--cpus <N>] [--cpumask <cpus>]
   [--ram <bytes>[KMG]] [--swap <bytes>[KMG]] [--vm_overcommit <float>]
   [--diskspace <soft>[:<hard>]] [--diskinodes <soft>[:<hard>]]
   [--quotatime <N>] [--quotaugidlimit <N>] [--diskquota yes|no]
   [--netif_add <ifname[,mac,host_ifname,host_mac,bridge]>]
   [--netif_del <ifname>|all] [--ifname <ifname> [--mac <mac>]
   [--host_ifname <name>] [--host_mac <mac>] [--bridge <name>]
   [--mac_filter on|off]] [--features <name:on|off>] [--capability <name:on|off>]
   [--netfilter disabled|stateless|stateful|full] [--iptables <name>]
   [--devices b|c:major:minor|all:r|w|rw|none] [--devnodes <device>:r|w|rw|none]
   [--ioprio <N>] [--iolimit <N>] [--iopslimit <N>] [--stop-timeout <N>]
   [--applyconfig <name>] [--applyconfig_map name] [--reset_ub]
   [UBC parameters: --kmemsize --lockedpages --privvmpages --shmpages
   --numproc --physpages --vmguarpages --oomguarpages --numtcpsock --numflock
   --numpty --numsiginfo --tcpsndbuf --tcprcvbuf --othersockbuf --dgramrcvbuf
   --numothersock --dcachesize --numfile --numiptent --avnumproc --swappages
   <barrier>[:<limit>]]

Options:
  --quiet     Disable output
  --verbose   Set verbose level
  --skiplock  Skip locking (use with care!)"""


def _usage(personality: Personality) -> str:
    return (
        f"vzctl version {personality.version}\nCopyright (C) 2000-2013, Parallels, Inc.\n"
        f"This program may be distributed under the terms of the GNU GPL License.\n\n{USAGE}"
    )


def main(root: Path, argv: list[str]) -> int:
    return run_tool(root, "vzctl", argv, lambda: _run(root, argv))


def _run(root: Path, argv: list[str]) -> int:
    host = Host(root)
    settings = knobs.load(host.state_dir)
    personality = PERSONALITIES.get(settings.personality, PERSONALITIES["4.x"])
    console = Console("vzctl")
    skip_lock = False
    args = list(argv)
    while args and args[0].startswith("--"):
        flag = args[0]
        if flag == "--quiet":
            console.quiet = True
        elif flag == "--verbose" or flag.startswith("--verbose="):
            pass
        elif flag == "--skiplock":
            skip_lock = True
        elif flag == "--version":
            print(f"vzctl version {personality.version}", flush=True)
            return 0
        elif flag == "--help":
            print(_usage(personality), flush=True)
            return 0
        else:
            break
        args.pop(0)
    try:
        return _dispatch(host, settings, personality, console, skip_lock, args)
    except VzError as failure:
        console.report(failure)
        return failure.code


def _dispatch(
    host: Host,
    settings: knobs.Knobs,
    personality: Personality,
    console: Console,
    skip_lock: bool,
    args: list[str],
) -> int:
    if not args:
        print(USAGE, file=sys.stderr, flush=True)
        return 20
    name = args.pop(0)
    command = COMMANDS.get(name)
    if command is None or (command.modern_only and personality.is_legacy):
        raise VzError(20, f"Bad command: {name}")
    if not args:
        raise VzError(21, "CT ID missing")
    ctid_text = args.pop(0)
    ctid = parse_ctid(ctid_text)
    if ctid is None:
        ctid = host.resolve_name(ctid_text)
        if ctid is None:
            raise VzError(21, f"Bad CT ID {ctid_text}")
    if host.vz_conf is None:
        if personality.is_legacy:
            raise VzError(10, f"Global configuration file {VZ_CONF} not found")
        raise VzError(10, f"Unable to open {VZ_CONF}: No such file or directory")
    if host.global_value("LOGGING", "yes") == "yes":
        console.log_file = host.path(host.global_value("LOGFILE", "/var/log/vzctl.log"))
        console.ctid = ctid
    handler, option_table, short_options = command.load()
    if name in RAW_ARGUMENTS:
        options: getopt.Options = []
        positionals = args
    else:
        options, positionals = getopt.parse("vzctl", args, option_table, short_options)
        if positionals:
            label = "Invalid options" if personality.is_legacy else "Invalid extra arguments"
            raise VzError(20, f"{label}: {' '.join(positionals)}")
    if ctid == 0 and name != "set":
        raise VzError(21, "Only set actions are allowed for CT0")
    ct = Container(host, ctid)
    if ct.config is None and name not in NO_CONFIG_NEEDED:
        raise VzError(14, "Container config file does not exist")
    ctx = Context(
        host, Kernel(host), console, personality, settings, ct, name, options, positionals
    )
    if not command.locks or skip_lock:
        return _run_command(ctx, handler, command.locks)
    lock = acquire_ct_lock(
        host.lock_dir,
        host.global_value("LOCKDIR", "/vz/lock"),
        ctid,
        console,
        personality.lock_shows_pid,
    )
    try:
        return _run_command(ctx, handler, command.locks)
    finally:
        release_ct_lock(lock)


def _run_command(ctx: Context, handler: Handler, locks: bool) -> int:
    if ctx.knobs.hold_lock > 0 and locks:
        time.sleep(ctx.knobs.hold_lock)
    fault = knobs.take_fault(ctx.host.state_dir, ctx.knobs, ctx.command)
    if fault is not None:
        if fault.hang:
            while True:
                signal.pause()
        if fault.die_during_config_write:
            faults.arm_die_during_config_write()
        elif fault.exit is not None:
            raise VzError(fault.exit, f"vzsim: injected failure of {ctx.command}")
    code = handler(ctx)
    faults.die_if_armed()
    ctx.kernel.refresh_if_stale()
    return code


def entry_point(script: str) -> None:
    """Called by ROOT/usr/sbin/vzctl; ROOT is two levels above the script's folder."""
    toolrun.entry_point(script, main)
