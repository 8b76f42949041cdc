"""The state directory holds the job journal, which keeps history (who did what
to which container): only the daemon's user may read it (issue 13, item 7)."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from openvzd.config import ConfigError

log = logging.getLogger(__name__)

STATE_DIR_MODE = 0o700


def ensure_private(path: Path) -> None:
    """Create path 0700, or make an existing one 0700 (with a log line saying
    what it was). A directory another user owns, or a symlink, is refused: the
    daemon cannot keep that private."""
    path.mkdir(parents=True, exist_ok=True, mode=STATE_DIR_MODE)
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode):
        raise ConfigError(
            f"[paths] state_dir = {path} is not a directory (a symlink or a file); "
            "point it at a directory the daemon owns"
        )
    if info.st_uid != os.geteuid():
        raise ConfigError(
            f"[paths] state_dir = {path} is owned by uid {info.st_uid}, not the daemon's "
            f"uid {os.geteuid()}; chown it to the daemon's user or choose another"
        )
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        os.chmod(path, STATE_DIR_MODE)
        log.warning(
            "the state directory %s was mode %#o, readable by others, and holds the job "
            "journal; made it %#o",
            path,
            mode,
            STATE_DIR_MODE,
        )
