"""Who the caller is on the unix sockets: the kernel's peer credentials, read by
the relay front (relay.UnixFront) and handed to the servicer through
identity.caller_of, for a root client on the read-write socket and an
unprivileged one on the read-only socket. Clients are separate processes, so
their pid and uid are theirs, not the test's."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from openvzd.limiter import PerKeyLimiter

from tests.remote.standin import StandInDaemon, start_standin

NOBODY = 65534
# Starts as the test's user (which may run the venv's python) and becomes
# argv[2], if given, before it connects: the kernel takes the credentials then.
CLIENT = """
import os, sys, grpc
from openvz.v1 import host_pb2, host_pb2_grpc
if len(sys.argv) > 2:
    os.setgid(int(sys.argv[2]))
    os.setuid(int(sys.argv[2]))
with grpc.insecure_channel("unix:" + sys.argv[1]) as channel:
    host_pb2_grpc.HostStub(channel).GetVersion(host_pb2.VersionRequest(), timeout=20)
"""

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a client as nobody")


@pytest.fixture
async def standin() -> AsyncIterator[StandInDaemon]:
    # Outside pytest's root-only tmp folders: nobody must reach the read-only socket.
    run_dir = Path(tempfile.mkdtemp(prefix="openvzd-identity-"))
    run_dir.chmod(0o755)
    daemon = await start_standin(run_dir, max_clients_per_uid=2)
    try:
        yield daemon
    finally:
        await daemon.stop()
        shutil.rmtree(run_dir)


async def _call_from_process(socket: Path, user: int | None = None) -> int:
    """Run a client process that calls GetVersion once; its pid."""
    argv = [sys.executable, "-c", CLIENT, str(socket)]
    if user is not None:
        argv.append(str(user))
    process = subprocess.Popen(argv, stderr=subprocess.PIPE)
    returncode = await asyncio.to_thread(process.wait, 60)
    stderr = process.stderr.read().decode() if process.stderr else ""
    assert returncode == 0, stderr
    return process.pid


async def test_root_on_the_read_write_socket_is_uid_0_with_its_pid(
    standin: StandInDaemon,
) -> None:
    pid = await _call_from_process(standin.rw_socket)
    caller = standin.services.host.callers[-1]
    assert (caller.transport, caller.uid, caller.gid, caller.pid) == ("unix", 0, 0, pid)
    assert caller.read_only is False
    assert caller.describe() == f"uid 0 pid {pid} (unix)"


@needs_root
async def test_another_uid_on_the_read_only_socket_is_that_uid(standin: StandInDaemon) -> None:
    pid = await _call_from_process(standin.ro_socket, user=NOBODY)
    caller = standin.services.host.callers[-1]
    assert (caller.transport, caller.uid, caller.pid, caller.read_only) == (
        "unix",
        NOBODY,
        pid,
        True,
    )


def test_the_per_key_limiter_counts_refuses_and_gives_back() -> None:
    limiter: PerKeyLimiter[int] = PerKeyLimiter(2, total=3, overrides={0: 0})
    assert limiter.acquire(1000) is None and limiter.acquire(1000) is None
    refusal = limiter.acquire(1000, "uid 1000")
    assert refusal is not None and "uid 1000 (2 at once)" in refusal
    assert limiter.acquire(0) is None  # root: no cap of its own
    refusal = limiter.acquire(0)
    assert refusal is not None and "too many connections at once (3)" in refusal
    limiter.release(1000)
    assert limiter.acquire(0) is None and limiter.count(0) == 2
    with pytest.raises(RuntimeError):
        limiter.release(4242)
