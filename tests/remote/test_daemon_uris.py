"""The same ovzsh commands over all five URI forms, against the real openvzd.

The daemon serves TLS and TCP+SASL (SCRAM, cleartext explicitly allowed) from
DIR/openvzd.toml; SSH goes through a real sshd on loopback to
openvzd-ssh-helper, which bridges to the daemon's unix sockets.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from openvzd.access import Level
from openvzd.remote.passwords import make_entry, write_db

from tests.daemon_process import BIN, DaemonProcess, free_port, running_daemon
from tests.remote.pki import issue, make_ca, write_client_pki
from tests.remote.sshd import Sshd
from tests.remote.test_ssh import HELPER


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[DaemonProcess, dict[str, tuple[str, str]]]]:
    base = tmp_path_factory.mktemp("uris")
    ca = make_ca("uri test CA")
    server = issue(ca, "openvzd", server=True, hosts=("127.0.0.1",))
    server.write(base / "server.pem", base / "server.key")
    (base / "ca.pem").write_bytes(ca.cert_pem)
    admin = write_client_pki(base / "admin", ca, issue(ca, "admin", server=False))
    viewer = write_client_pki(base / "viewer", ca, issue(ca, "viewer", server=False))
    write_db(
        base / "passwd.db",
        {
            "admin": make_entry("admin", "pw", Level.READ_WRITE),
            "viewer": make_entry("viewer", "pw", Level.READ_ONLY),
        },
    )
    (base / "pw").write_text("pw\n")
    tls_port, sasl_port = free_port(), free_port()
    sim = base / "sim"
    sim.mkdir()
    (sim / "openvzd.toml").write_text(f"""[tls]
enabled = true
address = "127.0.0.1"
port = {tls_port}
ca_file = "{base / "ca.pem"}"
cert_file = "{base / "server.pem"}"
key_file = "{base / "server.key"}"
allowed_dn = ["CN=admin,*", "CN=viewer,*"]
readonly_dn = ["CN=viewer,*"]

[sasl]
enabled = true
address = "127.0.0.1"
port = {sasl_port}
mechanisms = ["SCRAM-SHA-256"]
password_db = "{base / "passwd.db"}"
allow_cleartext = true
allowed_users = ["admin", "viewer"]
""")
    with running_daemon(sim) as daemon:
        yield (
            daemon,
            {
                "tls": (
                    f"openvz://127.0.0.1:{tls_port}/system?pkipath={admin}",
                    f"openvz://127.0.0.1:{tls_port}/system?pkipath={viewer}",
                ),
                "tcp": (
                    f"openvz+tcp://admin@127.0.0.1:{sasl_port}/system?password_file={base / 'pw'}",
                    f"openvz+tcp://viewer@127.0.0.1:{sasl_port}/system?password_file={base / 'pw'}",
                ),
            },
        )


def _ovzsh(uri: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "ovzsh"), "-c", uri, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _uris(
    served: tuple[DaemonProcess, dict[str, tuple[str, str]]], sshd: Sshd
) -> dict[str, tuple[str, str]]:
    daemon, remote = served
    ssh = (
        f"openvz+ssh://{sshd.user}@127.0.0.1:{sshd.port}/system?keyfile={sshd.client_key}"
        f"&known_hosts={sshd.known_hosts}&command={HELPER}&socket="
    )
    return {
        "openvz:///system": (
            f"openvz:///system?socket={daemon.rw_socket}",
            f"openvz:///system?socket={daemon.rw_socket}&readonly",
        ),
        "openvz+unix:///system": (
            f"openvz+unix:///system?socket={daemon.rw_socket}",
            f"openvz+unix:///system?socket={daemon.ro_socket}",
        ),
        "openvz://host/system": remote["tls"],
        "openvz+tcp://host/system": remote["tcp"],
        "openvz+ssh://user@host/system": (f"{ssh}{daemon.rw_socket}", f"{ssh}{daemon.ro_socket}"),
    }


FORMS = [
    "openvz:///system",
    "openvz+unix:///system",
    "openvz://host/system",
    "openvz+tcp://host/system",
    "openvz+ssh://user@host/system",
]


@pytest.mark.parametrize("form", FORMS)
def test_same_commands_over_every_uri(
    form: str, served: tuple[DaemonProcess, dict[str, tuple[str, str]]], sshd: Sshd
) -> None:
    daemon, _ = served
    full, read_only = _uris(served, sshd)[form]
    veid = str(400 + FORMS.index(form))
    example = (
        (daemon.sim_dir / "example-150.xml")
        .read_text()
        .replace("<name>150</name>", f"<name>{veid}</name>")
        .replace("10.0.150.1", f"10.0.{FORMS.index(form)}.1")
    )
    xml = daemon.sim_dir / f"ct{veid}.xml"
    xml.write_text(example)
    for args in (["define", str(xml)], ["start", veid], ["destroy", veid]):
        result = _ovzsh(full, *args)
        assert result.returncode == 0, (form, args, result.stderr)
    listed = _ovzsh(read_only, "list", "--all", "--name")
    assert listed.returncode == 0, listed.stderr
    assert veid in listed.stdout.split()
    refused = _ovzsh(read_only, "start", veid)
    assert refused.returncode == 1
    assert "read-only" in refused.stderr, refused.stderr


def test_wrong_password_and_no_certificate_are_refused(
    served: tuple[DaemonProcess, dict[str, tuple[str, str]]], tmp_path: Path
) -> None:
    _, remote = served
    wrong = tmp_path / "wrong"
    wrong.write_text("not the password\n")
    full, _ = remote["tcp"]
    refused = _ovzsh(full.split("?")[0] + f"?password_file={wrong}", "list")
    assert refused.returncode == 1
    assert "refused the login" in refused.stderr
    tls, _ = remote["tls"]
    nobody = tmp_path / "nobody"
    nobody.mkdir()
    (nobody / "cacert.pem").write_text((Path(tls.split("pkipath=")[1]) / "cacert.pem").read_text())
    no_cert = _ovzsh(tls.split("?")[0] + f"?pkipath={nobody}", "list")
    assert no_cert.returncode == 1
    assert "clientcert.pem" in no_cert.stderr
