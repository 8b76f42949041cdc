"""ovzsh's commands that change a container by defining its XML again, as virsh's
edit, desc and setmaxmem do: edit with $EDITOR set to a script, on the real daemon."""

from __future__ import annotations

import re
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import openvz
import pytest

from tests.client.helpers import OVZSH, define, lay_out_fixed_host, ovzsh_env, uri_of
from tests.daemon_process import DaemonProcess, running_daemon


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    sim_dir = tmp_path_factory.mktemp("redefine") / "sim"
    lay_out_fixed_host(sim_dir)
    with running_daemon(sim_dir) as process:
        define(process, 160, sim_dir)
        yield process


def editor(tmp_path: Path, body: str) -> str:
    """An $EDITOR: a Python script that edits the file it is given."""
    script = tmp_path / "editor.py"
    script.write_text(f"#!{sys.executable}\nimport sys\npath = sys.argv[1]\n{body}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


def ovzsh(daemon: DaemonProcess, *argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [OVZSH, "-c", uri_of(daemon), *argv],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=ovzsh_env(**env),
    )


def test_edit_without_a_change_says_so(daemon: DaemonProcess, tmp_path: Path) -> None:
    seen = tmp_path / "seen.xml"
    script = editor(tmp_path, f"open({str(seen)!r}, 'w').write(open(path).read())")
    result = ovzsh(daemon, "edit", "160", EDITOR=script, VISUAL="")
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == "Domain '160' XML configuration not changed.\n\n"
    # The editor got the persistent XML, as `dumpxml --inactive` prints it.
    dumped = ovzsh(daemon, "dumpxml", "--inactive", "160").stdout
    assert seen.read_text() == dumped.removesuffix("\n")  # less virsh's closing blank line


def test_edit_with_a_failing_or_missing_editor_changes_nothing(
    daemon: DaemonProcess, tmp_path: Path
) -> None:
    failing = ovzsh(daemon, "edit", "160", EDITOR=editor(tmp_path, "sys.exit(3)"), VISUAL="")
    assert failing.returncode == 1
    assert "exited with status 3; nothing was changed" in failing.stderr
    missing = ovzsh(daemon, "edit", "160", EDITOR=str(tmp_path / "no-such-editor"), VISUAL="")
    assert missing.returncode == 1
    assert "cannot run the editor" in missing.stderr
    assert "Traceback" not in failing.stderr + missing.stderr


def test_edit_takes_an_editor_with_arguments_without_a_shell(
    daemon: DaemonProcess, tmp_path: Path
) -> None:
    marker = tmp_path / "marker; touch pwned"
    script = editor(tmp_path, "open(sys.argv[1], 'w').write('ran')")
    # argv: the script, the marker path (one word, quoted), then the file: no shell splits it.
    result = ovzsh(daemon, "edit", "160", VISUAL=f"{script} '{marker}'", EDITOR="")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Domain '160' XML configuration not changed.")
    assert marker.read_text() == "ran"
    assert not (Path.cwd() / "pwned").exists()


def test_edit_defines_the_changed_xml(daemon: DaemonProcess, tmp_path: Path) -> None:
    body = (
        "text = open(path).read()\n"
        "open(path, 'w').write(text.replace('<vcpu>1</vcpu>', '<vcpu>2</vcpu>'))"
    )
    result = ovzsh(daemon, "edit", "160", EDITOR=editor(tmp_path, body), VISUAL="")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Domain '160' XML configuration edited.\n\n"
    with openvz.open(uri_of(daemon)) as conn:
        assert conn.lookup_by_name("160").info().vcpus == 2


def test_desc_sets_the_description_and_title(daemon: DaemonProcess) -> None:
    assert ovzsh(daemon, "desc", "160", "--new-desc", "web server").returncode == 0
    assert ovzsh(daemon, "desc", "160").stdout == "web server\n\n"
    assert ovzsh(daemon, "desc", "160", "--title", "web").returncode == 0
    assert ovzsh(daemon, "desc", "--title", "160").stdout == "web\n\n"


def test_setmaxmem_sets_memory(daemon: DaemonProcess) -> None:
    result = ovzsh(daemon, "setmaxmem", "160", "1G", "--config")
    assert result.returncode == 0, result.stderr
    with openvz.open(uri_of(daemon)) as conn:
        assert conn.lookup_by_name("160").info().max_memory_kib == 1048576


def test_define_over_an_existing_container_updates_it(daemon: DaemonProcess) -> None:
    with openvz.open(uri_of(daemon)) as conn:
        xml = conn.lookup_by_name("160").xml_desc(inactive=True)
        # Whatever the other tests left in it.
        updated = "<description>updated</description>"
        changed = re.sub(r"<description>.*</description>", updated, xml)
        assert changed != xml
        conn.define_xml(changed)
        assert updated in conn.lookup_by_name("160").xml_desc(inactive=True)
