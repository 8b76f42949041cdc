"""Connection URIs, as libvirt spells them:

    openvz:///system, openvz+unix:///system      the local read-write socket
    ...?socket=PATH                               another socket
    ...?readonly  (or open_read_only)             the read-only socket
    openvz://host[:port]/system                   TLS
    openvz+tcp://host[:port]/system               TCP with SASL
    openvz+ssh://[user@]host[:port]/system        SSH tunnel

With ?socket=PATH and read-only, the read-only socket is PATH's sibling
openvzd-ro.sock unless PATH itself ends in -ro.sock.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from openvz.error_classes import InvalidArgument

DEFAULT_URI = "openvz:///system"
RUN_DIR = Path("/run/openvzd")
RW_SOCKET = "openvzd.sock"
RO_SOCKET = "openvzd-ro.sock"
TRANSPORTS = {"": "unix-or-tls", "unix": "unix", "tcp": "tcp", "ssh": "ssh", "tls": "tls"}


class URI:
    """A parsed URI (parse_uri makes them). A plain class, not a dataclass: importing
    dataclasses (inspect, ast, ...) would cost `ovzsh exec`'s fast path ~7 ms."""

    __slots__ = ("host", "params", "port", "text", "transport", "user")

    def __init__(
        self,
        text: str,
        transport: str,  # unix, tls, tcp, ssh
        user: str | None,
        host: str | None,
        port: int | None,
        params: dict[str, str],
    ) -> None:
        self.text = text
        self.transport = transport
        self.user = user
        self.host = host
        self.port = port
        self.params = params

    def __repr__(self) -> str:
        return f"URI({self.text!r}, transport={self.transport!r})"

    @property
    def read_only(self) -> bool:
        """libvirt's boolean parameters: `?readonly` alone is on; 0, no, false, off are off."""
        value = self.params.get("readonly")
        return value is not None and value.strip().lower() not in ("0", "no", "false", "off")

    def socket_path(self, read_only: bool) -> Path:
        given = self.params.get("socket")
        if given:
            path = Path(given)
            if read_only and not path.name.endswith("-ro.sock"):
                return path.with_name(RO_SOCKET)
            return path
        return RUN_DIR / (RO_SOCKET if read_only else RW_SOCKET)


def default_uri() -> str:
    return os.environ.get("OPENVZ_DEFAULT_URI") or DEFAULT_URI


def parse_uri(text: str | None) -> URI:
    text = text or default_uri()
    try:
        parts = urlsplit(text)
    except ValueError as err:  # an unbalanced [ or ], a host that NFKC turns into / ? # @ :
        raise InvalidArgument(f"{text!r} is not a URI ({err})") from None
    scheme, _, transport = parts.scheme.partition("+")
    if scheme != "openvz":
        raise InvalidArgument(f"{text!r} is not an openvz URI (openvz:///system, for example)")
    if transport not in TRANSPORTS:
        raise InvalidArgument(f"unknown transport {transport!r} in {text!r}: use unix, tcp or ssh")
    if parts.path not in ("/system", "/system/"):
        raise InvalidArgument(f"{text!r}: the path must be /system")
    try:
        port = parts.port
    except ValueError:
        raise InvalidArgument(f"{text!r}: the port must be a number 0..65535") from None
    host = parts.hostname or None
    params = dict(parse_qsl(parts.query, keep_blank_values=True))
    socket = params.get("socket")
    if socket and not Path(socket).name:  # "/" or ".": no file to take the -ro sibling of
        raise InvalidArgument(f"{text!r}: socket={socket} names no socket file")
    if transport == "unix" and host:
        raise InvalidArgument(f"{text!r}: openvz+unix takes no host name (as in libvirt)")
    if params.get("socket") == "":
        raise InvalidArgument(f"{text!r}: socket= needs the socket's path")
    if transport == "":
        transport = "tls" if host else "unix"
    return URI(text, transport, parts.username, host, port, params)
