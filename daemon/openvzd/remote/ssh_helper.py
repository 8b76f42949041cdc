"""openvzd-ssh-helper: joins stdin/stdout to the daemon's unix socket.

The openvz+ssh transport runs it on the daemon's host through ssh, as libvirt's
remote driver runs virt-ssh-helper. It runs as the ssh login user, so the
socket's own permissions decide who gets in: the read-write socket is root's
alone, the read-only one (--readonly) is open to every local user.
"""

from __future__ import annotations

import argparse
import os
import selectors
import socket
import sys
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from openvzd.config import DEFAULT_CONFIG_PATH, ConfigError, load_config

_CHUNK = 64 * 1024
# Sent first on the daemon's socket, so the daemon records the caller as "ssh"
# and the user name of the uid the kernel reports (relay.py).
SSH_PREAMBLE = b"OPENVZD-SSH/1\n"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="openvzd-ssh-helper",
        description="Join stdin and stdout to openvzd's socket (run by `ovzsh -c openvz+ssh://`).",
    )
    parser.add_argument("--readonly", action="store_true", help="use the read-only socket")
    parser.add_argument("--socket", type=Path, help="the socket (default: from the config)")
    parser.add_argument(
        "name",
        nargs="?",
        help="the local URI to open, like libvirt's name= (openvz:///system[?socket=PATH])",
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=DEFAULT_CONFIG_PATH,
        help="the daemon's configuration (default: %(default)s)",
    )
    return parser


class BadName(ValueError):
    """The name= URI is not one this host serves; the message says what is."""


_NAME_PARAMS = frozenset({"socket", "readonly"})


def socket_of_name(name: str) -> tuple[Path | None, bool]:
    """The socket and read-only flag a local URI asks for (None: the configured one).

    Only openvz:///system and openvz+unix:///system are local URIs; a host, another
    path or an unknown parameter means the client meant something else.
    """
    parts = urlsplit(name)
    if parts.scheme not in ("openvz", "openvz+unix") or parts.netloc or parts.path != "/system":
        raise BadName(
            f"name={name!r} is not a local URI of this host; use openvz:///system "
            "(with ?socket=PATH for another socket)"
        )
    params = dict(parse_qsl(parts.query, keep_blank_values=True))
    unknown = sorted(set(params) - _NAME_PARAMS)
    if unknown:
        raise BadName(f"name={name!r}: unknown parameters {unknown}; known: socket, readonly")
    socket_path = params.get("socket")
    if socket_path is not None and not socket_path.startswith("/"):
        raise BadName(f"name={name!r}: socket must be an absolute path")
    readonly = "readonly" in params and params["readonly"] not in ("0", "no")
    return (Path(socket_path) if socket_path else None), readonly


def chosen_socket(given: Path | None, readonly: bool, config_path: Path) -> Path:
    """The socket to join. A read-only request never reaches a read-write socket:
    as the client library reads openvz:///system?socket=PATH&readonly, it is
    PATH's read-only sibling unless PATH is a read-only socket itself."""
    if given is None:
        return default_socket(config_path, readonly)
    if readonly and not given.name.endswith("-ro.sock"):
        return given.with_name("openvzd-ro.sock")
    return given


def default_socket(config_path: Path, readonly: bool) -> Path:
    config = load_config(config_path)
    return config.ro_socket if readonly else config.rw_socket


def bridge(sock: socket.socket, stdin_fd: int, stdout_fd: int) -> None:
    """Copy stdin to sock and sock to stdout until the daemon closes the socket.

    Ends when the connection does: the daemon's end of stream, or a write error
    when ssh has gone away.
    """
    selector = selectors.DefaultSelector()
    selector.register(stdin_fd, selectors.EVENT_READ)
    selector.register(sock, selectors.EVENT_READ)
    try:
        while True:
            for key, _ in selector.select():
                if key.fileobj == stdin_fd:
                    data = os.read(stdin_fd, _CHUNK)
                    if not data:
                        selector.unregister(stdin_fd)
                        sock.shutdown(socket.SHUT_WR)
                    else:
                        sock.sendall(data)
                else:
                    data = sock.recv(_CHUNK)
                    if not data:
                        return
                    _write_all(stdout_fd, data)
    finally:
        selector.close()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    readonly, given = args.readonly, args.socket
    try:
        if args.name:
            named_socket, named_readonly = socket_of_name(args.name)
            readonly = readonly or named_readonly
            given = given or named_socket
        path = chosen_socket(given, readonly, args.config)
    except (ConfigError, BadName) as err:
        sys.exit(f"openvzd-ssh-helper: {err}")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(str(path))
    except OSError as err:
        sys.exit(
            f"openvzd-ssh-helper: cannot connect to {path}: {err.strerror} "
            "(is openvzd running, and may this user use that socket?)"
        )
    try:
        sock.sendall(SSH_PREAMBLE)
        bridge(sock, sys.stdin.fileno(), sys.stdout.fileno())
    except (BrokenPipeError, ConnectionError):
        pass  # ssh or the daemon went away: the connection is over either way
    finally:
        sock.close()
