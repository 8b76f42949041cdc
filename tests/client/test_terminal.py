"""ovzsh on a real terminal (a pty): the progress display of a long job, quiet
output when piped, and the interactive shell's history and completion."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.client.helpers import (
    OVZSH,
    define,
    lay_out_fixed_host,
    ovzsh,
    ovzsh_env,
    set_knobs,
    uri_of,
)
from tests.client.pty_process import PtyProcess
from tests.daemon_process import DaemonProcess, running_daemon

UUID = rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    sim_dir = tmp_path_factory.mktemp("terminal") / "sim"
    lay_out_fixed_host(sim_dir)
    with running_daemon(sim_dir) as process:
        define(process, 170, sim_dir)
        define(process, 171, sim_dir)
        yield process


def on_pty(daemon: DaemonProcess, *args: str, **env: str) -> PtyProcess:
    return PtyProcess([OVZSH, "-c", uri_of(daemon), *args], ovzsh_env(TERM="xterm", **env))


def test_a_long_job_shows_progress_on_a_terminal_only(daemon: DaemonProcess) -> None:
    set_knobs(daemon, delay={"start": 1.8})
    try:
        terminal = on_pty(daemon, "start", "170")
        try:
            assert terminal.finish(timeout=60) == 0, terminal.output
        finally:
            terminal.close()
        shown = terminal.output.decode()
        # Redrawn in place: a carriage return, then `start 170: [ NN %] step (N s)`.
        assert re.search(r"\rstart 170: \[ *\d+ %\] \S+ \(\d+ s\)", shown), shown
        assert shown.rstrip().endswith("Domain '170' started"), shown
        assert ovzsh(daemon, "destroy", "170").returncode == 0

        piped = ovzsh(daemon, "start", "170")
        assert piped.returncode == 0, piped.stderr
        assert piped.stdout == "Domain '170' started\n\n"  # no progress, no escapes
        assert piped.stderr == ""
    finally:
        set_knobs(daemon, delay={})
        ovzsh(daemon, "destroy", "170")


def test_a_quick_job_shows_no_progress(daemon: DaemonProcess) -> None:
    terminal = on_pty(daemon, "autostart", "171")
    try:
        assert terminal.finish(timeout=60) == 0, terminal.output
    finally:
        terminal.close()
    assert terminal.output == b"Domain '171' marked as autostarted\r\n\r\n"


def test_interactive_shell(daemon: DaemonProcess, tmp_path: Path) -> None:
    shell = on_pty(daemon, XDG_CACHE_HOME=str(tmp_path / "cache"))
    try:
        shell.expect(rb"Welcome to ovzsh")
        shell.expect(rb"ovzsh # ")
        shell.send(b"domuuid 171\r")
        first = shell.expect(rb"ovzsh # ")
        assert re.search(UUID, first), first
        uuid = re.search(UUID, first).group()  # type: ignore[union-attr]

        shell.send(b"list --all\r")
        listed = shell.expect(rb"ovzsh # ")
        assert re.search(rb" Id +Name +State", listed), listed
        assert re.search(rb" - +171 +shut off", listed), listed

        # History: up twice is `domuuid 171` again.
        shell.send(b"\x1b[A\x1b[A\r")
        again = shell.expect(rb"ovzsh # ")
        assert uuid in again, again

        # Completion of a command name: only what it completes to can print the host name.
        shell.send(b"hostn\t")
        shell.expect(rb"hostname ")
        shell.send(b"\r")
        assert b"golden.test" in shell.expect(rb"ovzsh # ")

        # ... and of an option of the command being typed.
        shell.send(b"dumpxml --inac\t")
        shell.expect(rb"--inactive ")
        shell.send(b"171\r")
        assert b"<name>171</name>" in shell.expect(rb"ovzsh # ")

        # An error is reported and the shell goes on.
        shell.send(b"dominfo 4242\r")
        assert b"error: no container named '4242'" in shell.expect(rb"ovzsh # ")

        # connect: the next commands go read-only to the same daemon, as the prompt says.
        shell.send(b"connect " + uri_of(daemon).encode() + b" --readonly\r")
        shell.expect(rb"ovzsh > ")
        shell.send(b"destroy 171\r")
        assert b"read-only" in shell.expect(rb"ovzsh > ")

        shell.send(b"quit\r")
        assert shell.finish(timeout=30) == 1  # the status of the last command, as virsh
    finally:
        shell.close()
    history = (tmp_path / "cache" / "ovzsh" / "history").read_text().splitlines()
    assert history[-1] == "quit"
    assert "domuuid 171" in history and "dumpxml --inactive 171" in history


def test_read_only_shell_prompt_and_refusal(daemon: DaemonProcess, tmp_path: Path) -> None:
    shell = on_pty(daemon, "-r", XDG_CACHE_HOME=str(tmp_path / "cache"))
    try:
        shell.expect(rb"ovzsh > ")
        shell.send(b"start 171\r")
        assert b"read-only" in shell.expect(rb"ovzsh > ")
        shell.send(b"\x04")  # end of input leaves like quit
        assert shell.finish(timeout=30) == 1
    finally:
        shell.close()
    state = subprocess.run(
        [OVZSH, "-c", uri_of(daemon), "domstate", "171"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env=ovzsh_env(),
    )
    assert state.stdout.strip() == "shut off"
