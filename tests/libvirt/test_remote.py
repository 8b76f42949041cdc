"""Debian's real virsh reaching the libvirt front-end remotely: over TLS with
libvirt's own client certificate layout (?pkipath=) and handshake, over
openvz+ssh through a real sshd on loopback (the remote side runs nc -U on the
socket, as libvirt's ssh transport does), and over openvz+tcp with SASL GSSAPI
against a real KDC on loopback."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.daemon_process import DaemonProcess, free_port, running_daemon, start_daemon
from tests.libvirt.conftest import domain_xml, libvirt_sockets, prepare_host
from tests.remote.pki import issue, make_ca, write_client_pki
from tests.remote.realm import REALM, SERVICE_HOST, Realm, _kadmin, kerberos_realm
from tests.remote.sshd import Sshd, run_sshd


def run_virsh(
    uri: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["virsh", "-q", "-c", uri, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={"LC_ALL": "C", "PATH": "/usr/bin:/bin", **(env or {})},
    )


@pytest.fixture(scope="module")
def tls_daemon(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[DaemonProcess, int, Path, Path, Path]]:
    base = tmp_path_factory.mktemp("libvirt-tls")
    ca = make_ca("openvzd test CA")
    pki = base / "pki"
    pki.mkdir()
    ca.write(pki / "ca.pem", pki / "ca.key")
    issue(ca, "openvzd server", server=True, hosts=("localhost", "127.0.0.1")).write(
        pki / "server.pem", pki / "server.key"
    )
    admin = write_client_pki(base / "admin", ca, issue(ca, "admin", server=False))
    viewer = write_client_pki(base / "viewer", ca, issue(ca, "viewer", server=False))
    stranger = write_client_pki(base / "stranger", ca, issue(ca, "stranger", server=False))
    sim_dir = base / "sim"
    prepare_host(sim_dir)
    port = free_port()
    (sim_dir / "openvzd.toml").write_text(
        f"""[tls]
ca_file = "{pki / "ca.pem"}"
cert_file = "{pki / "server.pem"}"
key_file = "{pki / "server.key"}"
allowed_dn = ["CN=admin,*", "CN=viewer,*"]
readonly_dn = ["CN=viewer,*"]

[libvirt]
tls_port = {port}
tls_address = "127.0.0.1"
"""
    )
    with running_daemon(sim_dir) as daemon:
        yield daemon, port, admin, viewer, stranger


def test_virsh_over_tls_with_libvirts_handshake_and_allow_lists(
    tls_daemon: tuple[DaemonProcess, int, Path, Path, Path],
) -> None:
    daemon, port, admin, viewer, stranger = tls_daemon
    xml = daemon.sim_dir / "d160.xml"
    xml.write_text(domain_xml(160))
    admin_uri = f"openvz://localhost:{port}/system?pkipath={admin}"
    viewer_uri = f"openvz://localhost:{port}/system?pkipath={viewer}"

    defined = run_virsh(admin_uri, "define", str(xml))
    assert defined.returncode == 0, defined.stderr
    started = run_virsh(admin_uri, "start", "160")
    assert started.returncode == 0, started.stderr
    listed = run_virsh(viewer_uri, "list")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.split() == ["160", "160", "running"]
    refused = run_virsh(viewer_uri, "destroy", "160")
    assert refused.returncode == 1 and "read only access prevents" in refused.stderr

    outsider = run_virsh(f"openvz://localhost:{port}/system?pkipath={stranger}", "list")
    assert outsider.returncode == 1
    assert "failed to connect" in outsider.stderr

    assert run_virsh(admin_uri, "destroy", "160").returncode == 0
    assert run_virsh(admin_uri, "undefine", "160").returncode == 0


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    with run_sshd(tmp_path_factory.mktemp("libvirt-sshd")) as server:
        yield server


def ssh_wrapper(folder: Path, server: Sshd) -> dict[str, str]:
    """libvirt runs `ssh` from PATH; this one is the system's ssh with the test
    server's known host key and client key, and never a question."""
    folder.mkdir(parents=True, exist_ok=True)
    wrapper = folder / "ssh"
    wrapper.write_text(
        "#!/bin/sh\n"
        f"exec /usr/bin/ssh -o UserKnownHostsFile={server.known_hosts} "
        f"-o IdentityFile={server.client_key} -o IdentitiesOnly=yes "
        '-o BatchMode=yes -o StrictHostKeyChecking=yes "$@"\n'
    )
    wrapper.chmod(0o755)
    return {"PATH": f"{folder}:/usr/bin:/bin"}


def test_virsh_over_ssh_through_a_real_sshd(
    libvirt_daemon: DaemonProcess, sshd: Sshd, tmp_path: Path
) -> None:
    daemon = libvirt_daemon
    rw, ro = libvirt_sockets(daemon)
    env = ssh_wrapper(tmp_path / "bin", sshd)
    base = f"openvz+ssh://{sshd.user}@127.0.0.1:{sshd.port}/system"
    xml = daemon.sim_dir / "d161.xml"
    xml.write_text(domain_xml(161))

    defined = run_virsh(f"{base}?socket={rw}", "define", str(xml), env=env)
    assert defined.returncode == 0, defined.stderr + sshd.log.read_text()[-2000:]
    listed = run_virsh(f"{base}?socket={rw}", "list", "--all", env=env)
    assert listed.stdout.split() == ["-", "161", "shut", "off"], listed.stderr
    refused = run_virsh(f"{base}?socket={ro}", "start", "161", env=env)
    assert refused.returncode == 1 and "read only access prevents" in refused.stderr
    assert run_virsh(f"{base}?socket={rw}", "undefine", "161", env=env).returncode == 0
    assert os.path.exists(rw)


@pytest.fixture(scope="module")
def sasl_daemon(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[DaemonProcess, int, Realm]]:
    base = tmp_path_factory.mktemp("libvirt-sasl")
    with kerberos_realm(base / "krb", users=("alice", "bob", "carol")) as realm:
        # libvirt's client asks for the service "libvirt" on the host it dials.
        _kadmin(realm.env, f"addprinc -randkey libvirt/{SERVICE_HOST}")
        _kadmin(realm.env, f"ktadd -k {realm.server_keytab} libvirt/{SERVICE_HOST}")
        sim_dir = base / "sim"
        prepare_host(sim_dir)
        port = free_port()
        (sim_dir / "openvzd.toml").write_text(
            f"""[sasl]
keytab = "{realm.server_keytab}"
allowed_users = ["alice@{REALM}"]
readonly_users = ["bob@{REALM}"]

[libvirt]
sasl_port = {port}
sasl_address = "127.0.0.1"
"""
        )
        daemon = start_daemon(sim_dir, env=realm.env)
        try:
            yield daemon, port, realm
        finally:
            daemon.stop()


def test_virsh_over_sasl_gssapi_with_its_security_layer(
    sasl_daemon: tuple[DaemonProcess, int, Realm],
) -> None:
    daemon, port, realm = sasl_daemon
    uri = f"openvz+tcp://{SERVICE_HOST}:{port}/system"
    xml = daemon.sim_dir / "d170.xml"
    xml.write_text(domain_xml(170))

    def as_user(user: str, *args: str) -> subprocess.CompletedProcess[str]:
        env = {**realm.env, "KRB5CCNAME": realm.ccache_for(user)}
        return run_virsh(uri, *args, env=env)

    defined = as_user("alice", "define", str(xml))
    assert defined.returncode == 0, defined.stderr + daemon.log()[-3000:]
    started = as_user("alice", "start", "170")
    assert started.returncode == 0, started.stderr
    # A reply larger than one wrap token: the layer splits and joins it.
    dumped = as_user("alice", "capabilities")
    assert dumped.returncode == 0 and "<capabilities>" in dumped.stdout
    listed = as_user("bob", "list")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.split() == ["170", "170", "running"]
    refused = as_user("bob", "destroy", "170")
    assert refused.returncode == 1 and "read only access prevents" in refused.stderr
    stranger = as_user("carol", "list")
    assert stranger.returncode == 1 and "not allowed" in stranger.stderr
    assert as_user("alice", "destroy", "170").returncode == 0
    assert as_user("alice", "undefine", "170").returncode == 0
