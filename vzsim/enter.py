"""vzctl enter CTID [--exec CMD ARGS...]: an interactive shell in the stand-in's root.

As the real tool, it gives the shell a terminal of its own (a new pty with the
shell as its session leader), puts the caller's terminal in raw mode while it
runs, copies the caller's window size on SIGWINCH, says `entered into CT N` and
`exited from CT N` on stderr, and refuses a stopped container with exit 31. It is a
simulator: the shell is the host's plain /bin/sh, started in the container's
root folder with that folder as HOME; nothing confines it there.
"""

from __future__ import annotations

import contextlib
import os
import pty
import signal
import sys

from vzsim import ttyproxy
from vzsim.console import VzError
from vzsim.context import Context

SHELL = "/bin/sh"
SEARCH_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def shell_environment(ctx: Context) -> dict[str, str]:
    return {
        "HOME": str(ctx.ct.root_path),
        "PATH": SEARCH_PATH,
        "TERM": os.environ.get("TERM", "linux"),
        "VEID": str(ctx.ctid),
        "PS1": f"CT-{ctx.ctid}-sh# ",
    }


def enter(ctx: Context) -> int:
    if ctx.ctid not in ctx.kernel.load():
        raise VzError(31, "Container is not running")
    args = list(ctx.args)
    command: list[str] = [SHELL, "-i"]
    if args:
        if args[0] != "--exec" or len(args) < 2:
            raise VzError(20, f"Invalid extra arguments: {' '.join(args)}")
        command = [SHELL, "-c", " ".join(args[1:])]
    root = ctx.ct.root_path
    root.mkdir(parents=True, exist_ok=True)
    environment = shell_environment(ctx)
    print(f"entered into CT {ctx.ctid}", file=sys.stderr, flush=True)
    child, master = pty.fork()
    if child == 0:  # the shell: the pty's session leader, as init's children are
        try:
            os.chdir(root)
            os.execve(command[0], command, environment)
        finally:
            os._exit(127)
    code = 0
    try:
        with ttyproxy.raw_terminal(0):
            ttyproxy.follow_window_size(0, master)

            def to_shell(data: bytes) -> None:
                # Input ended: Ctrl-D at a line start, what a terminal sends for it.
                ttyproxy.write_all(master)(data or b"\x04")

            ttyproxy.pump(0, 1, master, write_peer=to_shell)
        code = _wait(child)
        child = 0
    finally:
        if child:
            _end(child)
        os.close(master)
    print(f"exited from CT {ctx.ctid}", file=sys.stderr, flush=True)
    return code


def _wait(pid: int) -> int:
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)


def _end(pid: int) -> None:
    """The shell and whatever it started, when vzctl itself is told to stop."""
    for signum in (signal.SIGHUP, signal.SIGKILL):
        try:
            os.killpg(pid, signum)
        except ProcessLookupError:
            break
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)
