"""systemd's notify protocol, without systemd-python.

sd_notify(3) is one datagram of newline-separated KEY=VALUE lines sent to the
AF_UNIX socket named by $NOTIFY_SOCKET: a path, or an abstract address written
with a leading "@". Sending it ourselves means every install, a plain
`pip install openvzd` included, starts under the shipped Type=notify unit;
systemd-python stays optional, for the journal only (logs.py).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Mapping

log = logging.getLogger(__name__)


def notify_address(value: str) -> str | bytes | None:
    """The socket address $NOTIFY_SOCKET names, or None when it names nothing we can
    send to (a log line says why). Abstract addresses start with a NUL byte."""
    if not value:
        return None
    if value.startswith("@") and len(value) > 1:
        return b"\0" + value[1:].encode()
    if value.startswith("/"):
        return value
    log.warning(
        "NOTIFY_SOCKET=%r is neither a socket path nor an abstract @address; "
        "systemd will not hear that openvzd is ready",
        value,
    )
    return None


class SystemdNotifier:
    """Tells systemd what the daemon is doing (READY, RELOADING, STOPPING, WATCHDOG,
    STATUS). Without $NOTIFY_SOCKET every call is a no-op, so the daemon need not
    know whether it runs under systemd."""

    def __init__(self, environ: Mapping[str, str] = os.environ) -> None:
        self._environ = environ
        self._address = notify_address(environ.get("NOTIFY_SOCKET", ""))
        self._socket: socket.socket | None = None
        if self._address is not None:
            self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            # Never block the event loop on a full queue: a lost STATUS is harmless and
            # a lost WATCHDOG is sent again at the next half-interval.
            self._socket.setblocking(False)

    def send(self, state: str) -> None:
        if self._socket is None or self._address is None:
            return
        try:
            self._socket.sendto(state.encode(), self._address)
        except OSError as err:
            log.warning("cannot notify systemd (%s): %s", state.split("\n", 1)[0], err)

    def ready(self, status: str) -> None:
        self.send(f"READY=1\nSTATUS={status}\nMAINPID={os.getpid()}")

    def reloading(self) -> None:
        """RELOADING=1 with the CLOCK_MONOTONIC time systemd wants beside it (systemd 253)."""
        monotonic_usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        self.send(f"RELOADING=1\nMONOTONIC_USEC={monotonic_usec}")

    def stopping(self) -> None:
        self.send("STOPPING=1\nSTATUS=stopping")

    def watchdog_interval(self) -> float | None:
        """Half of WatchdogSec, when systemd asked this process for keep-alives."""
        usec = self._environ.get("WATCHDOG_USEC", "")
        pid = self._environ.get("WATCHDOG_PID", "")
        if self._socket is None or not usec.isdigit() or int(usec) == 0:
            return None
        if pid and (not pid.isdigit() or int(pid) != os.getpid()):
            return None
        return int(usec) / 2_000_000

    async def run_watchdog(self) -> None:
        interval = self.watchdog_interval()
        if interval is None:
            return
        while True:
            self.send("WATCHDOG=1")
            await asyncio.sleep(interval)
