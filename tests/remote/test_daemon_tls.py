"""The real openvzd process serving TLS: ovzsh over openvz://host:port/system."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import sqlite3
import ssl
import subprocess
import time
from pathlib import Path
from typing import cast

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from openvz.transport import open_tls_aio_channel
from openvz.v1 import events_pb2, events_pb2_grpc

from tests.daemon_process import BIN, DaemonProcess, running_daemon
from tests.remote.pki import Issued, issue, make_ca, write_client_pki
from tests.remote.served import bound_ports, ovzsh
from tests.remote.standin import get_version


@pytest.fixture
def tls_sim(tmp_path: Path) -> tuple[Path, Path, Path]:
    ca = make_ca("openvzd test CA")
    server = issue(ca, "openvzd server", server=True, hosts=("127.0.0.1", "localhost"))
    pki = tmp_path / "pki"
    pki.mkdir()
    ca.write(pki / "ca.pem", pki / "ca.key")
    server.write(pki / "server.pem", pki / "server.key")
    admin = write_client_pki(tmp_path / "admin", ca, issue(ca, "admin", server=False))
    viewer = write_client_pki(tmp_path / "viewer", ca, issue(ca, "viewer", server=False))
    sim = tmp_path / "sim"
    sim.mkdir()
    (sim / "openvzd.toml").write_text(
        f"""[tls]
enabled = true
address = "127.0.0.1"
port = 0
ca_file = "{pki / "ca.pem"}"
cert_file = "{pki / "server.pem"}"
key_file = "{pki / "server.key"}"
allowed_dn = ["CN=admin,*", "CN=viewer,*"]
readonly_dn = ["CN=viewer,*"]
"""
    )
    return sim, admin, viewer


def test_an_exec_over_tls_is_recorded_with_the_certificates_subject(
    tls_sim: tuple[Path, Path, Path],
) -> None:
    """test_daemon_uris.py runs exec over every URI form; here the session's record
    names the TLS caller."""
    sim, admin, _ = tls_sim
    with running_daemon(sim) as daemon:
        port, _ = bound_ports(daemon)
        admin_uri = f"openvz://127.0.0.1:{port}/system?pkipath={admin}"
        assert ovzsh(admin_uri, "define", str(daemon.sim_dir / "example-150.xml")).returncode == 0
        assert ovzsh(admin_uri, "start", "150").returncode == 0
        try:
            ran = ovzsh(admin_uri, "exec", "150", "--", "sh", "-c", "cat", stdin="over tls\n")
            assert (ran.stdout, ran.returncode) == ("over tls\n", 0), ran.stderr
        finally:
            ovzsh(admin_uri, "destroy", "150")
        db = sqlite3.connect(daemon.sim_dir / "state" / "jobs.sqlite")
        try:
            (caller,) = db.execute("SELECT caller FROM sessions").fetchone()
        finally:
            db.close()
        record = json.loads(caller)
        assert record["transport"] == "tls" and record["name"].startswith("CN=admin")


def test_ovzsh_over_tls_with_full_and_read_only_identities(
    tls_sim: tuple[Path, Path, Path],
) -> None:
    sim, admin, viewer = tls_sim
    with running_daemon(sim) as daemon:
        port, _ = bound_ports(daemon)
        admin_uri = f"openvz://127.0.0.1:{port}/system?pkipath={admin}"
        viewer_uri = f"openvz://127.0.0.1:{port}/system?pkipath={viewer}"
        defined = ovzsh(admin_uri, "define", str(daemon.sim_dir / "example-150.xml"))
        assert defined.returncode == 0, defined.stderr
        assert ovzsh(admin_uri, "start", "150").returncode == 0
        listed = ovzsh(viewer_uri, "list").stdout.splitlines()
        assert listed[2].split() == ["150", "150", "running"]
        refused = ovzsh(viewer_uri, "destroy", "150")
        assert refused.returncode == 1 and "read-only" in refused.stderr
        assert ovzsh(admin_uri, "destroy", "150").returncode == 0


def test_bad_server_certificate_refuses_to_start(tls_sim: tuple[Path, Path, Path]) -> None:
    sim, _, _ = tls_sim
    text = (sim / "openvzd.toml").read_text().replace("server.key", "missing.key")
    (sim / "openvzd.toml").write_text(text)
    process = subprocess.run(
        [str(BIN / "openvzd"), "--simulate", str(sim), "--sim-delays", "none"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert process.returncode == 1
    assert "[tls]" in process.stderr and "missing.key" in process.stderr


async def test_sighup_serves_new_certificates_and_keeps_established_clients(
    tls_sim: tuple[Path, Path, Path],
) -> None:
    """After SIGHUP a new client is shown the renewed server certificate, while a
    client connected before keeps its connection: its open event stream goes on
    delivering, and its next call is served."""
    sim, admin, _ = tls_sim
    pki = sim.parent / "pki"
    ca = Issued(
        x509.load_pem_x509_certificate((pki / "ca.pem").read_bytes()),
        cast(ec.EllipticCurvePrivateKey, load_pem_private_key((pki / "ca.key").read_bytes(), None)),
    )
    with running_daemon(sim) as daemon:
        port, _ = bound_ports(daemon)
        async with open_tls_aio_channel("127.0.0.1", port, {"pkipath": str(admin)}) as channel:
            assert await get_version(channel)
            watch = events_pb2_grpc.EventsStub(channel).Watch(events_pb2.WatchRequest())
            try:
                issue(
                    ca,
                    "openvzd server renewed",
                    server=True,
                    hosts=("127.0.0.1", "localhost"),
                ).write(pki / "server.pem", pki / "server.key")
                daemon.process.send_signal(signal.SIGHUP)
                assert await asyncio.to_thread(wait_for_log, daemon, "TLS certificates reloaded")
                assert presented_subject(port, pki / "ca.pem") == (
                    "CN=openvzd server renewed,O=openvzd test"
                )
                defined = await asyncio.to_thread(
                    ovzsh,
                    f"openvz:///system?socket={daemon.rw_socket}",
                    "define",
                    str(daemon.sim_dir / "example-150.xml"),
                )
                assert defined.returncode == 0, defined.stderr
                event = await asyncio.wait_for(watch.read(), 30)
                assert isinstance(event, events_pb2.Event) and event.lifecycle.veid == 150
                assert await get_version(channel)
            finally:
                watch.cancel()


def wait_for_log(daemon: DaemonProcess, text: str, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in daemon.log():
            return True
        time.sleep(0.05)
    return False


def presented_subject(port: int, ca_file: Path) -> str:
    """The subject of the certificate a new TLS connection is shown (no client
    certificate needed to see it: the server speaks first)."""
    context = ssl.create_default_context(cafile=ca_file)
    with (
        socket.create_connection(("127.0.0.1", port), 10) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der).subject.rfc4514_string()


def test_sighup_applies_a_changed_allow_list_from_the_config_file(
    tls_sim: tuple[Path, Path, Path],
) -> None:
    """[tls] allowed_dn and readonly_dn follow SIGHUP for new connections: the
    viewer taken off the list is refused; the port change waits for a restart."""
    sim, admin, viewer = tls_sim
    with running_daemon(sim) as daemon:
        port, _ = bound_ports(daemon)
        viewer_uri = f"openvz://127.0.0.1:{port}/system?pkipath={viewer}"
        assert ovzsh(viewer_uri, "list").returncode == 0
        toml = sim / "openvzd.toml"
        text = toml.read_text().replace('"CN=admin,*", "CN=viewer,*"', '"CN=admin,*"')
        text = text.replace('readonly_dn = ["CN=viewer,*"]', "readonly_dn = []")
        toml.write_text(text.replace("port = 0", "port = 1"))
        daemon.process.send_signal(signal.SIGHUP)
        assert wait_for_log(daemon, "TLS certificates reloaded")
        assert "[tls] port = 1 needs a restart" in daemon.log()
        refused = ovzsh(viewer_uri, "list")
        assert refused.returncode == 1
        admin_uri = f"openvz://127.0.0.1:{port}/system?pkipath={admin}"
        assert ovzsh(admin_uri, "list").returncode == 0
