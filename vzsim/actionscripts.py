"""Per-CT and global action scripts in /etc/vz/conf (openvz-tools.md §1.2); a failure is exit 79.

Each script runs with /bin/bash, env VEID and VE_CONFFILE. VE_CONFFILE is the config's
real path under ROOT (not /etc/vz/conf/CTID.conf) so a script can source it.
"""

from __future__ import annotations

import os

from vzsim.console import VzError
from vzsim.context import Context


def run_action_scripts(ctx: Context, *actions: str) -> None:
    """Run `vps.ACTION` then `CTID.ACTION` for each action, in order, where present."""
    conf_dir = ctx.host.conf_dir
    env = dict(os.environ, VEID=str(ctx.ctid), VE_CONFFILE=str(ctx.ct.conf_path))
    for action in actions:
        for owner in ("vps", str(ctx.ctid)):
            script = conf_dir / f"{owner}.{action}"
            if owner == "vps" and action in ("start", "stop"):
                continue
            if not script.is_file():
                continue
            import subprocess  # only when a script exists: keeps vzctl start-up light

            result = subprocess.run(["/bin/bash", str(script)], env=env, check=False)
            if result.returncode != 0:
                raise VzError(79, f"Error executing {action} script /etc/vz/conf/{script.name}")
