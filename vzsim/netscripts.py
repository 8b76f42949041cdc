"""Stand-ins for /usr/sbin/vznetcfg and /usr/sbin/vznetaddbr (openvz-tools.md §6.3).

A bridge is ROOT/.vzsim/bridges/NAME; attaching a veth appends it there, which is the
record of "which veth joined which bridge".
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from vzsim import bridges, conffile, network
from vzsim.host import VZNET_CONF, Host
from vzsim.toolrun import run_tool


def vznetaddbr(host: Host, args: list[str]) -> int:
    veid = os.environ.get("VEID", "")
    wanted = args[2] if len(args) >= 3 else ""
    conf_host = f"/etc/vz/conf/{veid}.conf"
    config = conffile.read_config(host.path(conf_host)) or {}
    devices = network.parse_netif(config.get("NETIF", ""))
    if not devices:
        print(
            f"According to {conf_host}, CT{veid} has no veth interface configured.", file=sys.stderr
        )
        return 1
    for device in devices:
        host_if = device.get("host_ifname", "")
        if host_if != wanted:
            continue
        bridge = device.get("bridge") or "vmbr0"
        print(f"Adding interface {host_if} to bridge {bridge} on CT0 for CT{veid}", flush=True)
        if not bridges.exists(host, bridge):
            print(f"bridge {bridge} does not exist!", file=sys.stderr)
            return 1
        bridges.attach(host, bridge, host_if)
        return 0
    return 0


def vznetcfg(host: Host, args: list[str]) -> int:
    conf = conffile.read_config(host.path(VZNET_CONF)) or {}
    script = conf.get("EXTERNAL_SCRIPT", "")
    if script and os.access(host.path(script), os.X_OK):
        return subprocess.run([str(host.path(script)), *args], check=False).returncode
    return 0


TOOLS = {"vznetaddbr": vznetaddbr, "vznetcfg": vznetcfg}


def entry_point(script: str) -> None:
    path = Path(script).resolve()
    tool = path.name
    host = Host(path.parents[2])
    args = sys.argv[1:]
    sys.exit(run_tool(host.root, tool, args, lambda: TOOLS[tool](host, args)))
