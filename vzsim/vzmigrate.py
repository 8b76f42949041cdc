"""The vzmigrate stand-in (openvz-tools.md §8). DEST is another simulated ROOT, not a host
reached by ssh; every remote step runs DEST's own vzctl, as the real script does over ssh."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from vzsim import getopt, knobs, toolrun
from vzsim.console import Console, VzError
from vzsim.container import Container
from vzsim.host import Host, parse_ctid
from vzsim.kernel import Kernel
from vzsim.locking import acquire_ct_lock, release_ct_lock
from vzsim.personality import PERSONALITIES, Personality
from vzsim.toolrun import run_tool

MODERN_OPTIONS = {
    "remove-area": True,
    "ssh": True,
    "rsync": True,
    "keep-dst": False,
    "online": False,
    "live": False,
    "check-only": False,
    "dry-run": False,
    "nodeps": False,
    "times": False,
    "ssh-mux": False,
    "verbose": False,
    "compact": False,
    "snapshot": False,
}
LEGACY_OPTIONS = {
    "remove-area": True,
    "ssh": True,
    "keep-dst": False,
    "online": False,
    "verbose": False,
}
SHORT_OPTIONS = {
    "r": "remove-area",
    "v": "verbose",
    "f": "nodeps",
    "t": "times",
    "c": "compact",
    "s": "snapshot",
}
ACTION_SCRIPTS = ("mount", "umount", "start", "stop", "premount", "postumount")
USAGE = """Usage: vzmigrate [-r yes|no] [--ssh=<options>] [--keep-dst] [--online|--live]
       [-v] [--check-only] destination_address <CTID>
Options:
-r, --remove-area yes|no
\tWhether to remove container on source host after successful migration.
--ssh=<ssh options>
\tAdditional options that will be passed to ssh while establishing
\tconnection to destination host.
--keep-dst
\tDo not clean synced destination container private area in case of some error.
--online, --live
\tPerform online (live) migration.
Note: in vzsim the destination address is the ROOT folder of another simulated host."""


class Migration:
    def __init__(
        self,
        source: Host,
        dest: Host,
        ctid: int,
        personality: Personality,
        console: Console,
        options: getopt.Options,
    ) -> None:
        self.source = source
        self.dest = dest
        self.ctid = ctid
        self.personality = personality
        self.console = console
        self.names = {name for name, _ in options}
        self.remove_area = dict(options).get("remove-area", "yes") != "no"
        self.live = bool(self.names & {"online", "live"})
        self.ct = Container(source, ctid)

    def vzctl(self, host: Host, *args: str) -> int:
        tool = host.root / "usr" / "sbin" / "vzctl"
        skiplock = ["--skiplock"] if host is self.source and not self.personality.is_legacy else []
        result = subprocess.run([str(tool), "--quiet", *skiplock, *args], check=False)
        return result.returncode

    def run(self) -> int:
        ct, dest = self.ct, self.dest
        if ct.config is None or not ct.private_path.is_dir():
            raise VzError(10, f"Error: CT {self.ctid} does not exist")
        running = self.ctid in Kernel(self.source).load()
        if self.live and not running:
            raise VzError(2, f"Error: CT {self.ctid} is not running, can't perform live migration")
        kind = "live migration" if self.live else "migration"
        self.console.info(f"Starting {kind} of CT {self.ctid} to {dest.root}")
        if dest.vz_conf is None or not (dest.proc_dir / "vz").is_dir():
            raise VzError(14, "Error: OpenVZ is not running on the destination node")
        if dest.conf_file(self.ctid).exists():
            raise VzError(9, f"Error: CT {self.ctid} already exists on destination node")
        in_use = (
            (dest.proc_dir / "vz" / "veip").read_text().split()
            if (dest.proc_dir / "vz" / "veip").exists()
            else []
        )
        for ip in ct.ip_list():
            if ip.split("/")[0] in in_use:
                raise VzError(
                    12, f"Error: IP address {ip.split('/')[0]} already in use on destination node"
                )
        if self.names & {"check-only", "dry-run"}:
            return 0
        try:
            self._copy()
            if self.live:
                self._move_live()
            elif running:
                self._move_offline()
        except VzError:
            self._undo(running)
            raise
        self._cleanup_source()
        return 0

    def _copy(self) -> None:
        self.console.info("Preparing remote node")
        dest_conf = self.dest.conf_file(self.ctid)
        shutil.copyfile(self.ct.conf_path, dest_conf)
        name = (self.ct.config or {}).get("NAME")
        if name:
            owner = self.dest.resolve_name(name)
            if owner is not None and owner != self.ctid:
                raise VzError(15, "Error: Unable to set CT name on destination node")
            self.dest.names_dir.mkdir(parents=True, exist_ok=True)
            link = self.dest.names_dir / name
            link.unlink(missing_ok=True)
            os.symlink(self.dest.conf_file_host(self.ctid), link)
        for suffix in ACTION_SCRIPTS:
            script = self.source.conf_dir / f"{self.ctid}.{suffix}"
            if script.exists():
                shutil.copy2(script, self.dest.conf_dir / script.name)
        self.console.info("Syncing private")
        dest_private = Container(self.dest, self.ctid).private_path
        dest_private.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(self.ct.private_path, dest_private, symlinks=True)

    def _move_offline(self) -> None:
        self.console.info("Stopping container")
        if self.vzctl(self.source, "stop", str(self.ctid)):
            raise VzError(8, f"Error: Failed to stop CT {self.ctid}")
        self.console.info("Starting container")
        if self.vzctl(self.dest, "start", str(self.ctid)):
            raise VzError(7, f"Error: Failed to start CT {self.ctid} on destination node")

    def _move_live(self) -> None:
        ctid = str(self.ctid)
        dump_host = f"{self.source.dump_dir_host}/dump.{ctid}"
        self.console.info("Live migrating container...")
        if self.vzctl(self.source, "chkpnt", ctid, "--suspend") or self.vzctl(
            self.source, "chkpnt", ctid, "--dump", "--dumpfile", dump_host
        ):
            raise VzError(8, f"Error: Failed to suspend CT {ctid}")
        self.console.info("Copying dumpfile")
        dest_dump_host = f"{self.dest.dump_dir_host}/dump.{ctid}"
        dest_dump = self.dest.path(dest_dump_host)
        dest_dump.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(self.source.path(dump_host), dest_dump)
        self.console.info("Undumping container")
        if self.vzctl(
            self.dest, "restore", ctid, "--undump", "--dumpfile", dest_dump_host, "--skip_arpdetect"
        ) or self.vzctl(self.dest, "restore", ctid, "--resume"):
            self.vzctl(self.source, "chkpnt", ctid, "--resume")
            raise VzError(7, f"Error: Failed to undump CT {ctid} on destination node")
        dest_dump.unlink(missing_ok=True)
        self.vzctl(self.source, "chkpnt", ctid, "--kill")

    def _undo(self, was_running: bool) -> None:
        if "keep-dst" not in self.names:
            shutil.rmtree(Container(self.dest, self.ctid).private_path, ignore_errors=True)
        self.dest.conf_file(self.ctid).unlink(missing_ok=True)
        if was_running and self.ctid not in Kernel(self.source).load():
            self.vzctl(self.source, "start", str(self.ctid))

    def _cleanup_source(self) -> None:
        self.console.info("Cleanup")
        if self.remove_area:
            self.vzctl(self.source, "destroy", str(self.ctid))
        else:
            os.replace(self.ct.conf_path, self.ct.conf_path.with_name(f"{self.ctid}.conf.migrated"))


def main(root: Path, argv: list[str]) -> int:
    return run_tool(root, "vzmigrate", argv, lambda: _run(root, argv))


def _run(root: Path, argv: list[str]) -> int:
    source = Host(root)
    settings = knobs.load(source.state_dir)
    personality = PERSONALITIES.get(settings.personality, PERSONALITIES["4.x"])
    console = Console("vzmigrate")
    table = LEGACY_OPTIONS if personality.is_legacy else MODERN_OPTIONS
    shorts = {k: v for k, v in SHORT_OPTIONS.items() if v in table}
    lock: Path | None = None
    try:
        options, positionals = getopt.parse("vzmigrate", argv, table, shorts, error_code=1)
        if personality.is_legacy:
            for name, value in options:
                console.info(f"OPT:--{name}{'=' + value if value else ''}")
        if len(positionals) != 2:
            print(USAGE, file=sys.stderr)
            return 1
        dest_text, ctid_text = positionals
        ctid = parse_ctid(ctid_text)
        if ctid is None and not personality.is_legacy:
            ctid = source.resolve_name(ctid_text)
        if ctid is None:
            raise VzError(1, f"Error: invalid CT ID {ctid_text}")
        dest_root = Path(dest_text)
        if not dest_root.is_absolute() or not dest_root.is_dir():
            raise VzError(
                4,
                "Error: can't connect to destination address using public key "
                "authentication, and can't proceed.",
            )
        if not personality.is_legacy:
            lock = _lock(source, ctid, console)
        fault = knobs.take_fault(source.state_dir, settings, "vzmigrate")
        if fault is not None and fault.exit is not None:
            raise VzError(fault.exit, "vzsim: injected failure of vzmigrate")
        if settings.delays.get("vzmigrate"):
            time.sleep(settings.delays["vzmigrate"])
        migration = Migration(
            source, Host(dest_root.resolve()), ctid, personality, console, options
        )
        return migration.run()
    except VzError as failure:
        console.report(failure)
        return failure.code
    finally:
        if lock is not None:
            release_ct_lock(lock)


def _lock(source: Host, ctid: int, console: Console) -> Path:
    """[4.7+] vzmigrate holds the CT's vzctl lock itself and calls vzctl --skiplock."""
    try:
        lock = acquire_ct_lock(
            source.lock_dir,
            source.global_value("LOCKDIR", "/vz/lock"),
            ctid,
            console,
            show_holder=False,
        )
    except VzError as error:
        pid = (
            (source.lock_dir / f"{ctid}.lck").read_text().split("\n", 1)[0]
            if (source.lock_dir / f"{ctid}.lck").exists()
            else "?"
        )
        raise VzError(20, f"Error: CT {ctid} already locked by PID {pid}") from error
    console.info(f"Locked CT {ctid}")
    return lock


def entry_point(script: str) -> None:
    """Called by ROOT/usr/sbin/vzmigrate; ROOT is two levels above the script's folder."""
    toolrun.entry_point(script, main)
