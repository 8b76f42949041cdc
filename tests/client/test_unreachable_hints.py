"""ovzsh says what happened when it cannot get through: "start openvzd" only when
nothing listens; a running daemon that refused (its client limit, a TLS failure) is
named as such (issue 16)."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

from tests.daemon_process import BIN, free_port, running_daemon
from tests.remote.pki import issue, make_ca, write_client_pki
from tests.remote.served import bound_ports

START_HINT_WORD = "systemctl start openvzd"


def ovzsh(uri: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "ovzsh"), "-c", uri, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={name: value for name, value in os.environ.items() if name != "GRPC_VERBOSITY"},
    )


def test_a_daemon_at_its_client_limit_is_not_said_to_be_down(tmp_path: Path) -> None:
    sim = tmp_path / "sim"
    sim.mkdir()
    (sim / "openvzd.toml").write_text("[limits]\nmax_clients = 1\n")
    with running_daemon(sim) as daemon:
        uri = f"openvz+unix:///system?socket={daemon.rw_socket}"
        time.sleep(0.5)  # until the start-up health check's connection is gone
        with socket.socket(socket.AF_UNIX) as holder:
            holder.connect(str(daemon.rw_socket))
            time.sleep(0.3)
            refused = ovzsh(uri, "list", "--all")
        assert refused.returncode == 1
        assert f"openvzd is running at {daemon.rw_socket} but closed the connection" in (
            refused.stderr
        )
        assert "max_clients" in refused.stderr
        assert START_HINT_WORD not in refused.stderr
        # Once the other client is gone, the same command goes through.
        time.sleep(0.3)
        assert ovzsh(uri, "list", "--all").returncode == 0


def test_a_tls_failure_is_named_and_nothing_listening_is_too(tmp_path: Path) -> None:
    ca = make_ca("openvzd test CA")
    server = issue(ca, "openvzd server", server=True, hosts=("127.0.0.1", "localhost"))
    pki = tmp_path / "pki"
    pki.mkdir()
    ca.write(pki / "ca.pem", pki / "ca.key")
    server.write(pki / "server.pem", pki / "server.key")
    other_ca = make_ca("some other CA")
    stranger = write_client_pki(
        tmp_path / "stranger", other_ca, issue(other_ca, "admin", server=False)
    )
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
allowed_dn = ["CN=admin,*"]
"""
    )
    with running_daemon(sim) as daemon:
        port, _ = bound_ports(daemon)
        refused = ovzsh(f"openvz://127.0.0.1:{port}/system?pkipath={stranger}", "list")
    assert refused.returncode == 1
    assert "the TLS handshake with openvzd at openvz://127.0.0.1:" in refused.stderr, refused.stderr
    assert "CA" in refused.stderr
    # ovzsh's one line, without grpc's own log lines beside it.
    assert refused.stderr.count("\n") == 1 and refused.stderr.startswith("error: "), refused.stderr
    assert START_HINT_WORD not in refused.stderr

    nobody = ovzsh(f"openvz://127.0.0.1:{free_port()}/system?pkipath={stranger}", "list")
    assert nobody.returncode == 1
    assert "nothing listens there" in nobody.stderr, nobody.stderr
