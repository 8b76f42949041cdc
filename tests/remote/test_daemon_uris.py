"""The same ovzsh commands over all five URI forms, against the real openvzd: the
lifecycle, exec (stdin, stdout, stderr and the exit status) and the console on a pty.

The daemon serves TLS and TCP+SASL (GSSAPI with the test realm's tickets, and
SCRAM with cleartext explicitly allowed) from its openvzd.toml; SSH goes through
a real sshd on loopback to openvzd-ssh-helper, which joins the daemon's unix
sockets. Each form is used by a full and by a read-only identity.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from openvz.transport import SshTunnel
from openvzd.listeners import MAX_CALLS_PER_CONNECTION

from tests.client.pty_process import PtyProcess
from tests.daemon_process import BIN, DaemonProcess
from tests.remote.realm import Realm
from tests.remote.served import (
    HELPER,
    RemoteSetup,
    assert_calls_bounded,
    ovzsh,
    running_remote_daemon,
    ssh_uri,
    write_remote_config,
)
from tests.remote.sshd import Sshd
from tests.remote.standin import channel_through

pytest.importorskip("gssapi")

Identity = tuple[str, dict[str, str]]  # URI, and the environment ovzsh runs in


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, realm: Realm
) -> Iterator[tuple[RemoteSetup, DaemonProcess]]:
    setup = write_remote_config(tmp_path_factory.mktemp("uris"), realm)
    with running_remote_daemon(setup) as daemon:
        yield setup, daemon


FORMS = [
    "openvz:///system",
    "openvz+unix:///system",
    "openvz://host/system",
    "openvz+tcp://host/system (GSSAPI)",
    "openvz+tcp://host/system (SCRAM)",
    "openvz+ssh://user@host/system",
]


def identities(
    form: str, setup: RemoteSetup, daemon: DaemonProcess, sshd: Sshd
) -> tuple[Identity, Identity]:
    """The (full, read-only) identities of one form."""
    alice, bob = setup.kerberos_env("alice"), setup.kerberos_env("bob")
    rw, ro = daemon.rw_socket, daemon.ro_socket
    return {
        "openvz:///system": (
            (f"openvz:///system?socket={rw}", alice),
            (f"openvz:///system?socket={rw}&readonly", alice),
        ),
        "openvz+unix:///system": (
            (f"openvz+unix:///system?socket={rw}", alice),
            (f"openvz+unix:///system?socket={ro}", alice),
        ),
        "openvz://host/system": ((setup.tls_uri(), alice), (setup.tls_uri(True), alice)),
        "openvz+tcp://host/system (GSSAPI)": (
            (setup.gssapi_uri(), alice),
            (setup.gssapi_uri(), bob),
        ),
        "openvz+tcp://host/system (SCRAM)": (
            (setup.scram_uri(), alice),
            (setup.scram_uri(True), alice),
        ),
        # ?readonly with the read-write socket named: the helper takes its read-only sibling.
        "openvz+ssh://user@host/system": (
            (ssh_uri(sshd, rw), alice),
            (ssh_uri(sshd, rw) + "&readonly", alice),
        ),
    }[form]


@pytest.mark.parametrize("form", FORMS)
def test_same_commands_over_every_uri(
    form: str, served: tuple[RemoteSetup, DaemonProcess], sshd: Sshd
) -> None:
    setup, daemon = served
    (full, full_env), (read_only, read_only_env) = identities(form, setup, daemon, sshd)
    index = FORMS.index(form)
    veid = str(400 + index)
    xml = daemon.sim_dir / f"ct{veid}.xml"
    xml.write_text(
        (daemon.sim_dir / "example-150.xml")
        .read_text()
        .replace("<name>150</name>", f"<name>{veid}</name>")
        .replace("10.0.150.1", f"10.0.{index}.1")
    )
    for args in (["define", str(xml)], ["start", veid], ["dominfo", veid]):
        result = ovzsh(full, *args, env=full_env)
        assert result.returncode == 0, (form, args, result.stderr)
    script = "cat; echo via-exec >&2; exit 3"
    ran = ovzsh(full, "exec", veid, "--", "sh", "-c", script, env=full_env, stdin="through\n")
    assert (ran.returncode, ran.stdout, ran.stderr) == (3, "through\n", "via-exec\n"), form
    console = PtyProcess([str(BIN / "ovzsh"), "-c", full, "console", veid], full_env)
    try:
        console.expect(f"CT-{veid}-console# ".encode())
        console.send(b"echo via-$((3*14))\r")
        console.expect(b"via-42")
        console.send(b"\x1d")
        assert console.finish() == 0, form
    finally:
        console.close()
    destroyed = ovzsh(full, "destroy", veid, env=full_env)
    assert destroyed.returncode == 0, (form, destroyed.stderr)
    listed = ovzsh(read_only, "list", "--all", "--name", env=read_only_env)
    assert listed.returncode == 0, listed.stderr
    assert veid in listed.stdout.split()
    for change in (["start", veid], ["undefine", veid], ["exec", veid, "--", "true"]):
        refused = ovzsh(read_only, *change, env=read_only_env)
        assert refused.returncode == 1
        assert "read-only" in refused.stderr, (form, refused.stderr)
    state = ovzsh(full, "domstate", veid, env=full_env)
    assert state.stdout.strip() == "shut off", (form, state)


def test_a_missing_client_certificate_is_named(
    served: tuple[RemoteSetup, DaemonProcess], tmp_path: Path
) -> None:
    setup, _ = served
    nobody = tmp_path / "nobody"
    nobody.mkdir()
    (nobody / "cacert.pem").write_bytes(setup.ca.cert_pem)
    no_cert = ovzsh(f"openvz://127.0.0.1:{setup.tls_port}/system?pkipath={nobody}", "list")
    assert no_cert.returncode == 1
    assert "clientcert.pem" in no_cert.stderr


async def test_in_flight_calls_over_one_ssh_connection_are_bounded(
    served: tuple[RemoteSetup, DaemonProcess], sshd: Sshd
) -> None:
    """An SSH connection inherits the unix socket's per-connection call limit."""
    _, daemon = served
    params = {
        "keyfile": str(sshd.client_key),
        "known_hosts": str(sshd.known_hosts),
        "command": HELPER,
        "socket": str(daemon.rw_socket),
    }
    async with (
        channel_through(SshTunnel("127.0.0.1", sshd.port, sshd.user, params)) as busy,
        channel_through(SshTunnel("127.0.0.1", sshd.port, sshd.user, params)) as other,
    ):
        await assert_calls_bounded(busy, other, MAX_CALLS_PER_CONNECTION)
