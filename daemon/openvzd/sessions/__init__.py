"""Exec and console sessions: a person's way into a container, through the daemon.

What the OpenVZ tools offer, and what this package relies on (openvz-tools.md §1.2, §1.7):

* `vzctl exec2 CTID CMD...` joins its arguments with spaces and runs the result
  with `bash -c` inside the container; its exit status is the command's own.
  A stopped container is refused with 31. So a session's argv is passed as one
  script of quoted words (`exec 'cmd' 'arg'`), which the container's bash splits
  back into exactly that argv; `exec` makes the command bash's own process, so a
  signal reaches it.
* `vzctl enter CTID` gives an interactive root shell on a terminal of its own,
  proxied through vzctl's terminal; it is refused with 31 when the container is
  stopped. It follows the size of its terminal on SIGWINCH.
* `vzctl console CTID` attaches to the container's console tty; ESC then '.'
  detaches (and Ctrl-] in the simulator, as in virsh).
* None of them takes the container's lock, so a session never waits for a job
  and a job never waits for a session.

Every session runs one vzctl in a process group of its own, on pipes or on a
pty, reads its output only as fast as the client takes it, and when either
side goes away, kills the group and reaps it. Sessions are recorded (caller,
command, start, end, status) without their data, in records.py.
"""

from openvzd.sessions.manager import ConsoleSession, ExecSession, SessionManager
from openvzd.sessions.records import SessionRecord, SessionRecords
from openvzd.sessions.spec import ExecSpec, TerminalSize

__all__ = [
    "ConsoleSession",
    "ExecSession",
    "ExecSpec",
    "SessionManager",
    "SessionRecord",
    "SessionRecords",
    "TerminalSize",
]
