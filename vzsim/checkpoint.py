"""chkpnt/suspend and restore/resume, plus start's restore-from-dump path (openvz-tools.md §9)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from vzsim import lifecycle
from vzsim.console import VzError
from vzsim.context import Context
from vzsim.kernel import RunningCT
from vzsim.locking import host_lock

CHKPNT_SUBCOMMANDS = ("suspend", "dump", "kill", "resume")
RESTORE_SUBCOMMANDS = ("undump", "kill", "resume")


def start(ctx: Context) -> int:
    """[4.x] a CT with DUMPDIR/Dump.CTID is restored instead of booted."""
    if (
        not ctx.personality.is_legacy
        and ctx.ct.dump_path.exists()
        and ctx.ctid not in ctx.kernel.load()
        and ctx.ct.private_path.is_dir()
    ):
        dump_host = ctx.host.dump_file_host(ctx.ctid)
        ctx.console.info(f"Dump file {dump_host} exists, trying to restore from it")
        return _full_restore(ctx, ctx.ct.dump_path)
    return lifecycle.start(ctx)


def restart(ctx: Context) -> int:
    ctx.console.info("Restarting container")
    if ctx.ctid in ctx.kernel.load():
        code = lifecycle.stop(ctx)
        if code:
            return code
    return start(ctx)


def _set_frozen(ctx: Context, frozen: bool) -> None:
    with host_lock(ctx.host.state_dir):
        running = ctx.kernel.load()
        running[ctx.ctid].frozen = frozen
        ctx.kernel.commit(running)


def _dump_path(ctx: Context) -> Path:
    explicit = ctx.last("dumpfile")
    return ctx.host.path(explicit) if explicit else ctx.ct.dump_path


def _write_dump(ctx: Context, path: Path) -> None:
    entry = ctx.kernel.load()[ctx.ctid]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"ctid": ctx.ctid, "state": entry.to_dict()}))


def _one_subcommand(ctx: Context, allowed: tuple[str, ...]) -> str | None:
    chosen = [name for name in allowed if ctx.has(name)]
    if len(chosen) > 1:
        raise VzError(20, "Invalid syntax: only one sub command may be used")
    return chosen[0] if chosen else None


def chkpnt(ctx: Context) -> int:
    console = ctx.console
    sub = _one_subcommand(ctx, CHKPNT_SUBCOMMANDS)
    if ctx.ctid not in ctx.kernel.load():
        raise VzError(31, "Unable to setup checkpointing: container is not running")
    if sub == "resume":
        console.info("Resuming...")
        _set_frozen(ctx, False)
        return 0
    if sub == "kill":
        console.info("Killing...")
        lifecycle.kill(ctx)
        ctx.host.set_mounted(ctx.ctid, False)
        return 0
    if sub == "dump" and not ctx.has("dumpfile"):
        raise VzError(16, "Error: dumpfile is not specified")
    console.info("Setting up checkpoint...")
    ctx.delay("chkpnt")
    if sub in (None, "suspend"):
        console.info("\tsuspend...")
        _set_frozen(ctx, True)
    if sub in (None, "dump"):
        console.info("\tdump...")
        _write_dump(ctx, _dump_path(ctx))
    if sub is None:
        console.info("\tkill...")
        lifecycle.kill(ctx)
    console.info("Checkpointing completed successfully")
    if sub is None:
        ctx.host.set_mounted(ctx.ctid, False)
        console.info("Container is unmounted")
    return 0


def _read_dump(ctx: Context, path: Path) -> RunningCT:
    try:
        data = json.loads(path.read_text())
        return RunningCT(**data["state"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        shown = ctx.last("dumpfile") or ctx.host.dump_file_host(ctx.ctid)
        raise VzError(
            17, f"Unable to open {shown}: No such file or directory", "Restoring failed"
        ) from error


def _undump(ctx: Context, path: Path) -> None:
    entry = _read_dump(ctx, path)
    if not ctx.ct.mounted:
        ctx.ct.root_path.mkdir(parents=True, exist_ok=True)
        ctx.host.set_mounted(ctx.ctid, True)
        ctx.console.info("Container is mounted")
    ctx.console.info("\tundump...")
    entry.start = time.time()
    entry.frozen = True
    with host_lock(ctx.host.state_dir):
        running = ctx.kernel.load()
        running[ctx.ctid] = entry
        ctx.kernel.commit(running)


def _full_restore(ctx: Context, path: Path) -> int:
    ctx.console.info("Restoring container ...")
    ctx.delay("restore")
    _undump(ctx, path)
    ctx.console.info("\tresume...")
    _set_frozen(ctx, False)
    ctx.console.info("Restoring completed successfully")
    if not ctx.personality.is_legacy:
        path.unlink(missing_ok=True)
    return 0


def restore(ctx: Context) -> int:
    sub = _one_subcommand(ctx, RESTORE_SUBCOMMANDS)
    running = ctx.ctid in ctx.kernel.load()
    if sub is None:
        if running:
            raise VzError(32, "Unable to perform restore: container already running")
        return _full_restore(ctx, _dump_path(ctx))
    if sub == "undump":
        if running:
            raise VzError(32, "Unable to perform restore: container already running")
        if not ctx.has("dumpfile"):
            raise VzError(17, "Error: dumpfile is not specified")
        ctx.console.info("Restoring container ...")
        _undump(ctx, _dump_path(ctx))
        return 0
    if not running:
        raise VzError(31, "Container is not running")
    if sub == "resume":
        ctx.console.info("\tresume...")
        _set_frozen(ctx, False)
        ctx.console.info("Restoring completed successfully")
        return 0
    ctx.console.info("Killing...")
    lifecycle.kill(ctx)
    ctx.host.set_mounted(ctx.ctid, False)
    return 0
