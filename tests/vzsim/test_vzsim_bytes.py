"""The simulated host as libvirt's examples expect it: a br0 bridge, and tools that
take any bytes as arguments (libvirt 9.0 passes raw bytes as --ostemplate)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.vzsim.vzsim_harness import SimHost, vzsim

NOT_UTF8 = b"\xff\xfe-template"


def run_bytes(host: SimHost, tool: str, *args: bytes) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [str(host.root / "usr" / "sbin" / tool).encode(), *args],
        capture_output=True,
        check=False,
        timeout=60,
    )


def test_init_makes_br0_beside_vmbr0(host: SimHost) -> None:
    assert (host.root / ".vzsim" / "bridges" / "br0").exists()
    assert (host.root / ".vzsim" / "bridges" / "vmbr0").exists()
    host.create(101)
    assert host.vzctl("set", "101", "--netif_add", "eth0,,veth101.0,,br0", "--save").returncode == 0
    started = host.vzctl("start", "101")
    assert started.returncode == 0, started.stderr
    assert "Adding interface veth101.0 to bridge br0 on CT0 for CT101\n" in started.stdout
    assert (host.root / ".vzsim" / "bridges" / "br0").read_text() == "veth101.0\n"


def test_a_non_utf8_template_is_not_found_as_vzctl_says(host: SimHost) -> None:
    result = run_bytes(host, "vzctl", b"create", b"101", b"--ostemplate", NOT_UTF8)
    assert result.returncode == 91
    assert b"Traceback" not in result.stderr
    # The bytes come back as they were given, as the C tool prints them.
    assert b"Cached OS template /vz/template/cache/" + NOT_UTF8 in result.stderr
    assert b"not found" in result.stderr
    assert not (host.root / "etc" / "vz" / "conf" / "101.conf").exists()


# (argv, exit status, what it says): the C tools' own answers to a bad value.
BYTE_CASES: list[tuple[tuple[bytes, ...], int, bytes]] = [
    ((b"vzctl", NOT_UTF8), 20, b"Bad command: " + NOT_UTF8),
    ((b"vzctl", b"set", NOT_UTF8, b"--save"), 21, b"Bad CT ID " + NOT_UTF8),
    ((b"vzctl", b"set", b"102", b"--name", NOT_UTF8, b"--save"), 131, b"invalid name " + NOT_UTF8),
    ((b"vzctl", b"set", b"102", b"--description", NOT_UTF8, b"--save"), 0, b"saved"),
    ((b"vzctl", b"exec", b"102", NOT_UTF8), 8, b"Container is not running"),
    ((b"vzlist", b"-a", NOT_UTF8), 1, b"CT ID " + NOT_UTF8 + b" is invalid"),
    ((b"vzlist", b"-o", NOT_UTF8), 1, b"Unknown field: " + NOT_UTF8),
    ((b"vzmigrate", NOT_UTF8, b"102"), 4, b"can't connect to destination"),
]


@pytest.mark.parametrize(
    ("argv", "status", "said"),
    BYTE_CASES,
    ids=[" ".join(a.decode(errors="replace") for a in argv[:3]) for argv, _, _ in BYTE_CASES],
)
def test_no_tool_ends_in_a_traceback_on_bytes(
    host: SimHost, argv: tuple[bytes, ...], status: int, said: bytes
) -> None:
    host.create(102)
    tool, *args = argv
    result = run_bytes(host, tool.decode(), *args)
    assert b"Traceback" not in result.stderr, result.stderr.decode(errors="replace")
    assert result.returncode == status
    assert said in result.stdout + result.stderr


def test_bytes_given_to_set_are_kept_as_bytes(host: SimHost) -> None:
    host.create(102)
    result = run_bytes(host, "vzctl", b"set", b"102", b"--description", NOT_UTF8, b"--save")
    assert result.returncode == 0
    assert b'DESCRIPTION="' + NOT_UTF8 in host.path("/etc/vz/conf/102.conf").read_bytes()


@pytest.mark.parametrize("action", [["tick"], ["bridge", "list"], ["populate", "--count", "1"]])
def test_vzsim_on_a_folder_that_is_no_host_says_so(tmp_path: Path, action: list[str]) -> None:
    command, *rest = action
    not_a_host = tmp_path / "nothing"
    result = vzsim(command, str(not_a_host), *rest)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "is not a simulated host" in result.stderr and "vzsim init" in result.stderr
