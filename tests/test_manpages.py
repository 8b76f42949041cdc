"""The man pages and ovzsh's bash completion are generated from the code, whole and
well-formed: every ovzsh command, every openvzd option, every configuration key."""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from openvz.cli.main import build_parser
from openvzd.config import DEFAULTS_DOC
from openvzd.main import _parser as openvzd_parser

from tests.client.helpers import define
from tests.daemon_process import BIN, running_daemon

TOP = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("man")
    subprocess.run(
        [sys.executable, str(TOP / "scripts" / "build_manpages.py"), str(out)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return out


def ovzsh_commands() -> list[str]:
    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return sorted(sub.choices)


def unroff(text: str) -> str:
    return text.replace("\\-", "-").replace("\\e", "\\")


def test_every_ovzsh_command_has_its_section(built: Path) -> None:
    page = unroff((built / "man1" / "ovzsh.1").read_text())
    sections = set(re.findall(r"^\.SS (\S+)$", page, re.M))
    commands = ovzsh_commands()
    assert len(commands) > 30
    assert set(commands) <= sections, sorted(set(commands) - sections)
    assert "OPENVZ_DEFAULT_URI" in page


def test_openvzd_page_has_every_option_and_command(built: Path) -> None:
    page = unroff((built / "man8" / "openvzd.8").read_text())
    for action in openvzd_parser()._actions:
        for option in action.option_strings:
            assert option in page, option
    for command in ("serve", "check", "passwd", "--readonly", "--delete", "SIGHUP"):
        assert command in page


def test_every_configuration_key_is_in_the_config_page(built: Path) -> None:
    page = unroff((built / "man5" / "openvzd.toml.5").read_text())
    keys = re.findall(r"^(\w+) = (.*)$", DEFAULTS_DOC, re.M)
    assert len(keys) > 30
    for key, default in keys:
        assert f"\\fB{key}\\fR = {default}" in page, key
    for section in re.findall(r"^\[(\w+)\]$", DEFAULTS_DOC, re.M):
        assert f".B [{section}]" in page


@pytest.mark.skipif(shutil.which("groff") is None, reason="groff is not installed")
@pytest.mark.parametrize("page", ["man8/openvzd.8", "man1/ovzsh.1", "man5/openvzd.toml.5"])
def test_groff_renders_without_a_warning(built: Path, page: str) -> None:
    result = subprocess.run(
        ["groff", "-man", "-Tutf8", "-ww", "-z", str(built / page)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0 and result.stderr == "", result.stderr


def complete(built: Path, *words: str) -> list[str]:
    """What bash completes after `ovzsh WORDS...` (the last word being typed)."""
    script = (
        f'source "{built / "bash-completion" / "ovzsh"}"\n'
        'COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _ovzsh\n'
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    result = subprocess.run(
        ["bash", "-c", script, "bash", "ovzsh", *words],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
        cwd=built,
        # The domain names come from the ovzsh on PATH.
        env={**os.environ, "PATH": f"{BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}"},
    )
    return [line for line in result.stdout.splitlines() if line]


def test_bash_completes_commands_options_and_files(built: Path) -> None:
    assert set(complete(built, "")) == {"help", *ovzsh_commands()}
    assert "start" in complete(built, "-c", "openvz:///system", "sta")
    assert "--all" in complete(built, "list", "--a")
    assert complete(built, "--re") == ["--readonly"]
    assert "dominfo" in complete(built, "help", "domi")
    assert sorted(complete(built, "define", "man")) == ["man1", "man5", "man8"]


def test_bash_completes_domain_names_from_the_daemon(built: Path, tmp_path: Path) -> None:
    with running_daemon(tmp_path / "sim") as daemon:
        uri = f"openvz+unix:///system?socket={daemon.rw_socket}"
        for veid in (150, 151):
            define(daemon, veid, tmp_path)
        not_domains = complete(built, "-c", uri, "list", "")
        listed = subprocess.run(
            [str(BIN / "ovzsh"), "-c", uri, "list", "--all", "--name"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout.split()
        assert listed == ["150", "151"]
        assert "150" not in not_domains  # list takes no domain
        assert sorted(complete(built, "-c", uri, "dominfo", "")) == sorted(listed)
        assert complete(built, "-c", uri, "dominfo", listed[0]) == [listed[0]]
        # Past the domain, other words are not domain names.
        assert listed[0] not in complete(built, "-c", uri, "dominfo", listed[0], "")
