"""A throwaway OpenSSH server on loopback: its own config, host key and
authorized_keys in a temp directory; the system's sshd and /etc/ssh are untouched."""

from __future__ import annotations

import contextlib
import getpass
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.remote.processes import free_port, stop, wait_for_port

SSHD = "/usr/sbin/sshd"


@dataclass(frozen=True)
class Sshd:
    port: int
    user: str
    client_key: Path
    known_hosts: Path
    log: Path


def _keygen(path: Path) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)],
        check=True,
        capture_output=True,
        timeout=20,
    )


@contextlib.contextmanager
def run_sshd(directory: Path) -> Iterator[Sshd]:
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    host_key, client_key = directory / "host_key", directory / "client_key"
    _keygen(host_key)
    _keygen(client_key)
    authorized = directory / "authorized_keys"
    authorized.write_text(Path(f"{client_key}.pub").read_text())
    known_hosts = directory / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:{port} {Path(f'{host_key}.pub').read_text()}")
    config = directory / "sshd_config"
    config.write_text(f"""\
ListenAddress 127.0.0.1
Port {port}
HostKey {host_key}
AuthorizedKeysFile {authorized}
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
AllowTcpForwarding no
X11Forwarding no
PidFile {directory / "sshd.pid"}
LogLevel VERBOSE
""")
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    log = directory / "sshd.log"
    with log.open("wb") as log_file:
        sshd = subprocess.Popen(
            [SSHD, "-f", str(config), "-D", "-e"],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=log_file,
        )
    try:
        wait_for_port(port, sshd)
        yield Sshd(port, getpass.getuser(), client_key, known_hosts, log)
    finally:
        stop(sshd)
