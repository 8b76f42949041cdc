"""A container's console tty, and `vzctl console CTID [TTY]` attaching to it.

The real kernel gives each running container a console terminal that its init
writes to and a getty reads from. Here a small keeper process per running
container stands for it, brought up by the first `vzctl console` after the start
(a simulated boot writes nothing to it, and a test host that starts hundreds of
containers should not pay a process each); it holds the master of a pty whose other side runs the
stand-in's console shell (/bin/sh in the container's root, respawned when it
exits, as init respawns a getty) and serves one attached `vzctl console` at a
time over a unix socket in ROOT/.vzsim/console/ (a newer attach replaces the
older, which sees its connection end). It keeps the last few KiB of output, so an
attach shows the prompt. The keeper leaves by itself once the container no longer
runs, the simulated host's folder is gone, or nobody attached for IDLE_LIMIT
seconds; the next `vzctl console` brings it back. `vzctl stop` takes it down.

`vzctl console` says `Attached to CT N (ESC . to detach)` on stderr, puts the
caller's terminal in raw mode and detaches on ESC '.' (the real tool's escape) or
on Ctrl-] (virsh's); a stopped container is refused with exit 31.
"""

from __future__ import annotations

import contextlib
import os
import pty
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

from vzsim import ttyproxy
from vzsim.console import VzError
from vzsim.container import Container
from vzsim.context import Context
from vzsim.enter import SEARCH_PATH, SHELL
from vzsim.host import Host
from vzsim.kernel import Kernel

SCROLLBACK = 4096
IDLE_LIMIT = 600.0
CHECK_INTERVAL = 1.0
RESPAWN_PAUSE = 0.5
START_WAIT = 5.0


def console_dir(host: Host) -> Path:
    return host.state_dir / "console"


def _socket_name(ctid: int) -> str:
    # Bound and reached relative to console_dir: a simulated host under a deep
    # temporary folder would exceed a socket path's 108 bytes.
    return f"{ctid}.sock"


def _pid_file(host: Host, ctid: int) -> Path:
    return console_dir(host) / f"{ctid}.pid"


def bring_up(host: Host, ctid: int) -> None:
    """Start ctid's keeper unless one answers; wait until it listens."""
    if _connect(host, ctid) is not None:
        return
    directory = console_dir(host)
    directory.mkdir(parents=True, exist_ok=True)
    subprocess.Popen(
        [sys.executable, "-m", "vzsim.consoletty", str(host.root), str(ctid)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
    )
    deadline = time.monotonic() + START_WAIT
    while time.monotonic() < deadline:
        if (directory / _socket_name(ctid)).exists():
            return
        time.sleep(0.02)


def take_down(host: Host, ctid: int) -> None:
    """End ctid's keeper (the container stopped); attached consoles see their end."""
    pid_file = _pid_file(host, ctid)
    try:
        pid = int(pid_file.read_text())
    except (OSError, ValueError):
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGTERM)


def _connect(host: Host, ctid: int) -> socket.socket | None:
    directory = console_dir(host)
    if not directory.is_dir():
        return None
    peer = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    here = os.open(".", os.O_RDONLY)
    try:
        os.chdir(directory)
        peer.connect(_socket_name(ctid))
    except OSError:
        peer.close()
        return None
    finally:
        os.fchdir(here)
        os.close(here)
    return peer


def console(ctx: Context) -> int:
    """vzctl console CTID [TTY]; only the first console (TTY 1) exists here."""
    if len(ctx.args) > 1 or (ctx.args and ctx.args[0] not in ("1", "0")):
        raise VzError(21, f"Invalid tty number: {' '.join(ctx.args)}")
    if ctx.ctid not in ctx.kernel.load():
        raise VzError(31, "Container is not running")
    bring_up(ctx.host, ctx.ctid)
    peer = _connect(ctx.host, ctx.ctid)
    if peer is None:
        raise VzError(3, f"Unable to open console of CT {ctx.ctid}")
    print(f"Attached to CT {ctx.ctid} (ESC . to detach)", file=sys.stderr, flush=True)

    def to_console(data: bytes) -> None:
        if data:
            peer.sendall(data)
        else:  # our input ended: leave, as a detach does
            peer.shutdown(socket.SHUT_WR)

    try:
        with ttyproxy.raw_terminal(0):
            ended = ttyproxy.pump(
                0, 1, peer.fileno(), write_peer=to_console, escape=ttyproxy.EscapeWatch()
            )
    finally:
        peer.close()
    if ended == "escape":
        print(f"\r\nDetached from CT {ctx.ctid}", file=sys.stderr, flush=True)
    else:
        print(f"\r\nConsole of CT {ctx.ctid} closed", file=sys.stderr, flush=True)
    return 0


class Keeper:
    """The per-container console: one pty, its shell, at most one attached client."""

    def __init__(self, host: Host, ctid: int) -> None:
        self.host = host
        self.ctid = ctid
        self.kernel = Kernel(host)
        self.root = Container(host, ctid).root_path
        self.shell_pid = 0
        self.master = -1
        self.client: socket.socket | None = None
        self.scrollback = b""
        self.last_attached = time.monotonic()

    def spawn_shell(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        environment = {
            "HOME": str(self.root),
            "PATH": SEARCH_PATH,
            "TERM": "linux",
            "VEID": str(self.ctid),
            "PS1": f"CT-{self.ctid}-console# ",
        }
        pid, master = pty.fork()
        if pid == 0:
            try:
                os.chdir(self.root)
                os.execve(SHELL, [SHELL, "-i"], environment)
            finally:
                os._exit(127)
        self.shell_pid, self.master = pid, master

    def reap_shell(self) -> None:
        if self.shell_pid:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.shell_pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self.shell_pid, 0)
            self.shell_pid = 0
        if self.master >= 0:
            os.close(self.master)
            self.master = -1

    def still_wanted(self) -> bool:
        if not self.host.root.is_dir() or self.ctid not in self.kernel.load():
            return False
        return self.client is not None or time.monotonic() - self.last_attached < IDLE_LIMIT

    def drop_client(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None
            self.last_attached = time.monotonic()

    def from_shell(self) -> None:
        try:
            data = os.read(self.master, ttyproxy.CHUNK)
        except OSError:
            data = b""
        if not data:  # the shell left: a new one, as init respawns its getty
            self.reap_shell()
            time.sleep(RESPAWN_PAUSE)
            self.spawn_shell()
            return
        self.scrollback = (self.scrollback + data)[-SCROLLBACK:]
        if self.client is not None:
            try:
                self.client.sendall(data)
            except OSError:
                self.drop_client()

    def from_client(self) -> None:
        assert self.client is not None
        try:
            data = self.client.recv(ttyproxy.CHUNK)
        except OSError:
            data = b""
        if not data:
            self.drop_client()
            return
        ttyproxy.write_all(self.master)(data)

    def attach(self, listener: socket.socket) -> None:
        newcomer, _ = listener.accept()
        self.drop_client()
        self.client = newcomer
        try:
            newcomer.sendall(self.scrollback)
        except OSError:
            self.drop_client()

    def serve(self, listener: socket.socket) -> None:
        self.spawn_shell()
        checked = time.monotonic()
        while True:
            if time.monotonic() - checked >= CHECK_INTERVAL:
                if not self.still_wanted():
                    return
                checked = time.monotonic()
            watched: list[int | socket.socket] = [self.master, listener]
            if self.client is not None:
                watched.append(self.client)
            try:
                ready, _, _ = select.select(watched, [], [], CHECK_INTERVAL)
            except InterruptedError:
                continue
            if self.master in ready:
                self.from_shell()
            if listener in ready:
                self.attach(listener)
            if self.client is not None and self.client in ready:
                self.from_client()


class _Stop(Exception):
    pass


def _stop(_signum: int, _frame: FrameType | None) -> None:
    raise _Stop


def keep(root: Path, ctid: int) -> int:
    host = Host(root)
    directory = console_dir(host)
    directory.mkdir(parents=True, exist_ok=True)
    os.chdir(directory)
    name = _socket_name(ctid)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(name)
    listener.bind(name)
    listener.listen(4)
    pid_file = _pid_file(host, ctid)
    pid_file.write_text(str(os.getpid()))
    keeper = Keeper(host, ctid)
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGHUP, _stop)
    try:
        keeper.serve(listener)
    except _Stop:
        pass
    finally:
        keeper.drop_client()
        keeper.reap_shell()
        listener.close()
        with contextlib.suppress(OSError):
            os.unlink(name)
        with contextlib.suppress(OSError):
            if pid_file.read_text() == str(os.getpid()):
                pid_file.unlink()
    return 0


def main(argv: list[str]) -> int:
    try:
        return keep(Path(argv[0]), int(argv[1]))
    except (OSError, ValueError, IndexError) as error:
        print(f"vzsim console keeper: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
