"""The host model: every container's status and settings, kept current cheaply.

One vzlist run gives the set of containers and their status (never one process
per container, as libvirt did); the settings come from the CTID.conf files,
re-read only when a file's (mtime, size, inode) changed. A refresh returns what
changed, so the daemon can publish events for changes made outside it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from openvzd.vz.conffile import ConfigFile, read_config
from openvzd.vz.errors import ErrorKind, VzError
from openvzd.vz.runner import ToolRunner, tool_failure
from openvzd.vz.spec import MAX_VEID

log = logging.getLogger(__name__)

STATUSES = frozenset({"running", "stopped", "mounted", "suspended"})
# 1-100 are reserved for OpenVZ by convention (openvz-tools.md §4); a picked ID starts above.
FIRST_FREE_VEID = 101
# ASCII digits only: str.isdigit() also accepts '²' (int() refuses it) and other
# scripts' digits; ten digits bound int() and cover every ID up to MAX_VEID.
_STATUS_LINE = re.compile(r"\s*([0-9]{1,10})\s+(\S+)\s*\Z", re.ASCII)
_DECIMAL_ID = re.compile(r"[0-9]{1,10}\Z", re.ASCII)


@dataclass(frozen=True, slots=True)
class HostPaths:
    """The OpenVZ host's files under a root: "/" on a real host, vzsim's ROOT otherwise."""

    root: Path

    @property
    def vz_conf(self) -> Path:
        return self.root / "etc/vz/vz.conf"

    @property
    def conf_dir(self) -> Path:
        return self.root / "etc/vz/conf"

    @property
    def names_dir(self) -> Path:
        return self.root / "etc/vz/names"

    @property
    def proc(self) -> Path:
        return self.root / "proc"

    def ct_conf(self, veid: int) -> Path:
        return self.conf_dir / f"{veid}.conf"

    def host_path(self, path: str) -> Path:
        """A path as the host's configs name it (/vz/private/101), under the root."""
        return self.root / path.lstrip("/")


@dataclass(slots=True)
class Container:
    veid: int
    status: str
    config: ConfigFile = field(default_factory=ConfigFile)
    conf_stamp: tuple[int, int, int] = (0, 0, 0)

    @property
    def values(self) -> dict[str, str]:
        return self.config.values

    @property
    def vz_name(self) -> str:
        return self.values.get("NAME", "")

    @property
    def hostname(self) -> str:
        return self.values.get("HOSTNAME", "")

    @property
    def ip_addresses(self) -> list[str]:
        return self.values.get("IP_ADDRESS", "").split()

    @property
    def autostart(self) -> bool:
        # A config without ONBOOT means "no" (libvirt crashed on it).
        return self.values.get("ONBOOT", "no").lower() == "yes"

    @property
    def uuid(self) -> str | None:
        return self.config.uuid


@dataclass(frozen=True, slots=True)
class Change:
    veid: int
    what: str  # "added", "removed", "status", "config"
    old_status: str | None
    new_status: str | None


def _stamp(path: Path) -> tuple[int, int, int]:
    try:
        st = os.stat(path)
    except OSError:
        return (0, 0, 0)
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def parse_status_lines(text: str) -> dict[int, str]:
    """`vzlist -a -H -o ctid,status` output: 'ID STATUS' per line, IDs right-aligned;
    blank lines are skipped."""
    statuses: dict[int, str] = {}
    for line in text.split("\n"):
        if not line.strip():
            continue
        match = _STATUS_LINE.match(line)
        if match is None or int(match[1]) > MAX_VEID or match[2] not in STATUSES:
            raise VzError(
                ErrorKind.INTERNAL,
                f"vzlist printed a line that is not 'CTID STATUS': {line!r}",
                tool="vzlist",
            )
        statuses[int(match[1])] = match[2]
    return statuses


class HostModel:
    def __init__(self, paths: HostPaths, runner: ToolRunner) -> None:
        self.paths = paths
        self.runner = runner
        self.containers: dict[int, Container] = {}
        # Grows at every change, so readers can cache what they derive from the model.
        self.version = 0

    async def list_statuses(self, veids: Iterable[int] = ()) -> dict[int, str]:
        wanted = [str(v) for v in veids]
        result = await self.runner.run(
            "vzlist", ["-a", "-H", "-o", "ctid,status", *wanted], operation="query", check=False
        )
        # "Container(s) not found" (exit 1): none of the named, or none at all on 3.0.
        if result.exit_code != 0:
            if "not found" in result.stderr:
                return {}
            raise tool_failure("vzlist", result)
        return parse_status_lines(result.stdout)

    async def refresh(
        self,
        veids: Iterable[int] | None = None,
        *,
        skip: Collection[int] = (),
        late_skip: Callable[[], Collection[int] | None] | None = None,
    ) -> list[Change]:
        """Bring the model up to date (all containers, or only the given ones);
        containers in skip are left as they are (their jobs read them back).
        late_skip is asked once vzlist has answered, with no await before the model
        is changed: containers whose jobs moved while vzlist ran, whose answer may
        predate the job; None drops the whole answer."""
        wanted = None if veids is None else sorted(set(veids))
        statuses = await self.list_statuses(wanted or ())
        if late_skip is not None:
            moved = late_skip()
            if moved is None:
                return []
            skip = {*skip, *moved}
        for veid in skip:
            statuses.pop(veid, None)
        scope = self.containers.keys() if wanted is None else wanted
        changes: list[Change] = []
        gone = [v for v in scope if v in self.containers and v not in statuses and v not in skip]
        for veid in gone:
            old = self.containers.pop(veid)
            changes.append(Change(veid, "removed", old.status, None))
        for veid, status in statuses.items():
            container = self.containers.get(veid)
            stamp = _stamp(self.paths.ct_conf(veid))
            if container is None:
                container = Container(veid, status, read_config(self.paths.ct_conf(veid)), stamp)
                self.containers[veid] = container
                self._report_problems(container)
                changes.append(Change(veid, "added", None, status))
                continue
            changes.extend(self._update(container, status, stamp))
        if changes:
            self.version += 1
        return changes

    def _update(
        self, container: Container, status: str, stamp: tuple[int, int, int]
    ) -> list[Change]:
        """Re-read the config if its stamp changed and record the status."""
        changes = []
        if stamp != container.conf_stamp:
            container.config = read_config(self.paths.ct_conf(container.veid))
            container.conf_stamp = stamp
            self._report_problems(container)
            changes.append(Change(container.veid, "config", container.status, status))
        if status != container.status:
            changes.append(Change(container.veid, "status", container.status, status))
            container.status = status
        return changes

    def settle(self, veid: int, status: str) -> list[Change]:
        """Record the status a successful vzctl run left the container in, and
        re-read its config if the file changed: no vzlist run needed."""
        container = self.containers.get(veid)
        if container is None or status not in STATUSES:
            raise KeyError(veid)
        changes = self._update(container, status, _stamp(self.paths.ct_conf(veid)))
        if changes:
            self.version += 1
        return changes

    def _report_problems(self, container: Container) -> None:
        for problem in container.config.problems:
            log.warning(
                "%s: %s (the rest of the file is used)",
                self.paths.ct_conf(container.veid),
                problem,
                extra={"veid": container.veid},
            )

    def lock_holder(self, veid: int) -> int | None:
        """The pid in LOCKDIR/CTID.lck if that process is alive (openvz-tools.md §1.7)."""
        lockdir = read_config(self.paths.vz_conf).values.get("LOCKDIR", "/vz/lock")
        try:
            text = (self.paths.host_path(lockdir) / f"{veid}.lck").read_text()
            pid = int(text.split()[0])
        except (OSError, ValueError, IndexError):
            return None
        return pid if Path(f"/proc/{pid}").exists() else None

    async def wait_unlocked(self, veid: int, timeout: float) -> bool:
        """Wait until no live process holds the container's vzctl lock."""
        deadline = time.monotonic() + timeout
        while self.lock_holder(veid) is not None:
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.1)
        return True

    def next_free_veid(self) -> int:
        """The lowest ID from FIRST_FREE_VEID up that no container has and no
        config file names (a container vzlist has not shown yet, or a half-made
        one). Only safe to act on from the host-wide lane, which no other job runs
        beside."""
        taken = set(self.containers)
        try:
            names = os.listdir(self.paths.conf_dir)
        except OSError as err:
            raise VzError(
                ErrorKind.INTERNAL, f"cannot list {self.paths.conf_dir}: {err.strerror}"
            ) from None
        taken.update(
            int(n[:-5]) for n in names if n.endswith(".conf") and _DECIMAL_ID.match(n[:-5])
        )
        veid = FIRST_FREE_VEID
        while veid in taken:
            veid += 1
        if veid > MAX_VEID:
            raise VzError(ErrorKind.RESOURCE_EXHAUSTED, "every container ID is taken")
        return veid

    def find(self, name: str) -> Container | None:
        """A container by its decimal CTID or its OpenVZ NAME."""
        if _DECIMAL_ID.match(name):
            return self.containers.get(int(name))
        for container in self.containers.values():
            if container.vz_name == name:
                return container
        return None

    def find_uuid(self, uuid: str) -> Container | None:
        uuid = uuid.lower()
        for container in self.containers.values():
            if container.uuid == uuid:
                return container
        return None
