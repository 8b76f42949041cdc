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

from openvz.error_classes import InvalidArgument

TYPE_CHECKING = False  # not typing's, which the fast path does not import
if TYPE_CHECKING:
    from pathlib import Path

DEFAULT_URI = "openvz:///system"
RUN_DIR = "/run/openvzd"
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
        from pathlib import Path

        return Path(socket_file(self.params.get("socket"), read_only))


def socket_file(given: str | None, read_only: bool) -> str:
    """The unix socket of a URI's socket= parameter (None: the default ones)."""
    if not given:
        return os.path.join(RUN_DIR, RO_SOCKET if read_only else RW_SOCKET)
    if read_only and not os.path.basename(given).endswith("-ro.sock"):
        return os.path.join(os.path.dirname(given), RO_SOCKET)
    return given


# In a plain local URI's query: parse_qsl would decode % and +, and urlsplit drops
# or refuses control characters and spaces; such a query is left to parse_uri.
PLAIN_QUERY_REFUSED = frozenset("%+;#[]\\") | frozenset(map(chr, range(0x21))) | {"\x7f"}
PLAIN_PREFIXES = ("openvz:///system", "openvz+unix:///system")


def plain_local_socket(text: str | None, read_only: bool) -> str | None:
    """The socket file of a plain local URI (openvz[+unix]:///system[/], with socket=
    and readonly alone in its query) as parse_uri would have it, without urllib's and
    pathlib's imports (~15 ms of `ovzsh exec`'s 20); None for any other text, which
    parse_uri reads then."""
    text = text or default_uri()
    for prefix in PLAIN_PREFIXES:
        if text.startswith(prefix):
            rest = text[len(prefix) :].removeprefix("/")
            break
    else:
        return None
    if rest and not rest.startswith("?"):
        return None
    query = rest[1:]
    if not PLAIN_QUERY_REFUSED.isdisjoint(query):
        return None
    params: dict[str, str] = {}
    for pair in query.split("&") if query else ():
        name, _, value = pair.partition("=")
        if name not in ("socket", "readonly") or name in params:
            return None
        params[name] = value
    socket = params.get("socket")
    if socket is not None and os.path.basename(socket) in ("", ".", ".."):
        return None  # parse_uri says what is wrong with it
    uri = URI(text, "unix", None, None, None, params)
    return socket_file(socket, read_only or uri.read_only)


def unix_socket_of(text: str | None, read_only: bool) -> str | None:
    """The unix socket text's URI names (a plain local URI is read without urllib), or
    None when it names a remote daemon; a malformed URI raises InvalidArgument."""
    plain = plain_local_socket(text, read_only)
    if plain is not None:
        return plain
    uri = parse_uri(text)
    if uri.transport != "unix":
        return None
    return str(uri.socket_path(read_only or uri.read_only))


def default_uri() -> str:
    return os.environ.get("OPENVZ_DEFAULT_URI") or DEFAULT_URI


def parse_uri(text: str | None) -> URI:
    from pathlib import Path
    from urllib.parse import parse_qsl, urlsplit

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
