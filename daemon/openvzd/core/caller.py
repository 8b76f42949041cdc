"""Who asked: every job and every exec/console session records its caller.

The identity comes from the transport, never from the request: the kernel's
peer credentials (SO_PEERCRED) on a unix socket, the certificate's subject DN
over TLS, the authenticated principal or SCRAM user over SASL, and the ssh
user the helper runs as. A front-end builds the Caller; the core only records
and shows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Caller:
    # "unix", "tls", "sasl", "ssh", "libvirt" (the libvirt front-end's unix
    # sockets) or "daemon" (work the daemon started itself: recovery, retries).
    transport: str
    uid: int | None = None
    gid: int | None = None
    pid: int | None = None
    # The certificate DN, the SASL principal or SCRAM user, or the ssh user.
    name: str = ""
    read_only: bool = False

    def describe(self) -> str:
        """One short phrase for logs and `ovzsh jobs`: 'uid 0 pid 4242 (unix)'."""
        parts = []
        if self.name:
            parts.append(self.name)
        if self.uid is not None:
            parts.append(f"uid {self.uid}")
        if self.pid is not None:
            parts.append(f"pid {self.pid}")
        return f"{' '.join(parts) or 'unknown'} ({self.transport})"

    def to_record(self) -> dict[str, Any]:
        return {
            "transport": self.transport,
            "uid": self.uid,
            "gid": self.gid,
            "pid": self.pid,
            "name": self.name,
            "read_only": self.read_only,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any] | None) -> Caller:
        if not record:
            return DAEMON
        return cls(
            transport=str(record.get("transport", "")),
            uid=record.get("uid"),
            gid=record.get("gid"),
            pid=record.get("pid"),
            name=str(record.get("name", "")),
            read_only=bool(record.get("read_only", False)),
        )


DAEMON = Caller("daemon")
