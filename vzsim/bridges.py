"""Host bridges: ROOT/.vzsim/bridges/NAME lists the host interfaces attached, one per line."""

from __future__ import annotations

import os
from pathlib import Path

from vzsim.host import Host
from vzsim.locking import host_lock


def bridge_dir(host: Host) -> Path:
    return host.state_dir / "bridges"


def exists(host: Host, bridge: str) -> bool:
    return (bridge_dir(host) / bridge).is_file()


def create(host: Host, bridge: str) -> None:
    bridge_dir(host).mkdir(parents=True, exist_ok=True)
    (bridge_dir(host) / bridge).touch()


def members(host: Host, bridge: str) -> list[str]:
    try:
        return (bridge_dir(host) / bridge).read_text().split()
    except FileNotFoundError:
        return []


def _write(host: Host, bridge: str, interfaces: list[str]) -> None:
    path = bridge_dir(host) / bridge
    temp = path.with_name(f".{bridge}.{os.getpid()}.tmp")
    temp.write_text("".join(f"{name}\n" for name in interfaces))
    os.replace(temp, path)


def attach(host: Host, bridge: str, interface: str) -> None:
    with host_lock(host.state_dir):
        current = members(host, bridge)
        if interface not in current:
            _write(host, bridge, [*current, interface])


def detach(host: Host, interfaces: list[str]) -> None:
    """A veth that disappears leaves whatever bridge it was in."""
    if not interfaces:
        return
    directory = bridge_dir(host)
    try:
        bridge_names = [n for n in os.listdir(directory) if not n.startswith(".")]
    except FileNotFoundError:
        return
    with host_lock(host.state_dir):
        for bridge in bridge_names:
            current = members(host, bridge)
            remaining = [name for name in current if name not in interfaces]
            if remaining != current:
                _write(host, bridge, remaining)
