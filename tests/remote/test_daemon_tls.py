"""The real openvzd process serving TLS: ovzsh over openvz://host:port/system."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.daemon_process import BIN, free_port, running_daemon
from tests.remote.pki import issue, make_ca, write_client_pki


def _ovzsh(uri: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "ovzsh"), "-c", uri, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def tls_sim(tmp_path: Path) -> tuple[Path, int, Path, Path]:
    ca = make_ca("openvzd test CA")
    server = issue(ca, "openvzd server", server=True, hosts=("127.0.0.1", "localhost"))
    pki = tmp_path / "pki"
    pki.mkdir()
    (pki / "ca.pem").write_bytes(ca.cert_pem)
    server.write(pki / "server.pem", pki / "server.key")
    admin = write_client_pki(tmp_path / "admin", ca, issue(ca, "admin", server=False))
    viewer = write_client_pki(tmp_path / "viewer", ca, issue(ca, "viewer", server=False))
    port = free_port()
    sim = tmp_path / "sim"
    sim.mkdir()
    (sim / "openvzd.toml").write_text(
        f"""[tls]
enabled = true
address = "127.0.0.1"
port = {port}
ca_file = "{pki / "ca.pem"}"
cert_file = "{pki / "server.pem"}"
key_file = "{pki / "server.key"}"
allowed_dn = ["CN=admin,*", "CN=viewer,*"]
readonly_dn = ["CN=viewer,*"]
"""
    )
    return sim, port, admin, viewer


def test_ovzsh_over_tls_with_full_and_read_only_identities(
    tls_sim: tuple[Path, int, Path, Path],
) -> None:
    sim, port, admin, viewer = tls_sim
    with running_daemon(sim) as daemon:
        admin_uri = f"openvz://127.0.0.1:{port}/system?pkipath={admin}"
        viewer_uri = f"openvz://127.0.0.1:{port}/system?pkipath={viewer}"
        defined = _ovzsh(admin_uri, "define", str(daemon.sim_dir / "example-150.xml"))
        assert defined.returncode == 0, defined.stderr
        assert _ovzsh(admin_uri, "start", "150").returncode == 0
        listed = _ovzsh(viewer_uri, "list").stdout.splitlines()
        assert listed[2].split() == ["150", "150", "running"]
        refused = _ovzsh(viewer_uri, "destroy", "150")
        assert refused.returncode == 1 and "read-only" in refused.stderr
        assert _ovzsh(admin_uri, "destroy", "150").returncode == 0


def test_bad_server_certificate_refuses_to_start(tls_sim: tuple[Path, int, Path, Path]) -> None:
    sim, _, _, _ = tls_sim
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


def test_sighup_keeps_serving(tls_sim: tuple[Path, int, Path, Path]) -> None:
    sim, port, admin, _ = tls_sim
    with running_daemon(sim) as daemon:
        daemon.process.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        assert (
            _ovzsh(f"openvz://127.0.0.1:{port}/system?pkipath={admin}", "hostname").returncode == 0
        )
        assert "TLS certificates reloaded" in daemon.log()
