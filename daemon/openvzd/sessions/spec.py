"""What a client may ask of a session, checked before anything runs, and the
vzctl argument vectors made from it."""

from __future__ import annotations

import re
import shlex
import signal
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from openvzd.vz.errors import ErrorKind, OpenvzError

MAX_ARGS = 4096
MAX_COMMAND_BYTES = 128 * 1024
MAX_ENV = 256
MAX_PATH = 4096
MAX_TERMINAL = 10_000
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
# TERM is the one variable an interactive shell takes: vzctl enter passes it on.
TERMINAL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+_-]{0,63}")
SIGNALS: Mapping[int, str] = {
    int(s): s.name
    for s in (
        signal.SIGHUP,
        signal.SIGINT,
        signal.SIGQUIT,
        signal.SIGKILL,
        signal.SIGUSR1,
        signal.SIGUSR2,
        signal.SIGTERM,
        signal.SIGCONT,
        signal.SIGSTOP,
        signal.SIGWINCH,
    )
}


@dataclass(frozen=True, slots=True)
class TerminalSize:
    rows: int = 24
    columns: int = 80

    def check(self) -> TerminalSize:
        for name, value in (("rows", self.rows), ("columns", self.columns)):
            if not 1 <= value <= MAX_TERMINAL:
                raise OpenvzError(
                    ErrorKind.BAD_ARGUMENT,
                    f"terminal {name} {value} is not within 1..{MAX_TERMINAL}",
                )
        return self


@dataclass(frozen=True, slots=True)
class ExecSpec:
    """A command (or, with pty and no argv, an interactive shell) to run in a container."""

    argv: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str = ""
    pty: bool = False
    size: TerminalSize = TerminalSize()

    @property
    def kind(self) -> str:
        return "exec" if self.argv else "enter"

    def check(self) -> ExecSpec:
        """self, when every value is one the session can pass on exactly; else an OpenvzError."""
        if not self.argv and not self.pty:
            raise OpenvzError(
                ErrorKind.BAD_ARGUMENT,
                "give a command to run, or ask for a pty to get an interactive shell",
            )
        if len(self.argv) > MAX_ARGS:
            raise OpenvzError(
                ErrorKind.BAD_ARGUMENT, f"{len(self.argv)} arguments; at most {MAX_ARGS}"
            )
        if self.argv and not self.argv[0]:
            raise OpenvzError(ErrorKind.BAD_ARGUMENT, "the command (argv[0]) is empty")
        for name, value in self.env.items():
            if not ENV_NAME.fullmatch(name):
                raise OpenvzError(
                    ErrorKind.BAD_ARGUMENT,
                    f"environment name {name!r} is not a shell variable name "
                    "(letters, digits and _, not starting with a digit)",
                )
            _no_nul(f"the value of {name}", value)
        if len(self.env) > MAX_ENV:
            raise OpenvzError(
                ErrorKind.BAD_ARGUMENT, f"{len(self.env)} variables; at most {MAX_ENV}"
            )
        for number, word in enumerate(self.argv):
            _no_nul(f"argument {number}", word)
        if self.cwd:
            _no_nul("the working directory", self.cwd)
            if not self.cwd.startswith("/") or len(self.cwd) > MAX_PATH:
                raise OpenvzError(
                    ErrorKind.BAD_ARGUMENT,
                    f"working directory {self.cwd!r} must be an absolute path in the container",
                )
        if not self.argv:
            others = sorted(set(self.env) - {"TERM"})
            if others or self.cwd:
                raise OpenvzError(
                    ErrorKind.BAD_ARGUMENT,
                    "an interactive shell takes no environment (but TERM) and no working "
                    "directory; give a command to run with them",
                )
        term = self.env.get("TERM")
        if term is not None and not TERMINAL_NAME.fullmatch(term):
            raise OpenvzError(ErrorKind.BAD_ARGUMENT, f"TERM={term!r} is not a terminal type name")
        if len(self.script().encode()) > MAX_COMMAND_BYTES:
            raise OpenvzError(
                ErrorKind.BAD_ARGUMENT, f"the command is longer than {MAX_COMMAND_BYTES} bytes"
            )
        self.size.check()
        return self

    def script(self) -> str:
        """The one line the container's bash runs for argv: exactly argv, in cwd, with env."""
        if not self.argv:
            return ""
        steps = [f"export {name}={shlex.quote(value)}" for name, value in sorted(self.env.items())]
        if self.cwd:
            steps.append(f"cd -- {shlex.quote(self.cwd)}")
        steps.append("exec " + shlex.join(self.argv))
        return " && ".join(steps)

    def vzctl_argv(self, vzctl: Path, veid: int) -> list[str]:
        if not self.argv:
            return [str(vzctl), "enter", str(veid)]
        return [str(vzctl), "exec2", str(veid), self.script()]


def console_argv(vzctl: Path, veid: int) -> list[str]:
    return [str(vzctl), "console", str(veid)]


def check_signal(number: int) -> int:
    if number not in SIGNALS:
        names = ", ".join(f"{n} {name}" for n, name in sorted(SIGNALS.items()))
        raise OpenvzError(
            ErrorKind.BAD_ARGUMENT, f"signal {number} cannot be sent; one of: {names}"
        )
    return number


def _no_nul(what: str, value: str) -> None:
    if "\0" in value:
        raise OpenvzError(ErrorKind.BAD_ARGUMENT, f"{what} contains a NUL character")
