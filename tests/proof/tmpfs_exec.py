"""Run inside `unshare --mount --propagation private`: put a small tmpfs over a
folder (keeping the files it held) and exec a command that sees only that folder
on it. Usage: tmpfs_exec.py FOLDER SIZE COMMAND [ARG...]

A real full file system for one process tree, without touching the host's mounts.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def main(folder: Path, size: str, command: list[str]) -> None:
    kept = {
        entry.name: (entry.read_bytes(), entry.stat().st_mode & 0o7777)
        for entry in folder.iterdir()
        if entry.is_file()
    }
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(folder)], check=True
    )
    for name, (data, mode) in kept.items():
        (folder / name).write_bytes(data)
        os.chmod(folder / name, mode)
    os.execv(command[0], command)


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2], sys.argv[3:])
