"""docs/remote.md's certificate recipe, run as written with openssl, makes a CA, a
server and a client certificate that the real daemon's TLS listener and ovzsh accept:
the allow-list admits the client's DN, and a client of another CA is refused."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.daemon_process import BIN, running_daemon
from tests.remote.served import bound_ports

REMOTE_DOC = Path(__file__).resolve().parent.parent.parent / "docs" / "remote.md"


def recipe() -> str:
    text = REMOTE_DOC.read_text()
    start = text.index("### A certificate recipe")
    match = re.compile(r"^```sh\n(.*?)^```$", re.S | re.M).search(text, start)
    assert match is not None, "no ```sh block in docs/remote.md's certificate recipe"
    return match.group(1)


def run_recipe(folder: Path, client: str) -> None:
    folder.mkdir(parents=True)
    env = {**os.environ, "HOST": "localhost", "IP": "127.0.0.1", "CLIENT": client}
    result = subprocess.run(
        ["bash", "-c", "set -euo pipefail\n" + recipe()],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def pki_dir(made: Path, name: str) -> Path:
    """A ?pkipath= folder from what the recipe made, as its client steps install it."""
    folder = made.parent / name
    folder.mkdir()
    for file in ("cacert.pem", "clientcert.pem", "clientkey.pem"):
        shutil.copy(made / file, folder / file)
    return folder


def ovzsh(uri: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "ovzsh"), "-c", uri, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.skipif(shutil.which("openssl") is None, reason="the openssl command is not installed")
def test_the_recipe_makes_certificates_the_daemon_and_ovzsh_accept(tmp_path: Path) -> None:
    made = tmp_path / "made"
    run_recipe(made, "admin")
    san = subprocess.run(
        [
            "openssl",
            "x509",
            "-in",
            str(made / "servercert.pem"),
            "-noout",
            "-ext",
            "subjectAltName",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    assert "DNS:localhost" in san and "IP Address:127.0.0.1" in san
    other = tmp_path / "other"
    run_recipe(other, "admin")  # a second CA, unknown to the daemon

    sim = tmp_path / "sim"
    sim.mkdir()
    (sim / "openvzd.toml").write_text(
        f"""[tls]
enabled = true
address = "127.0.0.1"
port = 0
ca_file = "{made / "cacert.pem"}"
cert_file = "{made / "servercert.pem"}"
key_file = "{made / "serverkey.pem"}"
allowed_dn = ["CN=admin,O=Example"]
"""
    )
    admin = pki_dir(made, "admin-pki")
    stranger = pki_dir(other, "stranger-pki")
    with running_daemon(sim) as daemon:
        port, _ = bound_ports(daemon)
        for host in ("localhost", "127.0.0.1"):  # both names are in the certificate
            listed = ovzsh(f"openvz://{host}:{port}/system?pkipath={admin}", "list", "--all")
            assert listed.returncode == 0, listed.stderr
            assert "State" in listed.stdout
        refused = ovzsh(f"openvz://localhost:{port}/system?pkipath={stranger}", "list")
        assert refused.returncode == 1
        assert "TLS handshake" in refused.stderr
