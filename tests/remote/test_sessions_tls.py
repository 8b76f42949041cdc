"""Exec over TLS: the same bidirectional stream through the TLS listener, the read-only
identity refused, and the session recorded with the certificate's subject."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

from tests.daemon_process import BIN, running_daemon
from tests.remote.pki import issue, make_ca, write_client_pki
from tests.remote.served import bound_ports


def _tls_sim(tmp_path: Path) -> tuple[Path, Path, Path]:
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


def _ovzsh(uri: str, *args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [str(BIN / "ovzsh"), "-c", uri, *args],
        input=stdin,
        capture_output=True,
        timeout=60,
        check=False,
    )


def test_exec_over_tls(tmp_path: Path) -> None:
    sim, admin, viewer = _tls_sim(tmp_path)
    with running_daemon(sim) as daemon:
        port, _ = bound_ports(daemon)
        admin_uri = f"openvz://127.0.0.1:{port}/system?pkipath={admin}"
        viewer_uri = f"openvz://127.0.0.1:{port}/system?pkipath={viewer}"
        assert _ovzsh(admin_uri, "define", str(daemon.sim_dir / "example-150.xml")).returncode == 0
        assert _ovzsh(admin_uri, "start", "150").returncode == 0
        try:
            ran = _ovzsh(
                admin_uri, "exec", "150", "--", "sh", "-c", "cat; exit 2", stdin=b"over tls\n"
            )
            assert (ran.stdout, ran.returncode) == (b"over tls\n", 2), ran.stderr
            refused = _ovzsh(viewer_uri, "exec", "150", "--", "true")
            assert refused.returncode == 1 and b"read-only" in refused.stderr
        finally:
            _ovzsh(admin_uri, "destroy", "150")
        db = sqlite3.connect(daemon.sim_dir / "state" / "jobs.sqlite")
        try:
            (caller,) = db.execute("SELECT caller FROM sessions").fetchone()
        finally:
            db.close()
        record = json.loads(caller)
        assert record["transport"] == "tls" and record["name"].startswith("CN=admin")
