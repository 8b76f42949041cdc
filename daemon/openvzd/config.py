"""The daemon's configuration: /etc/openvzd/openvzd.toml and its documented defaults.

Every key, its default and its meaning is in DEFAULTS_DOC below (also printed by
`openvzd --print-default-config`); a key the daemon does not know is an error, so
a typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import grp
import logging
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openvzd.libvirt.settings import (
    LIBVIRT_DEFAULTS_DOC,
    SYSTEM_RO_SOCKET,
    SYSTEM_RW_SOCKET,
    LibvirtSettings,
)
from openvzd.remote.settings import REMOTE_DEFAULTS_DOC, SaslSettings, TlsSettings

DEFAULT_CONFIG_PATH = Path("/etc/openvzd/openvzd.toml")
# What `openvzd --simulate` never takes from a configuration file.
SIMULATION_SECTIONS = frozenset({"paths", "tools"})

log = logging.getLogger(__name__)

DEFAULTS_DOC = """\
# openvzd configuration. Every key is shown with its default.

[paths]
# Where the sockets and the single-instance lock live.
run_dir = "/run/openvzd"
# Where the job journal (SQLite) lives.
state_dir = "/var/lib/openvzd"
# The OpenVZ host's file system root: /etc/vz, /vz and /proc are read under it.
host_root = "/"

[tools]
vzctl = "/usr/sbin/vzctl"
vzlist = "/usr/sbin/vzlist"
vzmigrate = "/usr/sbin/vzmigrate"

[timeouts]
# Seconds a tool run may take before its whole process group is killed.
create = 1800
start = 300
stop = 300
set = 120
destroy = 600
migrate = 7200
suspend = 600
query = 30
default = 300

[jobs]
# Jobs on different containers that may run at once.
max_workers = 8
# Finished jobs kept in the live journal; older ones are archived.
history_limit = 10000
# Seconds SIGTERM waits for running tool runs before the daemon exits.
stop_grace = 60
# Jobs that may wait on one container's lane, and in all; past either a submit is
# refused (RESOURCE_EXHAUSTED) until some have run.
max_queued_per_lane = 10000
max_queued = 100000
# Archived jobs (past history_limit) kept at most this many, and this many days.
archive_max_jobs = 100000
archive_max_age_days = 90

[sockets]
# The read-write socket: every call allowed. Mode and group of the socket file.
rw_path = "openvzd.sock"
rw_mode = 0o600
rw_group = ""
# The read-only socket: every mutating call refused with PERMISSION_DENIED.
ro_path = "openvzd-ro.sock"
ro_mode = 0o666

[limits]
# The largest request or reply, in bytes; a larger one is refused (RESOURCE_EXHAUSTED).
max_message_bytes = 4194304
# Calls the daemon serves at once on one listener; more are refused at once with
# RESOURCE_EXHAUSTED (the client may retry).
max_concurrent_rpcs = 512
# Client connections one unix socket accepts at once; more are closed as they
# arrive (the client sees UNAVAILABLE). SSH clients arrive through these sockets
# too. 0 = no limit.
max_clients = 256
# Connections one uid may hold on the unix sockets together (the kernel's peer
# credentials say whose a connection is); more are closed as they arrive, so one
# user cannot take another's places. Root (uid 0) and the uid the daemon runs as
# are not capped per uid: they own the daemon, and only max_clients bounds them.
# 0 = no limit.
max_clients_per_uid = 32
# Calls in flight on one client connection; more wait until one ends.
max_calls_per_client = 64
# Streaming calls (event watches) one caller may hold open at once, over all its
# connections: a uid on the unix sockets, a user over SASL, a DN over TLS. More
# are refused with RESOURCE_EXHAUSTED. Root and the daemon's uid are not capped.
# 0 = no limit.
max_streams_per_caller = 64
# Other calls one such caller may have in flight at once, over all its
# connections; one more is refused at once with RESOURCE_EXHAUSTED (retry), so a
# caller that floods the daemon with reads waits behind itself, not behind
# others. Root and the daemon's uid are not capped. 0 = no limit.
max_calls_per_caller = 16
# Calls a second one such caller gets answered at once (in bursts of as many);
# past it, its calls wait their turn: a loop of reads by one user is slowed down
# instead of slowing everyone. Root and the daemon's uid are not limited.
# 0 = no limit.
max_call_rate_per_caller = 100

[storage]
# Folders (as the host names them) that may hold the directory of a
# <filesystem type='mount'> container, besides the folder that holds vz.conf's
# VE_PRIVATE (/vz/private). Undefine deletes or renames a private area only when
# openvzd created it or it lies inside one of these.
mount_roots = []

[monitor]
# Seconds between looks at the host for changes made outside the daemon.
refresh_interval = 2.0
# Seconds Host.Check answers from its last result: each fresh check runs the
# host's tools, so a loop of checks cannot fork a process per call.
check_cache = 5.0

[log]
# debug, info, warning or error; `openvzd --debug` overrides it.
level = "info"

# SIGHUP re-reads this file. [timeouts], [jobs], [monitor], [log] and [tools] (when
# the new tools exist) apply at once, and so do [tls]' files and allow-lists (for new
# connections); [paths], [sockets], [limits], [sasl] and where and how [tls] listens
# are fixed when the listeners open: a change is logged and waits for a restart.
# A file that cannot be used is refused whole and the running configuration kept.
"""
# The remote listeners' sections live with their code (openvzd.remote.settings).
DEFAULTS_DOC += "\n" + REMOTE_DEFAULTS_DOC
DEFAULTS_DOC += "\n" + LIBVIRT_DEFAULTS_DOC

LOG_LEVELS = ("debug", "info", "warning", "error")
MOUNT_ROOT = re.compile(r"(/[A-Za-z0-9_.-]+)+/?\Z", re.ASCII)
LIVE_SECTIONS = ("timeouts", "jobs", "monitor", "log", "tools", "storage")
RESTART_SECTIONS = ("paths", "sockets", "limits", "tls", "sasl", "libvirt")
# The [tls] keys SIGHUP applies: new TLS connections get the new files and lists.
TLS_LIVE_KEYS = ("ca_file", "cert_file", "key_file", "allowed_dn", "readonly_dn", "crl_file")


class ConfigError(Exception):
    """The configuration file cannot be used; the message names the key and the fix."""


@dataclass(slots=True)
class Paths:
    run_dir: Path = Path("/run/openvzd")
    state_dir: Path = Path("/var/lib/openvzd")
    host_root: Path = Path("/")


@dataclass(slots=True)
class Tools:
    vzctl: Path = Path("/usr/sbin/vzctl")
    vzlist: Path = Path("/usr/sbin/vzlist")
    vzmigrate: Path = Path("/usr/sbin/vzmigrate")


@dataclass(slots=True)
class Timeouts:
    create: float = 1800.0
    start: float = 300.0
    stop: float = 300.0
    set: float = 120.0
    destroy: float = 600.0
    migrate: float = 7200.0
    suspend: float = 600.0
    query: float = 30.0
    default: float = 300.0

    def as_dict(self) -> dict[str, float]:
        return dataclasses.asdict(self)


@dataclass(slots=True)
class Jobs:
    max_workers: int = 8
    history_limit: int = 10000
    stop_grace: float = 60.0
    max_queued_per_lane: int = 10000
    max_queued: int = 100000
    archive_max_jobs: int = 100000
    archive_max_age_days: int = 90


@dataclass(slots=True)
class Sockets:
    rw_path: str = "openvzd.sock"
    rw_mode: int = 0o600
    rw_group: str = ""
    ro_path: str = "openvzd-ro.sock"
    ro_mode: int = 0o666


@dataclass(slots=True)
class Limits:
    max_message_bytes: int = 4 * 1024 * 1024
    max_concurrent_rpcs: int = 512
    max_clients: int = 256
    max_clients_per_uid: int = 32
    max_calls_per_client: int = 64
    max_streams_per_caller: int = 64
    max_calls_per_caller: int = 16
    max_call_rate_per_caller: int = 100


@dataclass(slots=True)
class Storage:
    mount_roots: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Log:
    level: str = "info"


@dataclass(slots=True)
class Monitor:
    refresh_interval: float = 2.0
    check_cache: float = 5.0


@dataclass(slots=True)
class Config:
    paths: Paths = field(default_factory=Paths)
    tools: Tools = field(default_factory=Tools)
    timeouts: Timeouts = field(default_factory=Timeouts)
    jobs: Jobs = field(default_factory=Jobs)
    sockets: Sockets = field(default_factory=Sockets)
    limits: Limits = field(default_factory=Limits)
    monitor: Monitor = field(default_factory=Monitor)
    storage: Storage = field(default_factory=Storage)
    log: Log = field(default_factory=Log)
    tls: TlsSettings = field(default_factory=TlsSettings)
    sasl: SaslSettings = field(default_factory=SaslSettings)
    libvirt: LibvirtSettings = field(default_factory=LibvirtSettings)
    simulated: bool = False

    def socket_path(self, name: str) -> Path:
        """A socket setting made absolute: relative names live in run_dir."""
        return self.paths.run_dir / name

    @property
    def rw_socket(self) -> Path:
        return self.socket_path(self.sockets.rw_path)

    @property
    def ro_socket(self) -> Path:
        return self.socket_path(self.sockets.ro_path)

    @property
    def journal_path(self) -> Path:
        return self.paths.state_dir / "jobs.sqlite"

    def rw_gid(self) -> int | None:
        if not self.sockets.rw_group:
            return None
        try:
            return grp.getgrnam(self.sockets.rw_group).gr_gid
        except KeyError:
            raise ConfigError(
                f"[sockets] rw_group = {self.sockets.rw_group!r}: no such group; "
                "create it or leave rw_group empty"
            ) from None


_SECTIONS: dict[str, type] = {
    "paths": Paths,
    "tools": Tools,
    "timeouts": Timeouts,
    "jobs": Jobs,
    "sockets": Sockets,
    "limits": Limits,
    "monitor": Monitor,
    "storage": Storage,
    "log": Log,
    "tls": TlsSettings,
    "sasl": SaslSettings,
    "libvirt": LibvirtSettings,
}


def _coerce(section: str, key: str, value: Any, default: Any) -> Any:
    where = f"[{section}] {key}"
    if isinstance(default, Path):
        if not isinstance(value, str) or not value.startswith("/"):
            raise ConfigError(f"{where} must be an absolute path in quotes, not {value!r}")
        return Path(value)
    if isinstance(default, list):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f'{where} must be a list of strings, like ["a", "b"], not {value!r}')
        return list(value)
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false, not {value!r}")
        return value
    if isinstance(default, int) and not isinstance(default, bool):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ConfigError(f"{where} must be a whole number ≥ 0, not {value!r}")
        return value
    if isinstance(default, float):
        if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
            raise ConfigError(f"{where} must be a number of seconds > 0, not {value!r}")
        return float(value)
    if not isinstance(value, str):
        raise ConfigError(f"{where} must be a string in quotes, not {value!r}")
    return value


def parse_config(text: str, origin: str = "<config>") -> Config:
    """Read TOML text into a Config; unknown sections and keys are errors."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{origin}: not valid TOML: {err}") from None
    config = Config()
    for section, values in data.items():
        if section not in _SECTIONS:
            known = ", ".join(sorted(_SECTIONS))
            raise ConfigError(f"{origin}: unknown section [{section}]; known: {known}")
        if not isinstance(values, dict):
            raise ConfigError(f"{origin}: {section} must be a [section]")
        target = getattr(config, section)
        for key, value in values.items():
            if not hasattr(target, key):
                known = ", ".join(f.name for f in dataclasses.fields(target))
                raise ConfigError(f"{origin}: unknown key {key!r} in [{section}]; known: {known}")
            default = getattr(target, key)
            setattr(target, key, _coerce(section, key, value, default))
    for key in ("max_workers", "max_queued_per_lane", "max_queued", "archive_max_jobs"):
        if getattr(config.jobs, key) < 1:
            raise ConfigError(f"{origin}: [jobs] {key} must be at least 1")
    for key in ("max_message_bytes", "max_concurrent_rpcs", "max_calls_per_client"):
        if getattr(config.limits, key) < 1:
            raise ConfigError(f"{origin}: [limits] {key} must be at least 1")
    for root in config.storage.mount_roots:
        if not MOUNT_ROOT.match(root) or "/../" in root + "/" or "/./" in root + "/":
            raise ConfigError(
                f"{origin}: [storage] mount_roots: {root!r} must be an absolute folder other "
                "than '/', without '.' or '..' parts (letters, digits, '/', '_', '.', '-')"
            )
    _check_socket_modes(config.sockets, origin)
    if config.log.level not in LOG_LEVELS:
        raise ConfigError(
            f"{origin}: [log] level = {config.log.level!r}; use one of {', '.join(LOG_LEVELS)}"
        )
    return config


def _check_socket_modes(sockets: Sockets, origin: str) -> None:
    """Permission bits only, the owner can connect, and no one but the owner's
    group on the read-write socket (any user there could change containers)."""
    for key in ("rw_mode", "ro_mode"):
        mode = getattr(sockets, key)
        if mode > 0o777 or mode & 0o600 != 0o600:
            raise ConfigError(
                f"{origin}: [sockets] {key} = {mode:#o}: give permission bits, in octal, that "
                "let the owner read and write (0o600 to 0o666), such as 0o600; a TOML number "
                "without 0o is decimal"
            )
    if sockets.rw_mode & 0o007:
        raise ConfigError(
            f"{origin}: [sockets] rw_mode = {sockets.rw_mode:#o} lets every local user change "
            "containers; use 0o600, or 0o660 with rw_group for a trusted group"
        )


def differences(old: Config, new: Config) -> list[tuple[str, str, Any, Any]]:
    """(section, key, old value, new value) of every setting that differs."""
    found = []
    for section in _SECTIONS:
        before, after = getattr(old, section), getattr(new, section)
        for item in dataclasses.fields(before):
            old_value, new_value = getattr(before, item.name), getattr(after, item.name)
            if old_value != new_value:
                found.append((section, item.name, old_value, new_value))
    return found


def _layer(config: Config, path: Path, must_exist: bool) -> None:
    """Set on config every key the file at path sets, except its [paths] and [tools]:
    a simulated host keeps the simulation's (a warning names what was left out)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if must_exist:
            raise ConfigError(f"cannot read {path}: no such file") from None
        return
    except OSError as err:
        raise ConfigError(f"cannot read {path}: {err.strerror}") from None
    parsed = parse_config(text, str(path))
    data = tomllib.loads(text)
    kept = sorted(SIMULATION_SECTIONS & data.keys())
    if kept:
        log.warning(
            "%s: [%s] left out: a simulated host keeps its own paths and tools",
            path,
            "], [".join(kept),
        )
    for section, values in data.items():
        if section in SIMULATION_SECTIONS:
            continue
        for key in values:
            setattr(getattr(config, section), key, getattr(getattr(parsed, section), key))


def load_config(path: Path) -> Config:
    """The configuration at path; the documented defaults when it does not exist."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Config()
    except OSError as err:
        raise ConfigError(f"cannot read {path}: {err.strerror}") from None
    return parse_config(text, str(path))


def simulated_config(sim_dir: Path, config_file: Path | None = None) -> Config:
    """The embedded configuration of `openvzd --simulate DIR [--config FILE]`: a vzsim
    host in DIR/host, sockets in DIR/run, the journal in DIR/state; runs as an ordinary
    user. Other settings come from DIR/openvzd.toml when it exists, then from FILE."""
    sim_dir = sim_dir.resolve()
    host = sim_dir / "host"
    sbin = host / "usr" / "sbin"
    config = Config(
        paths=Paths(run_dir=sim_dir / "run", state_dir=sim_dir / "state", host_root=host),
        tools=Tools(vzctl=sbin / "vzctl", vzlist=sbin / "vzlist", vzmigrate=sbin / "vzmigrate"),
        simulated=True,
    )
    # DIR/openvzd.toml, then --config FILE, may set everything but the paths and tools
    # (remote listeners, limits, jobs), so a simulated host can be served as a real one
    # would be; FILE's keys win.
    _layer(config, sim_dir / "openvzd.toml", must_exist=False)
    if config_file is not None:
        _layer(config, config_file, must_exist=True)
    # The libvirt sockets live in DIR/run/libvirt unless the overlay moved them.
    libvirt = config.libvirt
    if libvirt.rw_path == SYSTEM_RW_SOCKET:
        libvirt.rw_path = sim_dir / "run" / "libvirt" / SYSTEM_RW_SOCKET.name
    if libvirt.ro_path == SYSTEM_RO_SOCKET:
        libvirt.ro_path = sim_dir / "run" / "libvirt" / SYSTEM_RO_SOCKET.name
    return config
