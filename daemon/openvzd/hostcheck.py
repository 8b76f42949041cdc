"""`openvzd check`: is this host ready for OpenVZ containers? (like virt-host-validate)"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from openvzd.config import Config
from openvzd.vz.conffile import read_config
from openvzd.vz.errors import VzError
from openvzd.vz.host import HostPaths
from openvzd.vz.runner import ToolPaths, ToolRunner
from openvzd.vz.spec import parse_netif
from openvzd.vz.version import parse_vzctl_version


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    result: str  # PASS, WARN, FAIL
    detail: str
    fix: str = ""


async def run_checks(config: Config) -> list[Check]:
    paths = HostPaths(config.paths.host_root)
    checks = [
        _exists(
            paths.proc / "vz",
            "OpenVZ kernel (/proc/vz)",
            "boot an OpenVZ kernel (vzkernel) and load the vz modules",
        ),
        _exists(
            paths.vz_conf,
            "global configuration (vz.conf)",
            "reinstall vzctl, which ships /etc/vz/vz.conf",
        ),
    ]
    runner = ToolRunner(
        ToolPaths(config.tools.vzctl, config.tools.vzlist, config.tools.vzmigrate),
        config.timeouts.as_dict(),
    )
    checks.append(await _vzctl_version(runner))
    for tool in ("vzlist", "vzmigrate"):
        path = Path(getattr(config.tools, tool))
        ok = os.access(path, os.X_OK)
        checks.append(
            Check(
                tool,
                "PASS" if ok else "FAIL",
                f"{path} {'is' if ok else 'is not'} executable",
                "" if ok else f"install vzctl, or set [tools] {tool} in the configuration",
            )
        )
    checks.extend(_bridging(paths))
    return checks


class CachedChecks:
    """run_checks answered from its last result for config.monitor.check_cache
    seconds, and run once for callers that ask while it runs: a loop of
    Host.Check calls forks the host's tools at most once per period."""

    def __init__(self, config: Config, clock: Callable[[], float] = time.monotonic) -> None:
        self._config = config
        self._clock = clock
        self._result: list[Check] | None = None
        self._taken_at = 0.0
        self._running: asyncio.Future[list[Check]] | None = None

    async def checks(self) -> list[Check]:
        now = self._clock()
        if self._result is not None and now - self._taken_at < self._config.monitor.check_cache:
            return self._result
        if self._running is None:
            self._running = asyncio.ensure_future(self._run())
        # Shielded: one caller leaving does not cancel the others' answer.
        return await asyncio.shield(self._running)

    async def _run(self) -> list[Check]:
        try:
            result = await run_checks(self._config)
            self._result, self._taken_at = result, self._clock()
            return result
        finally:
            self._running = None


def _exists(path: Path, name: str, fix: str) -> Check:
    if path.exists():
        return Check(name, "PASS", f"{path} is there")
    return Check(name, "FAIL", f"{path} is missing", fix)


async def _vzctl_version(runner: ToolRunner) -> Check:
    try:
        result = await runner.run("vzctl", ["--version"], operation="query")
    except VzError as err:
        return Check("vzctl", "FAIL", err.message, "install vzctl (3.0.23 to 4.11)")
    version = parse_vzctl_version(result.stdout)
    if version is None:
        return Check(
            "vzctl",
            "FAIL",
            f"no version in {result.stdout.strip()!r}",
            "install a legacy vzctl (3.0.23 to 4.11)",
        )
    if version.flavour == "ovz7":
        return Check(
            "vzctl",
            "WARN",
            f"vzctl {version.text} is OpenVZ 7's",
            "openvzd targets legacy OpenVZ; OpenVZ 7 is driven by prlctl",
        )
    return Check("vzctl", "PASS", f"vzctl {version.text} ({version.flavour})")


def _bridging(paths: HostPaths) -> list[Check]:
    """The bridged-networking prerequisites of the OpenVZ documentation."""
    vznet = paths.root / "etc/vz/vznet.conf"
    bridges_in_use = sorted(
        {
            iface.bridge
            for conf in paths.conf_dir.glob("*.conf")
            if conf.stem.isdigit() and conf.stem != "0"
            for iface in parse_netif(read_config(conf).values.get("NETIF", ""))
            if iface.bridge
        }
    )
    if not vznet.exists():
        result = "FAIL" if bridges_in_use else "WARN"
        return [
            Check(
                "vznet.conf",
                result,
                f"{vznet} is missing, so veths join no bridge",
                f'write EXTERNAL_SCRIPT="/usr/sbin/vznetaddbr" into {vznet}',
            )
        ]
    script = read_config(vznet).values.get("EXTERNAL_SCRIPT", "")
    checks = [
        Check(
            "vznet.conf",
            "PASS" if script else "FAIL",
            f"EXTERNAL_SCRIPT={script!r}",
            "" if script else f'set EXTERNAL_SCRIPT="/usr/sbin/vznetaddbr" in {vznet}',
        )
    ]
    if script:
        target = paths.host_path(script)
        ok = os.access(target, os.X_OK)
        checks.append(
            Check(
                "vznetaddbr",
                "PASS" if ok else "FAIL",
                f"{target} {'is' if ok else 'is not'} executable",
                "" if ok else "install vzctl's vznetaddbr or fix EXTERNAL_SCRIPT",
            )
        )
    for bridge in bridges_in_use:
        sysfs = paths.root / "sys/class/net" / bridge
        ok = sysfs.exists()
        checks.append(
            Check(
                f"bridge {bridge}",
                "PASS" if ok else "FAIL",
                f"{bridge} {'exists' if ok else 'does not exist'}",
                "" if ok else f"create it: ip link add {bridge} type bridge",
            )
        )
    return checks


def run_checks_cli(config: Config) -> int:
    checks = asyncio.run(run_checks(config))
    width = max(len(c.name) for c in checks)
    for check in checks:
        line = f"openvzd: {check.name.ljust(width)} : {check.result}  {check.detail}"
        if check.fix:
            line += f"\n{'':>{width + 12}}fix: {check.fix}"
        print(line)
    return 1 if any(c.result == "FAIL" for c in checks) else 0
