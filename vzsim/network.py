"""venet addresses, NETIF (veth) entries and the vznetcfg hook (openvz-tools.md §1.3, §6)."""

from __future__ import annotations

import os

from vzsim import conffile
from vzsim.console import Console, VzError
from vzsim.host import VZNET_CONF, Host

# ipaddress, hashlib and subprocess are imported where used: most vzctl runs never need
# them and the daemon spawns vzctl constantly.
NETIF_KEYS = ("ifname", "bridge", "mac", "host_ifname", "host_mac", "mac_filter")
MAC_PREFIX = "00:18:51"


def validate_ip(text: str) -> str:
    """An `--ipadd` value: IPv4 or IPv6, optionally with /prefix or /netmask."""
    import ipaddress

    address, _, mask = text.partition("/")
    try:
        parsed = ipaddress.ip_address(address)
        if mask:
            if mask.isdigit():
                if int(mask) > parsed.max_prefixlen:
                    raise ValueError(mask)
            else:
                ipaddress.IPv4Network(f"0.0.0.0/{mask}")
    except ValueError as error:
        raise VzError(21, f"Bad parameter for --ipadd: {text}") from error
    return text


def bare_ip(text: str) -> str:
    return text.split("/", 1)[0]


def parse_netif(value: str) -> list[dict[str, str]]:
    devices = []
    for chunk in value.split(";"):
        entry: dict[str, str] = {}
        for part in chunk.split(","):
            key, _, item = part.partition("=")
            if key:
                entry[key.strip()] = item.strip()
        if entry.get("ifname"):
            devices.append(entry)
    return devices


def format_netif(devices: list[dict[str, str]]) -> str:
    return ";".join(
        ",".join(f"{key}={device[key]}" for key in NETIF_KEYS if device.get(key))
        for device in devices
    )


def host_ifname(ctid: int, ifname: str) -> str:
    digits = ""
    for char in reversed(ifname):
        if not char.isdigit():
            break
        digits = char + digits
    return f"veth{ctid}.{digits or 0}"


def generate_mac(device: str, ctid: int, salt: str) -> str:
    import hashlib

    digest = hashlib.md5(f"{device}:{ctid}:{salt}".encode()).digest()
    return MAC_PREFIX + "".join(f":{byte:02X}" for byte in digest[:3])


def _check_mac(mac: str) -> str:
    if len(mac) != 17:
        raise VzError(21, "Invalid container MAC address length")
    return mac.upper()


def netif_from_add(ctid: int, spec: str, hostname: str, modern: bool) -> dict[str, str]:
    """`--netif_add IF[,MAC,HOST_IF,HOST_MAC,BRIDGE]`; empty parts are generated."""
    parts = spec.split(",")
    if len(parts) > 5 or not parts[0]:
        raise VzError(21, f"Bad parameter for --netif_add: {spec}")
    parts += [""] * (5 - len(parts))
    ifname, mac, host_if, host_mac, bridge = parts
    ct_mac = _check_mac(mac) if mac else generate_mac(ifname, ctid, "ct")
    if host_mac:
        host_mac = _check_mac(host_mac)
    elif mac and modern:
        host_mac = ct_mac
    else:
        host_mac = generate_mac(ifname, ctid, hostname)
    device = {
        "ifname": ifname,
        "mac": ct_mac,
        "host_ifname": host_if or host_ifname(ctid, ifname),
        "host_mac": host_mac,
    }
    if bridge:
        device["bridge"] = bridge
    return device


def run_vznetcfg(host: Host, ctid: int, veth: str, console: Console) -> None:
    """What /usr/sbin/vznetcfg does for `init veth VETH` (openvz-tools.md §6.3); failure is 130."""
    conf = conffile.read_config(host.path(VZNET_CONF)) or {}
    script = conf.get("EXTERNAL_SCRIPT", "")
    if not script:
        return
    script_path = host.path(script)
    if not (script_path.is_file() and os.access(script_path, os.X_OK)):
        return
    import subprocess

    env = dict(os.environ, VEID=str(ctid))
    result = subprocess.run([str(script_path), "init", "veth", veth], env=env, check=False)
    if result.returncode != 0:
        raise VzError(130, "/usr/sbin/vznetcfg exited with error")
