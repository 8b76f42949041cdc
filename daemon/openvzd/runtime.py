"""What the daemon knows of its host while it runs: the tools, the host model,
the vzctl version and the node, and the few facts that only the daemon can
remember (which containers it paused: vzlist cannot tell a frozen CT from a
running one, openvz-tools.md §9.1; why each container is in its state, libvirt's reason)."""

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

# A state's reason when no job recorded one (a container found so at start, or
# changed by someone else): as libvirt's drivers word them.
REASON_BY_STATE = {
    "running": "booted",
    "paused": "user",
    "stopped": "shutdown",
    "mounted": "mounted",
    "suspended": "saved",
}


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
    # veid -> (state, libvirt's reason word): how the last transition the daemon
    # made came about, valid while the container is still in that state.
    reasons: dict[int, tuple[str, str]] = field(default_factory=dict)
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
        runtime.reasons = runtime._load_reasons()
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
    def _reasons_file(self) -> Path:
        return self.config.paths.state_dir / "reasons.json"

    def _load_reasons(self) -> dict[int, tuple[str, str]]:
        try:
            loaded = json.loads(self._reasons_file.read_text())
            return {int(veid): (str(pair[0]), str(pair[1])) for veid, pair in loaded.items()}
        except (OSError, ValueError, TypeError, AttributeError):
            return {}

    def _save_reasons(self) -> None:
        self.host.version += 1
        write_atomically(
            self._reasons_file,
            json.dumps({str(veid): list(pair) for veid, pair in sorted(self.reasons.items())}),
        )

    def set_reason(self, veid: int, reason: str) -> None:
        """Record why the container is in its present state (a job just put it there).
        Only a reason other than the state's usual one is kept, so the file (rewritten
        whole) stays as small as the exceptions and a start writes nothing."""
        state = self.state_of(veid)
        if reason == REASON_BY_STATE.get(state):
            self.forget_reason(veid)
            return
        pair = (state, reason)
        if self.reasons.get(veid) != pair:
            self.reasons[veid] = pair
            self._save_reasons()

    def forget_reason(self, veid: int) -> None:
        """The container changed state without a job saying why (or left the host)."""
        if self.reasons.pop(veid, None) is not None:
            self._save_reasons()

    def state_reason(self, veid: int) -> str:
        """libvirt's reason word for the container's state: the recorded one while
        the state is the one it was recorded with, else the state's usual reason."""
        state = self.state_of(veid)
        recorded = self.reasons.get(veid)
        if recorded is not None and recorded[0] == state:
            return recorded[1]
        return REASON_BY_STATE.get(state, "")

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
