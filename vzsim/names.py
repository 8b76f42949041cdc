"""CT names: NAME= in CTID.conf plus the /etc/vz/names/NAME symlink (openvz-tools.md §3.5)."""

from __future__ import annotations

import os
import re

from vzsim.console import VzError
from vzsim.host import Host

_VALID_NAME = re.compile(r"[A-Za-z0-9 +_.-]+")


def check_name(host: Host, ctid: int, name: str) -> None:
    if name == "":
        return
    if not _VALID_NAME.fullmatch(name):
        raise VzError(131, f"Error: invalid name {name}")
    owner = host.resolve_name(name)
    if owner is not None and owner != ctid:
        raise VzError(131, f"Conflict: name {name} already used by container {owner}")


def link(host: Host, ctid: int, name: str) -> None:
    host.names_dir.mkdir(parents=True, exist_ok=True)
    path = host.names_dir / name
    if path.is_symlink() or path.exists():
        path.unlink()
    os.symlink(host.conf_file_host(ctid), path)


def remove_links(host: Host, ctid: int, keep: str | None = None) -> None:
    for name in host.names_of(ctid):
        if name != keep:
            (host.names_dir / name).unlink(missing_ok=True)
