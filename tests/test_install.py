"""`make install` and `make uninstall` into a scratch root (DESTDIR), and the installed
unit's ExecStart line run from that tree: it serves a simulated host.

One install story: openvzd in its own virtualenv at PREFIX (/opt/openvzd), links on
PATH, the unit running PREFIX/bin/openvzd, tmpfiles.d, the default configuration
(never overwriting one that is there), man pages, bash completion and the docs.
"""

from __future__ import annotations

import configparser
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.daemon_process import BIN, health_serving

TOP = Path(__file__).resolve().parent.parent
PREFIX = "/opt/openvzd"
UNREACHABLE = ("NewConnectionError", "Max retries exceeded", "Network is unreachable")

INSTALLED = [
    "opt/openvzd/bin/openvzd",
    "opt/openvzd/bin/ovzsh",
    "usr/local/sbin/openvzd",
    "usr/local/bin/ovzsh",
    "usr/local/bin/openvzd-ssh-helper",
    "etc/systemd/system/openvzd.service",
    "etc/tmpfiles.d/openvzd.conf",
    "etc/openvzd/openvzd.toml",
    "usr/local/share/man/man8/openvzd.8",
    "usr/local/share/man/man1/ovzsh.1",
    "usr/local/share/man/man5/openvzd.toml.5",
    "usr/local/share/bash-completion/completions/ovzsh",
    "usr/local/share/doc/openvzd/README.md",
    "usr/local/share/doc/openvzd/LICENSE",
]


def make(target: str, stage: Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        ["make", "--no-print-directory", target, f"DESTDIR={stage}", f"PREFIX={PREFIX}"],
        cwd=TOP,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if result.returncode != 0 and any(
        sign in result.stdout + result.stderr for sign in UNREACHABLE
    ):
        pytest.skip(f"the package index is unreachable: {result.stderr[-300:]}")
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def exec_start(unit: Path) -> list[str]:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.read(unit)
    return parser["Service"]["ExecStart"].split()


@pytest.mark.slow
def test_install_uninstall_and_the_unit_runs_what_was_installed(tmp_path: Path) -> None:
    stage = tmp_path / "stage"
    make("install", stage)
    # The links on PATH point into PREFIX, which exists only once the tree is moved to /.
    missing = [p for p in INSTALLED if not ((stage / p).exists() or (stage / p).is_symlink())]
    assert not missing, missing

    unit = stage / "etc/systemd/system/openvzd.service"
    argv = exec_start(unit)
    assert argv == [f"{PREFIX}/bin/openvzd"]
    assert "Documentation=man:openvzd(8)" in unit.read_text()
    assert os.readlink(stage / "usr/local/sbin/openvzd") == f"{PREFIX}/bin/openvzd"
    # Nothing installed names the staging root: the tree works once moved to /.
    for script in (stage / "opt/openvzd/bin").iterdir():
        if script.is_file() and not script.is_symlink():
            assert str(stage) not in script.read_text(errors="replace"), script

    # What every openvzd and ovzsh start pays for before its own code (bench_exec):
    # no setuptools .pth, and pip's entry script without `import re`.
    assert not list((stage / "opt/openvzd/lib").glob("python3*/site-packages/*.pth"))
    assert "import re\n" not in (stage / "opt/openvzd/bin/ovzsh").read_text()

    venv_python = stage / "opt/openvzd/bin/python"
    default_config = subprocess.run(
        [str(venv_python), "-m", "openvzd.main", "--print-default-config"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    config = stage / "etc/openvzd/openvzd.toml"
    assert config.read_text() == default_config
    where = subprocess.run(
        [
            str(venv_python),
            "-c",
            "import openvzd, openvz; print(openvzd.__file__, openvz.__file__)",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert where.count(str(stage / "opt/openvzd/lib")) == 2, where  # not this source tree

    # The ExecStart line, from the installed tree, serving a simulated host.
    sim = tmp_path / "sim"
    subprocess.run(
        [str(BIN / "vzsim"), "init", str(sim / "host"), "--delays", "none"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    installed_openvzd = stage / argv[0].lstrip("/")
    # A plain install (no extras: no systemd-python) still tells systemd it is ready.
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify"))
    notify.settimeout(60)
    daemon = subprocess.Popen(
        [str(venv_python), str(installed_openvzd), "--simulate", str(sim)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "NOTIFY_SOCKET": str(tmp_path / "notify")},
    )
    try:
        assert notify.recv(4096).startswith(b"READY=1\n")
        # (not from this source tree, whose systemd/ folder would import as a namespace)
        no_extra = subprocess.run(
            [str(venv_python), "-c", "import systemd"],
            capture_output=True,
            timeout=60,
            cwd=tmp_path,
        )
        assert no_extra.returncode != 0, "the plain install has systemd-python after all"
        deadline = time.monotonic() + 60
        while not health_serving(sim / "run" / "openvzd.sock"):
            assert daemon.poll() is None, daemon.communicate()[0]
            assert time.monotonic() < deadline, "the installed openvzd did not become ready"
            time.sleep(0.1)
        ovzsh = stage / "opt/openvzd/bin/ovzsh"
        listed = subprocess.run(
            [
                str(venv_python),
                str(ovzsh),
                "-c",
                f"openvz+unix:///system?socket={sim}/run/openvzd.sock",
                "list",
                "--all",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert listed.returncode == 0, listed.stderr
        assert "State" in listed.stdout
    finally:
        daemon.send_signal(signal.SIGTERM)
        output, _ = daemon.communicate(timeout=60)
        notify.close()
    assert daemon.returncode == 0, output

    # Uninstall keeps the administrator's configuration; a new install does not overwrite it.
    config.write_text("[log]\nlevel = 'debug'\n")
    removed = make("uninstall", stage)
    assert "Kept /etc/openvzd" in removed.stdout
    left = [path for path in INSTALLED if (stage / path).exists() or (stage / path).is_symlink()]
    assert left == ["etc/openvzd/openvzd.toml"]
    again = make("install", stage)
    assert "Kept the existing /etc/openvzd/openvzd.toml" in again.stdout
    assert config.read_text() == "[log]\nlevel = 'debug'\n"


def test_install_refuses_a_path_it_cannot_put_in_a_unit(tmp_path: Path) -> None:
    result = subprocess.run(
        ["scripts/install.sh", "install"],
        cwd=TOP,
        env={**os.environ, "DESTDIR": str(tmp_path), "PREFIX": "/opt/open vzd"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "/opt/open vzd: give an absolute path" in result.stderr
    assert not any(tmp_path.iterdir())


def test_uninstall_never_removes_a_prefix_that_is_not_openvzds(tmp_path: Path) -> None:
    precious = tmp_path / "opt" / "openvzd"
    precious.mkdir(parents=True)
    (precious / "data").write_text("keep me")
    result = subprocess.run(
        ["scripts/install.sh", "uninstall"],
        cwd=TOP,
        env={**os.environ, "DESTDIR": str(tmp_path), "PREFIX": PREFIX},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "is not openvzd's virtualenv; left alone" in result.stderr
    assert (precious / "data").read_text() == "keep me"


@pytest.mark.skipif(
    shutil.which("setpriv") is None or os.geteuid() != 0, reason="needs root and setpriv"
)
def test_install_on_the_live_system_says_to_be_root() -> None:
    as_nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    result = subprocess.run(
        [*as_nobody, "env", "-i", "PATH=/usr/bin:/bin", "bash", "scripts/install.sh", "install"],
        cwd=TOP,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "needs root: sudo make install" in result.stderr
    assert "DESTDIR=" in result.stderr
