"""vzctl exec/exec2/exec3: run a command in the CT's stand-in (cwd VE_ROOT, env VEID).

The command shares vzctl's stdin, stdout and stderr; a signal sent to vzctl
(INT, TERM, HUP, QUIT, USR1, USR2, WINCH) is passed on to the command, whose own
end decides vzctl's exit (128 + N after signal N, as a shell reports it).
"""

from __future__ import annotations

import os
import signal
import subprocess
from types import FrameType

from vzsim.console import VzError
from vzsim.context import Context

FORWARDED_SIGNALS = (
    signal.SIGINT,
    signal.SIGTERM,
    signal.SIGHUP,
    signal.SIGQUIT,
    signal.SIGUSR1,
    signal.SIGUSR2,
    signal.SIGWINCH,
)


def exec_command(ctx: Context) -> int:
    collapse = ctx.command == "exec"
    if ctx.ctid not in ctx.kernel.load():
        raise VzError(8 if collapse else 31, "Container is not running")
    if not ctx.args:
        raise VzError(20, "No command specified")
    if ctx.command == "exec3":
        argv = ctx.args
    elif ctx.args == ["-"]:
        argv = ["/bin/bash"]
    else:
        argv = ["/bin/bash", "-c", " ".join(ctx.args)]
    env = dict(os.environ, VEID=str(ctx.ctid))
    root = ctx.ct.root_path
    root.mkdir(parents=True, exist_ok=True)
    # Handlers first: a signal that comes while the command starts is passed on once it runs.
    pending: list[int] = []
    started: list[subprocess.Popen[bytes]] = []

    def pass_on(signum: int, _frame: FrameType | None) -> None:
        if not started:
            pending.append(signum)
        elif started[0].returncode is None:
            started[0].send_signal(signum)

    for signum in FORWARDED_SIGNALS:
        signal.signal(signum, pass_on)
    try:
        child = subprocess.Popen(argv, cwd=root, env=env)
    except OSError as error:
        raise VzError(8 if collapse else 3, f"Unable to execute {argv[0]}: {error}") from error
    started.append(child)
    for signum in pending:
        child.send_signal(signum)
    returncode = child.wait()
    if collapse:
        return 0 if returncode == 0 else 8
    return returncode if returncode >= 0 else 128 - returncode
