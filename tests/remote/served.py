"""A real `openvzd --simulate` serving every remote transport from its own
openvzd.toml: [tls] (mutual x509), [sasl] (GSSAPI against the test realm's KDC,
and SCRAM-SHA-256 with cleartext explicitly allowed), and its unix sockets for
openvzd-ssh-helper behind a real sshd. Used by the tests and by bench/bench_remote.py.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from openvz.v1 import events_pb2, events_pb2_grpc
from openvzd.access import Level
from openvzd.remote.passwords import make_entry, write_db

from tests.daemon_process import BIN, DaemonProcess, start_daemon
from tests.remote.pki import Issued, issue, make_ca, write_client_pki
from tests.remote.realm import REALM, SERVICE_HOST, Realm
from tests.remote.sshd import Sshd
from tests.remote.standin import get_version

HELPER = str(BIN / "openvzd-ssh-helper")
# What openvzd logs once a remote listener is bound (daemon.py, _start_remote).
_TLS_BOUND = re.compile(r"TLS listener on [^ ]+:(\d+)$", re.MULTILINE)
_SASL_BOUND = re.compile(r"TCP\+SASL listener on [^ ]+:(\d+)$", re.MULTILINE)
SCRAM_PASSWORD = "correct horse battery"
TomlValue = bool | int | float | str | list[str]


@dataclass
class RemoteSetup:
    """Where the daemon's files are and how clients reach it.

    The listeners bind port 0 (no race with other processes for a "free" port);
    running_remote_daemon() fills in tls_port and sasl_port from the daemon's log.

    Identities: TLS admin (rw) and viewer (ro); Kerberos alice (rw), bob (ro),
    carol (known to the KDC, not to the daemon); SCRAM admin (rw), viewer (ro).
    """

    sim_dir: Path
    ca: Issued
    server_cert: Path
    server_key: Path
    tls_port: int
    sasl_port: int
    admin_pki: Path
    viewer_pki: Path
    password_file: Path
    realm: Realm

    def tls_uri(self, read_only: bool = False) -> str:
        pki = self.viewer_pki if read_only else self.admin_pki
        return f"openvz://127.0.0.1:{self.tls_port}/system?pkipath={pki}"

    def gssapi_uri(self) -> str:
        # The host name is part of the service principal: openvzd/localhost@TEST.REALM.
        return f"openvz+tcp://{SERVICE_HOST}:{self.sasl_port}/system?auth=sasl.gssapi"

    def scram_uri(self, read_only: bool = False) -> str:
        user = "viewer" if read_only else "admin"
        return (
            f"openvz+tcp://{user}@127.0.0.1:{self.sasl_port}/system"
            f"?auth=sasl.scram-sha-256&password_file={self.password_file}"
        )

    def kerberos_env(self, user: str) -> dict[str, str]:
        """The environment of a client process holding user's Kerberos ticket."""
        return {**os.environ, **self.realm.env, "KRB5CCNAME": self.realm.ccache_for(user)}


def ssh_uri(sshd: Sshd, socket: Path) -> str:
    return (
        f"openvz+ssh://{sshd.user}@127.0.0.1:{sshd.port}/system?keyfile={sshd.client_key}"
        f"&known_hosts={sshd.known_hosts}&command={HELPER}&socket={socket}"
    )


def _toml(value: TomlValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return "[" + ", ".join(_toml(item) for item in value) + "]"


def _section(name: str, values: Mapping[str, TomlValue]) -> str:
    return f"[{name}]\n" + "".join(f"{key} = {_toml(value)}\n" for key, value in values.items())


def write_remote_config(
    base: Path,
    realm: Realm,
    tls: Mapping[str, TomlValue] | None = None,
    sasl: Mapping[str, TomlValue] | None = None,
    other_sections: Mapping[str, Mapping[str, TomlValue]] | None = None,
) -> RemoteSetup:
    """Certificates, the password database and openvzd.toml under base; tls and
    sasl override or add keys of their sections, other_sections adds sections."""
    ca = make_ca("openvzd remote test CA")
    pki = base / "pki"
    pki.mkdir(parents=True)
    (pki / "ca.pem").write_bytes(ca.cert_pem)
    server_cert, server_key = pki / "server.pem", pki / "server.key"
    issue(ca, "openvzd server", server=True, hosts=("127.0.0.1", "localhost")).write(
        server_cert, server_key
    )
    admin = write_client_pki(base / "admin", ca, issue(ca, "admin", server=False))
    viewer = write_client_pki(base / "viewer", ca, issue(ca, "viewer", server=False))
    write_db(
        base / "passwd.db",
        {
            "admin": make_entry("admin", SCRAM_PASSWORD, Level.READ_WRITE),
            "viewer": make_entry("viewer", SCRAM_PASSWORD, Level.READ_ONLY),
        },
    )
    password_file = base / "password"
    password_file.write_text(SCRAM_PASSWORD + "\n")
    password_file.chmod(0o600)
    tls_section: dict[str, TomlValue] = {
        "enabled": True,
        "address": "127.0.0.1",
        "port": 0,
        "ca_file": str(pki / "ca.pem"),
        "cert_file": str(server_cert),
        "key_file": str(server_key),
        "allowed_dn": ["CN=admin,*", "CN=viewer,*"],
        "readonly_dn": ["CN=viewer,*"],
        **(tls or {}),
    }
    sasl_section: dict[str, TomlValue] = {
        "enabled": True,
        "address": "127.0.0.1",
        "port": 0,
        "mechanisms": ["GSSAPI", "SCRAM-SHA-256"],
        "keytab": str(realm.server_keytab),
        "password_db": str(base / "passwd.db"),
        "allow_cleartext": True,
        "allowed_users": [f"alice@{REALM}", f"bob@{REALM}", "admin", "viewer"],
        "readonly_users": [f"bob@{REALM}"],
        **(sasl or {}),
    }
    sim = base / "sim"
    sim.mkdir()
    sections = {"tls": tls_section, "sasl": sasl_section, **(other_sections or {})}
    (sim / "openvzd.toml").write_text(
        "\n".join(_section(name, values) for name, values in sections.items())
    )
    return RemoteSetup(
        sim_dir=sim,
        ca=ca,
        server_cert=server_cert,
        server_key=server_key,
        tls_port=int(str(tls_section["port"])),
        sasl_port=int(str(sasl_section["port"])),
        admin_pki=admin,
        viewer_pki=viewer,
        password_file=password_file,
        realm=realm,
    )


@contextlib.contextmanager
def running_remote_daemon(setup: RemoteSetup) -> Iterator[DaemonProcess]:
    """The daemon with the realm's krb5.conf (its keytab is named in [sasl]); sets
    setup's ports to those the listeners bound."""
    daemon = start_daemon(setup.sim_dir, env=setup.realm.env)
    try:
        setup.tls_port, setup.sasl_port = bound_ports(daemon)
        yield daemon
    finally:
        with contextlib.suppress(subprocess.TimeoutExpired):
            daemon.stop()
        if daemon.process.poll() is None:
            daemon.process.kill()
            daemon.process.wait(timeout=10)


def bound_ports(daemon: DaemonProcess) -> tuple[int, int]:
    """The (TLS, SASL) ports the running daemon listens on; 0 for a listener it lacks."""
    log = daemon.log()
    found = [pattern.search(log) for pattern in (_TLS_BOUND, _SASL_BOUND)]
    tls, sasl = (int(match.group(1)) if match else 0 for match in found)
    return tls, sasl


def ovzsh(
    uri: str, *args: str, env: Mapping[str, str] | None = None, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "ovzsh"), "-c", uri, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=dict(env) if env is not None else None,
    )


async def assert_calls_bounded(busy: grpc.aio.Channel, other: grpc.aio.Channel, limit: int) -> None:
    """With `limit` calls of one client in flight (open event streams) its next
    call waits, another client's does not, and one ended stream frees a place."""
    await get_version(busy)  # connected; the client knows the daemon's stream limit
    watches = [
        events_pb2_grpc.EventsStub(busy).Watch(events_pb2.WatchRequest()) for _ in range(limit)
    ]
    try:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await get_version(busy, timeout=2)
        assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        assert await get_version(other)
        watches.pop().cancel()
        assert await get_version(busy)
    finally:
        for watch in watches:
            watch.cancel()
