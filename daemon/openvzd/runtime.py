"""What the daemon knows of its host while it runs: the tools, the host model,
the vzctl version and the node, and the few facts that only the daemon can
remember (which containers it paused: vzlist cannot tell a frozen CT from a
running one, spec §9.1)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from openvzd.config import Config
from openvzd.vz.conffile import write_atomically
from openvzd.vz.errors import ErrorKind, VzError
from openvzd.vz.host import HostModel, HostPaths
from openvzd.vz.proc import NodeInfo, read_hostname, read_node_info
from openvzd.vz.runner import ToolPaths, ToolRunner
from openvzd.vz.spec import default_uuid
from openvzd.vz.version import VzctlVersion, parse_vzctl_version


@dataclass(slots=True)
class Runtime:
    config: Config
    paths: HostPaths
    runner: ToolRunner
    host: HostModel
    vzctl_version: VzctlVersion
    node: NodeInfo
    hostname: str
    paused: set[int] = field(default_factory=set)
    _default_uuids: dict[int, str] = field(default_factory=dict)

    @classmethod
    async def create(cls, config: Config) -> Runtime:
        paths = HostPaths(config.paths.host_root)
        tools = ToolPaths(config.tools.vzctl, config.tools.vzlist, config.tools.vzmigrate)
        runner = ToolRunner(tools, config.timeouts.as_dict())
        result = await runner.run("vzctl", ["--version"], operation="query")
        version = parse_vzctl_version(result.stdout + result.stderr)
        if version is None:
            raise VzError(
                ErrorKind.NOT_SUPPORTED,
                f"{config.tools.vzctl} --version printed no vzctl version: "
                f"{result.stdout.strip()!r}",
                tool="vzctl",
            )
        runtime = cls(
            config,
            paths,
            runner,
            HostModel(paths, runner),
            version,
            read_node_info(paths.proc),
            read_hostname(paths.root),
        )
        runtime.paused = runtime._load_paused()
        return runtime

    @property
    def _paused_file(self) -> Path:
        return self.config.paths.state_dir / "paused.json"

    def _load_paused(self) -> set[int]:
        try:
            return {int(v) for v in json.loads(self._paused_file.read_text())}
        except (OSError, ValueError, TypeError):
            return set()

    def set_paused(self, veid: int, paused: bool) -> None:
        if (veid in self.paused) == paused:
            return
        (self.paused.add if paused else self.paused.discard)(veid)
        self.host.version += 1
        write_atomically(self._paused_file, json.dumps(sorted(self.paused)))

    @property
    def vswap(self) -> bool:
        """Whether the kernel has VSwap (--ram/--swap); else memory is UBC parameters."""
        return (self.paths.proc / "vz" / "vswap").exists()

    def uuid_of(self, veid: int) -> str:
        """The #UUID in the config, else a stable one derived from host and ID."""
        known = self.host.containers[veid].uuid
        if known:
            return known
        derived = self._default_uuids.get(veid)
        if derived is None:
            derived = self._default_uuids[veid] = default_uuid(self.hostname, veid)
        return derived

    def state_of(self, veid: int) -> str:
        """The container's state word: running, paused, stopped, mounted, suspended."""
        container = self.host.containers[veid]
        if container.status == "running" and veid in self.paused:
            return "paused"
        return container.status
