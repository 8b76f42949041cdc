"""vzctl create, destroy, start, stop, restart, status, mount and umount (openvz-tools.md §1.2,
§5)."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from vzsim import bridges, consoletty, names, network, ubc
from vzsim.actionscripts import run_action_scripts
from vzsim.console import VzError
from vzsim.context import Context
from vzsim.kernel import running_from_config
from vzsim.locking import host_lock

CONF_DIR_HOST = "/etc/vz/conf"
START_FAILED_MODERN = 'Container start failed (try to check kernel messages, e.g. "dmesg | tail")'


def status(ctx: Context) -> int:
    ct = ctx.ct
    running = ctx.ctid in ctx.kernel.load()
    words = [
        "CTID",
        str(ctx.ctid),
        "exist" if ct.exists else "deleted",
        "mounted" if running or ct.mounted else "unmounted",
        "running" if running else "down",
    ]
    if not running and ctx.personality.has_suspended_word and ct.dump_path.exists():
        words.append("suspended")
    print(" ".join(words), flush=True)
    return 0


def find_template(ctx: Context, name: str) -> Path | None:
    cache = ctx.host.path(ctx.host.template_dir_host) / "cache"
    suffixes = (
        (".tar", ".tar.gz", ".tar.bz2", ".tar.xz")
        if not ctx.personality.is_legacy
        else (".tar", ".tar.gz")
    )
    for suffix in suffixes:
        candidate = cache / f"{name}{suffix}"
        if candidate.is_file():
            return candidate
    return None


def create(ctx: Context) -> int:
    host, ct = ctx.host, ctx.ct
    had_config = ct.config is not None
    sample_name = ctx.last("config") or host.global_value("CONFIGFILE")
    if had_config and ctx.has("config"):
        raise VzError(
            82,
            f"Error: container config file {ct.conf_path_host} already exists,"
            " can not use --config option",
        )
    if ct.private_path.exists() and (ctx.personality.is_legacy or any(ct.private_path.iterdir())):
        raise VzError(44, f"Private area already exists in {ct.private_host}")
    if not had_config:
        sample = host.conf_dir / f"ve-{sample_name}.conf-sample"
        if not sample.is_file():
            if ctx.personality.is_legacy:
                raise VzError(82, f"File {CONF_DIR_HOST}/ve-{sample_name}.conf-sample is not found")
            raise VzError(
                82, f"Sample config {CONF_DIR_HOST}/ve-{sample_name}.conf-sample not found"
            )
        shutil.copyfile(sample, ct.conf_path)
        ct.reload()
    try:
        return _create_private_area(ctx, sample_name if not had_config else "")
    except BaseException:
        if not had_config:
            ct.conf_path.unlink(missing_ok=True)
            names.remove_links(host, ctx.ctid)
        shutil.rmtree(ct.private_path, ignore_errors=True)
        raise


def _create_private_area(ctx: Context, sample_name: str) -> int:
    host, ct, console = ctx.host, ctx.ct, ctx.console
    template = (
        ctx.last("ostemplate") or ct.value("OSTEMPLATE") or host.global_value("DEF_OSTEMPLATE")
    )
    if not template:
        raise VzError(29, "OS template is not specified")
    changes: dict[str, str] = {}
    for ip in ctx.values_of("ipadd"):
        changes["IP_ADDRESS"] = " ".join(
            [*changes.get("IP_ADDRESS", "").split(), network.validate_ip(ip)]
        )
    if ctx.has("hostname"):
        changes["HOSTNAME"] = ctx.last("hostname") or ""
    if ctx.has("description"):
        changes["DESCRIPTION"] = ctx.last("description") or ""
    if ctx.has("diskspace"):
        changes["DISKSPACE"] = _kb_pair(ctx.last("diskspace") or "", "diskspace")
    if ctx.has("diskinodes"):
        changes["DISKINODES"] = _kb_pair(ctx.last("diskinodes") or "", "diskinodes", "items")
    name = ctx.last("name")
    if name is not None:
        names.check_name(host, ctx.ctid, name)
    cache = find_template(ctx, template)
    if cache is None:
        cache_dir = f"{host.template_dir_host}/cache"
        if ctx.personality.is_legacy:
            raise VzError(
                91, f"Cached os template {cache_dir}/{template}.tar.gz not found", on_stdout=True
            )
        raise VzError(91, f"Cached OS template {cache_dir}/{template}.tar[.gz|.bz2|.xz] not found")
    console.info(f"Creating container private area ({template})")
    ctx.delay("create")
    _unpack(cache, ct.private_path)
    console.info("Performing postcreate actions")
    changes.update(
        {
            "VE_ROOT": ctx.last("root") or ct.value("VE_ROOT", "/vz/root/$VEID"),
            "VE_PRIVATE": ctx.last("private") or ct.value("VE_PRIVATE", "/vz/private/$VEID"),
            "OSTEMPLATE": os.path.basename(template),
        }
    )
    if not ctx.personality.is_legacy:
        changes["VE_LAYOUT"] = "simfs"
        if sample_name:
            changes["ORIGIN_SAMPLE"] = sample_name
    if name is not None:
        changes["NAME"] = name
    ct.update_config(changes)
    if name:
        names.link(host, ctx.ctid, name)
    if not ctx.personality.is_legacy:
        console.info(f"CT configuration saved to {ct.conf_path_host}")
    console.info("Container private area was created")
    return 0


def _kb_pair(text: str, option: str, unit: str = "kb") -> str:
    try:
        soft, hard = ubc.parse_pair(text, unit)
    except ubc.BadValue as error:
        raise VzError(21, f"Bad parameter for --{option}: {text}") from error
    return f"{soft}:{hard}"


def _unpack(cache: Path, private: Path) -> None:
    import tarfile  # only create needs it; vzctl start-up stays light

    temp = private.with_name(private.name + ".tmp")
    shutil.rmtree(temp, ignore_errors=True)
    temp.mkdir(parents=True)
    with tarfile.open(cache) as archive:
        archive.extractall(temp, filter="data")
    os.replace(temp, private)


def destroy(ctx: Context) -> int:
    host, ct, console = ctx.host, ctx.ct, ctx.console
    if ctx.ctid in ctx.kernel.load():
        raise VzError(32, "Container is currently running. Stop it first.", on_stdout=True)
    if ct.mounted:
        raise VzError(41, "Container is currently mounted (umount first)", on_stdout=True)
    ctx.delay("destroy")
    if ct.private_path.exists():
        console.info(f"Destroying container private area: {ct.private_host}")
        doomed = ct.private_path.with_name(f"vzctl-rm-me.{os.getpid()}")
        os.replace(ct.private_path, doomed)
        shutil.rmtree(doomed, ignore_errors=True)
    shutil.rmtree(ct.root_path, ignore_errors=True)
    for suffix in ("conf", "mount", "umount", "start", "stop", "premount", "postumount"):
        script = host.conf_dir / f"{ctx.ctid}.{suffix}"
        if script.exists():
            os.replace(script, script.with_name(script.name + ".destroyed"))
    if not ctx.personality.is_legacy:
        ct.dump_path.unlink(missing_ok=True)
    names.remove_links(host, ctx.ctid)
    console.info("Container private area was destroyed")
    return 0


def mount(ctx: Context) -> int:
    ct = ctx.ct
    if not ct.private_path.is_dir():
        raise VzError(43, f"Container private area {ct.private_host} does not exist")
    if ct.mounted or ctx.ctid in ctx.kernel.load():
        ctx.console.error("Container is already mounted")
        return 0
    ctx.delay("mount")
    _do_mount(ctx)
    return 0


def _do_mount(ctx: Context) -> None:
    run_action_scripts(ctx, "premount")
    ctx.ct.root_path.mkdir(parents=True, exist_ok=True)
    ctx.host.set_mounted(ctx.ctid, True)
    try:
        run_action_scripts(ctx, "mount")
    except VzError:
        ctx.host.set_mounted(ctx.ctid, False)
        raise
    ctx.console.info("Container is mounted")


def _do_umount(ctx: Context) -> None:
    run_action_scripts(ctx, "umount")
    ctx.host.set_mounted(ctx.ctid, False)
    run_action_scripts(ctx, "postumount")
    ctx.console.info("Container is unmounted")


def umount(ctx: Context) -> int:
    if ctx.ctid in ctx.kernel.load():
        ctx.console.error("Container is running -- stop it first")
        return ctx.personality.umount_running_exit
    if not ctx.ct.mounted:
        raise VzError(40, "CT is not mounted")
    ctx.delay("umount")
    _do_umount(ctx)
    return 0


def start(ctx: Context) -> int:
    ct, console = ctx.ct, ctx.console
    if ct.value("DISABLED") == "yes" and not ctx.has("force"):
        raise VzError(105, "Container start disabled")
    if ctx.ctid in ctx.kernel.load():
        raise VzError(32, "Container is already running")
    if not ct.private_path.is_dir():
        raise VzError(43, f"Container private area {ct.private_host} does not exist")
    console.info("Starting container ..." if ctx.personality.is_legacy else "Starting container...")
    ctx.delay("start")
    was_mounted = ct.mounted
    try:
        boot(ctx, was_mounted)
    except VzError as failure:
        console.report(failure)
        if not was_mounted:
            ctx.host.set_mounted(ctx.ctid, False)
        raise VzError(
            failure.code,
            START_FAILED_MODERN if not ctx.personality.is_legacy else "Container start failed",
        ) from failure
    if ctx.has("wait"):
        console.info("Container start in progress, waiting ...")
        console.info("Container started successfully")
    else:
        console.info("Container start in progress...")
    if not ctx.personality.is_legacy:
        ct.dump_path.unlink(missing_ok=True)
    return 0


def boot(ctx: Context, already_mounted: bool) -> None:
    """Mount, create the CT in the kernel, add IPs and veths; raises on the first failure."""
    ct, console, personality = ctx.ct, ctx.console, ctx.personality
    if personality.is_legacy:
        console.info("Initializing quota ...")
    if not already_mounted:
        _do_mount(ctx)
    ips = [ip for ip in ct.ip_list() if network.bare_ip(ip) != "0.0.0.0"]
    devices = network.parse_netif(ct.value("NETIF"))
    with host_lock(ctx.host.state_dir):
        running = ctx.kernel.load()
        in_use = {network.bare_ip(ip) for other in running.values() for ip in other.ips}
        for ip in ips:
            if network.bare_ip(ip) in in_use:
                raise VzError(78, f"Unable to add IP {network.bare_ip(ip)}: Address already in use")
        entry = running_from_config(ctx.host.vz_conf or {}, ct.config or {}, ips, time.time())
        entry.veths = [
            d.get("host_ifname") or network.host_ifname(ctx.ctid, d["ifname"]) for d in devices
        ]
        running[ctx.ctid] = entry
        ctx.kernel.commit(running)
    try:
        if ips:
            console.info(f"Adding IP address(es): {' '.join(ips)}")
        console.info(f"Setting CPU units: {entry.cpuunits}")
        if entry.cpus:
            console.info(f"Setting CPUs: {entry.cpus}")
        if entry.veths:
            console.info(f"Configure veth devices: {' '.join(entry.veths)}")
            for veth in entry.veths:
                network.run_vznetcfg(ctx.host, ctx.ctid, veth, console)
        if personality.is_legacy:
            hostname = ct.value("HOSTNAME")
            if hostname:
                console.info(f"Set hostname: {hostname}")
            if ct.value("NAMESERVER") or ct.value("SEARCHDOMAIN"):
                console.info("File resolv.conf was modified")
        run_action_scripts(ctx, "start")
    except VzError:
        kill(ctx)
        raise


def kill(ctx: Context) -> None:
    """Remove the CT from the kernel (and its veths from their bridges)."""
    with host_lock(ctx.host.state_dir):
        running = ctx.kernel.load()
        entry = running.pop(ctx.ctid, None)
        ctx.kernel.commit(running)
    if entry is not None:
        bridges.detach(ctx.host, entry.veths)
        consoletty.take_down(ctx.host, ctx.ctid)


def stop(ctx: Context) -> int:
    console = ctx.console
    if ctx.ctid not in ctx.kernel.load():
        console.error("Unable to stop: container is not running")
        return 0
    fast = ctx.has("fast")
    run_action_scripts(ctx, "stop")
    console.info("Killing container ..." if fast else "Stopping container ...")
    ctx.delay("stop_fast" if fast else "stop")
    kill(ctx)
    console.info("Container was stopped")
    if not ctx.has("skip-umount"):
        _do_umount(ctx)
    return 0
