"""One container as vzctl sees it: config merged over vz.conf, paths, and derived state."""

from __future__ import annotations

from pathlib import Path

from vzsim import conffile, faults
from vzsim.host import Host


class Container:
    def __init__(self, host: Host, ctid: int) -> None:
        self.host = host
        self.ctid = ctid
        self.conf_path = host.conf_file(ctid)
        self.conf_path_host = host.conf_file_host(ctid)
        self.config = conffile.read_config(self.conf_path)

    def reload(self) -> None:
        self.config = conffile.read_config(self.conf_path)

    def value(self, key: str, default: str = "") -> str:
        """CTID.conf overrides vz.conf (openvz-tools.md §3.1 merge order)."""
        if self.config is not None and key in self.config:
            return self.config[key]
        return self.host.global_value(key, default)

    @property
    def private_host(self) -> str:
        return conffile.expand_veid(self.value("VE_PRIVATE", "/vz/private/$VEID"), self.ctid)

    @property
    def root_host(self) -> str:
        return conffile.expand_veid(self.value("VE_ROOT", "/vz/root/$VEID"), self.ctid)

    @property
    def private_path(self) -> Path:
        return self.host.path(self.private_host)

    @property
    def root_path(self) -> Path:
        return self.host.path(self.root_host)

    @property
    def dump_path(self) -> Path:
        return self.host.path(self.host.dump_file_host(self.ctid))

    @property
    def exists(self) -> bool:
        return self.config is not None and self.private_path.is_dir()

    @property
    def mounted(self) -> bool:
        return self.host.is_mounted(self.ctid)

    def ip_list(self) -> list[str]:
        return self.value("IP_ADDRESS").split()

    def update_config(self, changes: dict[str, str]) -> None:
        """Save `changes` into CTID.conf keeping every other line (openvz-tools.md §1.4)."""
        try:
            text = self.conf_path.read_text(encoding="utf-8", errors="surrogateescape")
        except FileNotFoundError:
            text = ""
        faults.write_config(self.conf_path, conffile.render_update(text, changes))
        self.reload()
