"""README.md's tour runs as written: every command of it, in a `make run` layout.

The layout is the one `make run` makes: the project's folder holds `.venv` and
`run/sim`, and the daemon serves `openvzd --simulate run/sim --tour`. The commands
are run by bash exactly as the README spells them (a newcomer pastes them into a
shell), one after the other; the `event --loop` step runs in the background while the
test does what its `# meanwhile:` comment says.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.daemon_process import BIN, running_daemon

TOP = Path(__file__).resolve().parent.parent
README = TOP / "README.md"

# What each ovzsh command of the tour must print; a command not listed here must at
# least succeed.
EXPECTED_OUTPUT = {
    "list": "State",
    "define": "Domain '150' defined",
    "start": "Domain '150' started",
    "dominfo": "State:          running",
    "dumpxml": "<name>150</name>",
    "event": "event 'lifecycle' for domain '150': Stopped",
    "jobs": "succeeded",
}


def fenced_block(text: str, after: str, language: str = "") -> list[str]:
    """The lines of the first fenced block (```language) that follows the line `after`."""
    start = text.index(after)
    match = re.compile(rf"^```{language}\n(.*?)^```$", re.S | re.M).search(text, start)
    assert match is not None, f"no ```{language} block after {after!r} in README.md"
    return match.group(1).splitlines()


def tour_lines() -> list[str]:
    return [line for line in fenced_block(README.read_text(), "The tour") if line.strip()]


def python_snippet() -> str:
    return "\n".join(fenced_block(README.read_text(), "From Python", "python"))


def bash(exports: list[str], line: str, cwd: Path) -> subprocess.Popen[str]:
    script = "\n".join(["set -euo pipefail", *exports, line])
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENVZ_")}
    return subprocess.Popen(
        ["bash", "-c", script],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finish(process: subprocess.Popen[str], line: str, timeout: float) -> str:
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        pytest.fail(f"{line!r} did not finish within {timeout} s:\n{output}")
    assert process.returncode == 0, f"{line!r} failed ({process.returncode}):\n{output}"
    return output


def ovzsh_command(line: str) -> str | None:
    words = line.split()
    return words[1] if words and words[0].endswith("/ovzsh") and len(words) > 1 else None


def wait_until_connected(process: subprocess.Popen[str], timeout: float = 20) -> None:
    """Until the backgrounded ovzsh (bash, or the child bash runs it in) holds a socket,
    plus a moment for its Events call to reach the daemon."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "the event command ended before anything happened"
        children = Path(f"/proc/{process.pid}/task/{process.pid}/children")
        for pid in [str(process.pid), *children.read_text().split()]:
            fds = Path(f"/proc/{pid}/fd")
            try:
                if any(os.readlink(fd).startswith("socket:") for fd in fds.iterdir()):
                    time.sleep(1.0)
                    return
            except FileNotFoundError:
                pass
        time.sleep(0.1)
    pytest.fail(f"the event command opened no socket within {timeout} s")


def printed_export(log: Callable[[], str], timeout: float = 10) -> str:
    """The export line of the tour the daemon prints once it is ready."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in log().splitlines():
            if line.strip().startswith("export OPENVZ_DEFAULT_URI="):
                return line.strip()
        time.sleep(0.1)
    pytest.fail(f"the daemon printed no tour within {timeout} s:\n{log()}")


def test_the_tour_is_one_block_that_starts_with_the_uri() -> None:
    lines = tour_lines()
    assert lines[0].startswith("export OPENVZ_DEFAULT_URI=")
    # Single quotes would keep $PWD from being expanded (issue 16).
    assert "'" not in lines[0]
    assert any("# meanwhile:" in line for line in lines)


@pytest.mark.slow
def test_every_tour_command_runs_as_written(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / ".venv").symlink_to(BIN.parent, target_is_directory=True)
    exports: list[str] = []
    outputs: dict[str, str] = {}
    with running_daemon(project / "run" / "sim", ["--tour"]) as daemon:
        # The tour the daemon prints sets the same URI, quoted for any folder name.
        printed = printed_export(daemon.log)
        uri = finish(bash([printed], 'printf %s "$OPENVZ_DEFAULT_URI"', project), printed, 10)
        assert uri == f"openvz+unix:///system?socket={daemon.rw_socket}"
        for line in tour_lines():
            if line.startswith("export "):
                finish(bash(exports, line, project), line, 10)
                exports.append(line)
                continue
            command, _, meanwhile = line.partition("# meanwhile:")
            process = bash(exports, command, project)
            if meanwhile:
                wait_until_connected(process)
                finish(bash(exports, meanwhile.strip(), project), meanwhile, 60)
            output = finish(process, line, 90)
            name = ovzsh_command(command)
            if name is not None:
                outputs[name] = output
        assert set(EXPECTED_OUTPUT) <= set(outputs), "a step of the tour went missing"
        for name, expected in EXPECTED_OUTPUT.items():
            assert expected in outputs[name], f"ovzsh {name} printed:\n{outputs[name]}"
        assert "event loop timed out" in outputs["event"]

        snippet = python_snippet()
        result = subprocess.run(
            [".venv/bin/python", "-c", snippet],
            cwd=project,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        promised = re.search(r"print\(dom\.state\(\)\)\s*# (.*)$", snippet, re.M)
        assert promised is not None, "the snippet no longer says what it prints"
        assert result.stdout.strip() == promised.group(1)
        assert daemon.process.poll() is None
