"""`vzctl set`: apply to a running CT, save with --save, the version-specific outcomes (§1.4)."""

from __future__ import annotations

from vzsim import bridges, checkpoint, conffile, names, network, ubc
from vzsim.console import VzError
from vzsim.context import Context
from vzsim.locking import host_lock
from vzsim.setopts import (
    CONFIGURE_KEYS,
    CPU_KEYS,
    RESTART_KEYS,
    SET_OPTIONS,
    SHORT_OPTIONS,
    SetRequest,
    parse_request,
)

__all__ = ["SET_OPTIONS", "SHORT_OPTIONS", "set_command"]

APPLYCONFIG_KEEPS = ("HOSTNAME", "IP_ADDRESS", "OSTEMPLATE", "VE_ROOT", "VE_PRIVATE")
UBC_KEYS = {name.upper() for name in ubc.KERNEL_PARAMS} | {"AVNUMPROC"}
WARN_NOT_SAVED_RUNNING = (
    "WARNING: Settings were not saved to config and will be lost after CT restart (use --save flag)"
)
WARN_NOT_SAVED_STOPPED = "WARNING: Settings were not saved to config (use --save flag)"
WARN_NOT_SAVED_LEGACY = (
    "WARNING: Settings were not saved and will be resetted to original values on next start"
    " (use --save flag)"
)


def _host_cpus(ctx: Context) -> int:
    try:
        text = (ctx.host.proc_dir / "cpuinfo").read_text()
    except FileNotFoundError:
        return 1
    return max(1, sum(1 for line in text.splitlines() if line.startswith("processor")))


def _check_usage(ctx: Context, save: bool) -> None:
    modern = not ctx.personality.is_legacy
    if ctx.has("name") and not save:
        raise VzError(131, "Error: unable to use --name option without --save")
    for option in ("ostemplate", "stop-timeout"):
        if modern and ctx.has(option) and not save:
            raise VzError(20, f"Error: unable to use --{option} option without --save")
    setmode = ctx.last("setmode")
    if setmode is not None and setmode not in ("restart", "ignore"):
        raise VzError(21, f"Bad parameter for --setmode: {setmode}")
    if setmode == "restart" and not save:
        raise VzError(20, "Error: unable to use --setmode restart option without --save")
    vswap = (ctx.host.proc_dir / "vz" / "vswap").exists()
    if (ctx.has("ram") or ctx.has("swap")) and not ctx.has("force") and not vswap:
        raise VzError(
            21, "Error: kernel does not support vswap, unable to use --ram/--swap parameters"
        )
    if ctx.has("reset_ub") and len(ctx.options) > 1:
        raise VzError(20, "Invalid syntax: --reset_ub must be the only option")


def _applyconfig(ctx: Context) -> dict[str, str]:
    sample_name = ctx.last("applyconfig")
    if sample_name is None:
        return {}
    sample = ctx.host.conf_dir / f"ve-{sample_name}.conf-sample"
    values = conffile.read_config(sample)
    if values is None:
        raise VzError(109, f"Sample config file not found: /etc/vz/conf/{sample.name}")
    return {k: v for k, v in values.items() if k not in APPLYCONFIG_KEEPS}


def set_command(ctx: Context) -> int:
    save = ctx.has("save")
    _check_usage(ctx, save)
    ct, console = ctx.ct, ctx.console
    running = ctx.ctid == 0 or ctx.ctid in ctx.kernel.load()
    if ctx.has("reset_ub"):
        if not running:
            raise VzError(31, "Unable to apply UBC parameters: container is not running")
        _apply_ubc(ctx, {k: v for k, v in (ct.config or {}).items() if k in UBC_KEYS})
        return 0
    request = parse_request(ctx, _host_cpus(ctx))
    ctx.delay("set")
    changes = {**_applyconfig(ctx), **request.changes}
    if request.name is not None:
        names.check_name(ctx.host, ctx.ctid, request.name)
        changes["NAME"] = request.name
    if running and ctx.ctid and ("VE_ROOT" in changes or "VE_PRIVATE" in changes):
        key = "VE_ROOT" if "VE_ROOT" in changes else "VE_PRIVATE"
        raise VzError(32, f"Unable to change {key} on a running container")
    setmode = ctx.last("setmode")
    restart_keys = [k for k in changes if k in RESTART_KEYS]
    if running and ctx.ctid and restart_keys and setmode == "ignore":
        raise VzError(32, "Unable to set parameters on a running container")
    failure: VzError | None = None
    if running:
        try:
            _apply_live(ctx, request, changes, restart_keys if setmode is None else [])
        except VzError as error:
            failure = error
    elif not save:
        return _refuse_stopped(ctx, request, changes)
    if failure is not None:
        console.report(failure)
        if not save or ctx.personality.save_refuses_on_failure:
            if save:
                console.error(
                    "Error: failed to apply some parameters, not saving configuration file!"
                )
            return failure.code
    if not save:
        if changes or request.userpasswd is None:
            console.info(
                WARN_NOT_SAVED_LEGACY if ctx.personality.is_legacy else WARN_NOT_SAVED_RUNNING
            )
        return 0
    _save(ctx, changes, request)
    if setmode == "restart" and running and ctx.ctid:
        return checkpoint.restart(ctx)
    return failure.code if failure is not None else 0


def _refuse_stopped(ctx: Context, request: SetRequest, changes: dict[str, str]) -> int:
    """Without --save every live part fails on a stopped CT (31); the rest only warns."""
    messages = []
    if any(k in UBC_KEYS for k in changes):
        messages.append("Unable to apply UBC parameters: container is not running")
    if any(k in CPU_KEYS for k in changes):
        messages.append("Unable to apply CPU parameters: container is not running")
    if any(k in CONFIGURE_KEYS for k in changes) or "IP_ADDRESS" in changes:
        messages.append("Unable to configure container: not running")
    if request.veths_added:
        messages.append("Unable to create veth: container is not running")
    if messages:
        raise VzError(31, *messages)
    if changes:
        ctx.console.info(
            WARN_NOT_SAVED_LEGACY if ctx.personality.is_legacy else WARN_NOT_SAVED_STOPPED
        )
    return 0


def _apply_ubc(ctx: Context, changes: dict[str, str]) -> None:
    with host_lock(ctx.host.state_dir):
        running = ctx.kernel.load()
        entry = running.get(ctx.ctid)
        if entry is None:
            return
        for key, value in changes.items():
            pair = ubc.config_pair({key: value}, key.lower())
            if pair is not None and key.lower() in ubc.KERNEL_PARAMS:
                entry.ubc[key.lower()] = [pair[0], pair[1]]
        ctx.kernel.commit(running)


def _apply_live(
    ctx: Context, request: SetRequest, changes: dict[str, str], restart_keys: list[str]
) -> None:
    console, legacy = ctx.console, ctx.personality.is_legacy
    if ctx.ctid == 0:
        return
    with host_lock(ctx.host.state_dir):
        running = ctx.kernel.load()
        entry = running[ctx.ctid]
        in_use = {
            network.bare_ip(ip)
            for ctid, other in running.items()
            if ctid != ctx.ctid
            for ip in other.ips
        }
        for ip in request.ips_added:
            if network.bare_ip(ip) in in_use:
                raise VzError(78, f"Unable to add IP {network.bare_ip(ip)}: Address already in use")
        deleted = {network.bare_ip(ip) for ip in request.ips_deleted}
        entry.ips = [ip for ip in entry.ips if network.bare_ip(ip) not in deleted]
        entry.ips += [ip for ip in request.ips_added if ip not in entry.ips]
        if "CPUUNITS" in changes:
            entry.cpuunits = int(changes["CPUUNITS"])
        if "CPULIMIT" in changes:
            entry.cpulimit = int(changes["CPULIMIT"])
        if "CPUS" in changes:
            entry.cpus = int(changes["CPUS"])
        entry.veths = [v for v in entry.veths if v not in request.veths_deleted]
        entry.veths += [v for v in request.veths_added if v not in entry.veths]
        ctx.kernel.commit(running)
    if request.ips_deleted:
        console.info(f"Deleting IP address(es): {' '.join(request.ips_deleted)}")
    if request.ips_added:
        console.info(f"Adding IP address(es): {' '.join(request.ips_added)}")
    _apply_ubc(ctx, {k: v for k, v in changes.items() if k in UBC_KEYS})
    if "CPUUNITS" in changes:
        console.info(f"Setting CPU units: {changes['CPUUNITS']}")
    if "CPULIMIT" in changes:
        console.info(f"Setting CPU limit: {changes['CPULIMIT']}")
    if "CPUS" in changes:
        console.info(f"Setting CPUs: {changes['CPUS']}")
    if legacy and "HOSTNAME" in changes:
        console.info(f"Set hostname: {changes['HOSTNAME']}")
    if legacy and ("NAMESERVER" in changes or "SEARCHDOMAIN" in changes):
        console.info("File resolv.conf was modified")
    bridges.detach(ctx.host, request.veths_deleted)
    if request.veths_added:
        console.info(f"Configure veth devices: {' '.join(request.veths_added)}")
        ctx.ct.config = {**(ctx.ct.config or {}), **changes}
        try:
            for veth in request.veths_added:
                _run_vznetcfg_with_config(ctx, changes, veth)
        finally:
            ctx.ct.reload()
    if restart_keys:
        for key in restart_keys:
            console.error(f"Unable to set {RESTART_KEYS[key]} on a running container")
        console.error(
            "WARNING: Some of the parameters could not be applied to a running container."
        )
        console.error("Please consider using --setmode option")


def _run_vznetcfg_with_config(ctx: Context, changes: dict[str, str], veth: str) -> None:
    """vznetaddbr reads NETIF from CTID.conf, so an unsaved NETIF is shown to it through a
    temporary config swap, the way vzctl passes the new settings to its helpers."""
    conf_path = ctx.ct.conf_path
    original = conf_path.read_text() if conf_path.exists() else None
    conffile.write_atomically(conf_path, conffile.render_update(original or "", changes))
    try:
        network.run_vznetcfg(ctx.host, ctx.ctid, veth, ctx.console)
    finally:
        if original is None:
            conf_path.unlink(missing_ok=True)
        else:
            conffile.write_atomically(conf_path, original)


def _save(ctx: Context, changes: dict[str, str], request: SetRequest) -> None:
    ct, console, legacy = ctx.ct, ctx.console, ctx.personality.is_legacy
    current = ct.config or {}
    differing = {k: v for k, v in changes.items() if current.get(k) != v}
    if request.name is not None:
        names.remove_links(ctx.host, ctx.ctid, keep=request.name or None)
        if request.name:
            names.link(ctx.host, ctx.ctid, request.name)
            console.info(f"Name {request.name} assigned")
    if request.apply_name_map and current.get("NAME"):
        names.link(ctx.host, ctx.ctid, current["NAME"])
    if legacy:
        ct.update_config(differing)
        console.info(f"Saved parameters for CT {ctx.ctid}")
        return
    if not differing:
        if changes or request.userpasswd is None:
            console.info("No changes in CT configuration, not saving")
        return
    ct.update_config(differing)
    console.info(f"CT configuration saved to {ct.conf_path_host}")
