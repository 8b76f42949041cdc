"""Where a simulated host keeps its files: every absolute host path lives under ROOT."""

from __future__ import annotations

import os
from pathlib import Path

from vzsim import conffile

VZ_CONF = "/etc/vz/vz.conf"
CONF_DIR = "/etc/vz/conf"
NAMES_DIR = "/etc/vz/names"
VZNET_CONF = "/etc/vz/vznet.conf"
MAX_CTID = 2147483644


class Host:
    """One simulated host rooted at `root`; `vz_conf` is None when vz.conf is missing."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.state_dir = root / ".vzsim"
        self.conf_dir = self.path(CONF_DIR)
        self.names_dir = self.path(NAMES_DIR)
        self.proc_dir = root / "proc"
        self._vz_conf: dict[str, str] | None = None
        self._vz_conf_loaded = False

    def path(self, host_path: str) -> Path:
        """Resolve an absolute path as the real host sees it to its place under ROOT."""
        return self.root / host_path.lstrip("/")

    @property
    def vz_conf(self) -> dict[str, str] | None:
        if not self._vz_conf_loaded:
            self._vz_conf = conffile.read_config(self.path(VZ_CONF))
            self._vz_conf_loaded = True
        return self._vz_conf

    def global_value(self, key: str, default: str = "") -> str:
        conf = self.vz_conf or {}
        return conf.get(key, default)

    @property
    def lock_dir(self) -> Path:
        return self.path(self.global_value("LOCKDIR", "/vz/lock"))

    @property
    def dump_dir_host(self) -> str:
        return self.global_value("DUMPDIR", "/vz/dump")

    def dump_file_host(self, ctid: int) -> str:
        return f"{self.dump_dir_host}/Dump.{ctid}"

    @property
    def template_dir_host(self) -> str:
        return self.global_value("TEMPLATE", "/vz/template")

    def conf_file(self, ctid: int) -> Path:
        return self.conf_dir / f"{ctid}.conf"

    def conf_file_host(self, ctid: int) -> str:
        return f"{CONF_DIR}/{ctid}.conf"

    def mount_marker(self, ctid: int) -> Path:
        return self.state_dir / "mounted" / str(ctid)

    def is_mounted(self, ctid: int) -> bool:
        return self.mount_marker(ctid).exists()

    def set_mounted(self, ctid: int, mounted: bool) -> None:
        marker = self.mount_marker(ctid)
        if mounted:
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.touch()
        else:
            marker.unlink(missing_ok=True)

    def mounted_ids(self) -> set[int]:
        try:
            return {int(n) for n in os.listdir(self.state_dir / "mounted") if n.isdigit()}
        except FileNotFoundError:
            return set()

    def resolve_name(self, name: str) -> int | None:
        """The CT a names/ link points at, if its config agrees (openvz-tools.md §3.5)."""
        link = self.names_dir / name
        try:
            target = os.readlink(link)
        except OSError:
            return None
        base = os.path.basename(target)
        if not base.endswith(".conf") or not base[:-5].isdigit():
            return None
        ctid = int(base[:-5])
        conf = conffile.read_config(self.conf_file(ctid))
        if conf is None or conf.get("NAME") != name:
            return None
        return ctid

    def names_of(self, ctid: int) -> list[str]:
        try:
            entries = os.listdir(self.names_dir)
        except FileNotFoundError:
            return []
        target_name = f"{ctid}.conf"
        found = []
        for entry in entries:
            try:
                if os.path.basename(os.readlink(self.names_dir / entry)) == target_name:
                    found.append(entry)
            except OSError:
                continue
        return found


def parse_ctid(text: str) -> int | None:
    """A whole decimal CT ID in range, or None (then the text is treated as a name)."""
    if not text.isdigit():
        return None
    value = int(text)
    return value if value <= MAX_CTID else None
