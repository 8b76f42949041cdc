"""A real `openvzd --simulate` process for end-to-end tests."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

BIN = Path(sys.executable).parent
CHANNEL_OPTIONS = [("grpc.use_local_subchannel_pool", 1)]


@dataclass
class DaemonProcess:
    sim_dir: Path
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def host_root(self) -> Path:
        return self.sim_dir / "host"

    @property
    def rw_socket(self) -> Path:
        return self.sim_dir / "run" / "openvzd.sock"

    @property
    def ro_socket(self) -> Path:
        return self.sim_dir / "run" / "openvzd-ro.sock"

    def channel(self, read_only: bool = False) -> grpc.Channel:
        path = self.ro_socket if read_only else self.rw_socket
        return grpc.insecure_channel(f"unix:{path}", options=CHANNEL_OPTIONS)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def tool(self, name: str) -> str:
        return str(self.host_root / "usr" / "sbin" / name)

    def vzctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        """The simulated host's own vzctl, as an administrator runs it by hand."""
        return subprocess.run(
            [self.tool("vzctl"), *args], capture_output=True, text=True, check=True, timeout=60
        )

    def vzsim(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "vzsim"), *args], capture_output=True, text=True, check=True, timeout=120
        )

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout=timeout)


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def health_serving(socket: Path, timeout: float = 1.0) -> bool:
    if not socket.exists():
        return False
    with grpc.insecure_channel(f"unix:{socket}", options=CHANNEL_OPTIONS) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=timeout
            )
        except grpc.RpcError:
            return False
    return reply.status == health_pb2.HealthCheckResponse.SERVING


def start_daemon(
    sim_dir: Path,
    extra_args: Sequence[str] = (),
    timeout: float = 60,
    env: dict[str, str] | None = None,
    prefix: Sequence[str] = (),
    on_spawn: Callable[[subprocess.Popen[bytes]], None] | None = None,
) -> DaemonProcess:
    """Start openvzd --simulate sim_dir and return once its health check answers SERVING;
    prefix is a command that execs the rest (e.g. unshare), so the pid stays the daemon's;
    on_spawn gets the process before it is ready (to kill it during its start-up)."""
    sim_dir.mkdir(parents=True, exist_ok=True)
    log_path = sim_dir / f"openvzd-{time.monotonic_ns()}.log"
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            [
                *prefix,
                str(BIN / "openvzd"),
                "--simulate",
                str(sim_dir),
                "--sim-delays",
                "none",
                *extra_args,
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env={**os.environ, "GRPC_VERBOSITY": "NONE", **(env or {})},
        )
    if on_spawn is not None:
        on_spawn(process)
    daemon = DaemonProcess(sim_dir, process, log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"openvzd exited with {process.returncode}:\n{daemon.log()}")
        if health_serving(daemon.rw_socket):
            return daemon
        time.sleep(0.05)
    daemon.stop(signal.SIGKILL)
    raise RuntimeError(f"openvzd did not become ready within {timeout} s:\n{daemon.log()}")


@contextlib.contextmanager
def running_daemon(sim_dir: Path, extra_args: Sequence[str] = ()) -> Iterator[DaemonProcess]:
    daemon = start_daemon(sim_dir, extra_args)
    try:
        yield daemon
    finally:
        with contextlib.suppress(subprocess.TimeoutExpired):
            daemon.stop()
        if daemon.process.poll() is None:
            daemon.process.kill()
            daemon.process.wait(timeout=10)
