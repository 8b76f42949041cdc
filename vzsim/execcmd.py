"""vzctl exec/exec2/exec3: run a command in the CT's stand-in (cwd VE_ROOT, env VEID)."""

from __future__ import annotations

import os
import subprocess

from vzsim.console import VzError
from vzsim.context import Context


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
    try:
        result = subprocess.run(argv, cwd=root, env=env, check=False)
    except OSError as error:
        raise VzError(8 if collapse else 3, f"Unable to execute {argv[0]}: {error}") from error
    if collapse:
        return 0 if result.returncode == 0 else 8
    return result.returncode if result.returncode >= 0 else 128 - result.returncode
