"""Listening unix sockets at any path, however deep.

A socket address holds at most 107 bytes of path (sun_path), so a checkout in a deep
folder (`make run` puts the simulated host's sockets under it) would not be able to
listen. A longer path is bound through /proc/self/fd of its folder, which names the
same place in a few bytes. A client still needs a path it can connect to; that is
the client's limit, not the daemon's.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

SUN_PATH_MAX = 107
# Connections the kernel queues before they are accepted (asyncio's default is 100).
BACKLOG = 1024


def listening_unix_socket(path: Path, backlog: int = BACKLOG) -> socket.socket:
    """A unix stream socket bound at path and listening. The caller's umask applies."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        if len(os.fsencode(path)) <= SUN_PATH_MAX:
            sock.bind(os.fsencode(path))
        else:
            folder = os.open(path.parent, os.O_PATH | os.O_DIRECTORY)
            try:
                sock.bind(os.fsencode(f"/proc/self/fd/{folder}/") + os.fsencode(path.name))
            finally:
                os.close(folder)
        sock.listen(backlog)
    except BaseException:
        sock.close()
        raise
    sock.setblocking(False)
    return sock
