"""Running the OpenVZ tools: argv only, a minimal environment, a timeout per kind
of operation, and the whole process group killed when time runs out or the
caller is cancelled (a job's cancel ends here).

A run may carry secrets (a password vzctl takes on its command line): the
argv, output and errors the runner logs, returns or raises show each secret's
value replaced by the marker, at every log level."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

from openvzd.vz.errors import ErrorKind, VzError, kind_for_exit

log = logging.getLogger(__name__)

ENVIRONMENT = {"LC_ALL": "C", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
KILL_GRACE_SECONDS = 3.0
# The most of a failed tool's output quoted in its error.
MAX_SAID = 4000
# What a secret's value shows as; the same as core/secret.py's MARKER (vz/ imports
# nothing above it, a test checks the two agree).
SECRET_MARKER = "<secret>"


class Revealable(Protocol):
    """A secret (core/secret.py's Secret) as the runner sees it."""

    def reveal(self) -> str: ...


def _hide(text: str, values: Sequence[str]) -> str:
    for value in values:
        text = text.replace(value, SECRET_MARKER)
    return text


@dataclass(frozen=True, slots=True)
class ToolPaths:
    vzctl: Path
    vzlist: Path
    vzmigrate: Path

    def path(self, tool: str) -> Path:
        return Path(getattr(self, tool))


@dataclass(frozen=True, slots=True)
class ToolResult:
    # As shown: every secret of the run replaced by the marker.
    argv: tuple[str, ...]
    exit_code: int
    stdout: str
    stderr: str
    seconds: float


class ToolRunner:
    """Runs vzctl, vzlist and vzmigrate by absolute path with per-operation timeouts."""

    def __init__(self, paths: ToolPaths, timeouts: Mapping[str, float]) -> None:
        self.paths = paths
        self._timeouts = dict(timeouts)

    def timeout_for(self, operation: str) -> float:
        return self._timeouts.get(operation, self._timeouts.get("default", 300.0))

    async def run(
        self,
        tool: str,
        args: Sequence[str],
        *,
        operation: str = "default",
        check: bool = True,
        secrets: Sequence[Revealable] = (),
    ) -> ToolResult:
        """Run tool with args; with check, a non-zero exit raises VzError of its kind.
        Every value of `secrets` is hidden in what is logged, returned or raised."""
        path = self.paths.path(tool)
        argv = (str(path), *args)
        hidden = [value for secret in secrets if (value := secret.reveal())]
        shown = tuple(_hide(arg, hidden) for arg in argv)
        timeout = self.timeout_for(operation)
        started = time.monotonic()
        # Output goes to files, not pipes: if openvzd dies, a vzctl it started
        # finishes its work instead of dying of SIGPIPE half-way.
        with tempfile.TemporaryFile() as out_file, tempfile.TemporaryFile() as err_file:
            try:
                process = await asyncio.create_subprocess_exec(
                    *argv,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=out_file,
                    stderr=err_file,
                    env=ENVIRONMENT,
                    start_new_session=True,
                )
            except FileNotFoundError:
                raise VzError(
                    ErrorKind.TOOL_MISSING,
                    f"{tool} is not installed at {path}; install vzctl or set [tools] {tool} "
                    "in /etc/openvzd/openvzd.toml",
                    tool=tool,
                    argv=shown,
                ) from None
            except PermissionError:
                raise VzError(
                    ErrorKind.TOOL_MISSING, f"{path} is not executable", tool=tool, argv=shown
                ) from None
            try:
                await asyncio.wait_for(process.wait(), timeout)
            except TimeoutError:
                await _kill_group(process)
                raise VzError(
                    ErrorKind.TIMED_OUT,
                    f"{tool} {' '.join(shown[1:])} did not finish within {timeout:.0f} s and was "
                    f"killed (raise [timeouts] {operation} if the host is just slow)",
                    tool=tool,
                    argv=shown,
                ) from None
            except asyncio.CancelledError:
                await _kill_group(process)
                raise
            result = ToolResult(
                shown,
                process.returncode or 0,
                _hide(_read_all(out_file), hidden),
                _hide(_read_all(err_file), hidden),
                time.monotonic() - started,
            )
        log.debug("%s -> %d in %.3f s", " ".join(shown), result.exit_code, result.seconds)
        if check and result.exit_code != 0:
            raise tool_failure(tool, result)
        return result


def _read_all(handle: IO[bytes]) -> str:
    handle.seek(0)
    return handle.read().decode(errors="replace")


def tool_failure(tool: str, result: ToolResult) -> VzError:
    said = result.stderr.strip() or result.stdout.strip() or "no message"
    if len(said) > MAX_SAID:
        # A job's error is listed with every job: a tool that prints megabytes
        # must not make the list too large to send.
        said = f"{said[:MAX_SAID]} ... ({len(said) - MAX_SAID} more characters)"
    kind = kind_for_exit(tool, result.exit_code)
    if result.exit_code < 0:
        kind = ErrorKind.INTERNAL
        said = f"killed by signal {-result.exit_code}"
    return VzError(
        kind,
        f"{tool} {' '.join(result.argv[1:])} failed with exit code {result.exit_code}: {said}",
        tool=tool,
        argv=result.argv,
        exit_code=result.exit_code,
        stderr=result.stderr,
    )


async def _kill_group(process: asyncio.subprocess.Process) -> None:
    """SIGTERM the tool's whole process group, then SIGKILL what is left."""
    for sig, wait in ((signal.SIGTERM, KILL_GRACE_SECONDS), (signal.SIGKILL, KILL_GRACE_SECONDS)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            await asyncio.wait_for(process.wait(), wait)
        except TimeoutError:
            continue
        # The leader is gone; children in its group may not be.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        return
