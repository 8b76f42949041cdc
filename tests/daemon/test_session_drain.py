"""The session manager in process, on vzsim's own vzctl: output read after the command
has exited comes at once, not after the drain grace.

asyncio.wait's default is ALL_COMPLETED: waiting for the next frame *or* the session's
end, it waited for both, so every frame read after the command's exit cost the whole
grace (2 s), in about a third of all short execs. The grace is set to an hour here, so
the old code fails by the timeout rather than by a measured delay.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from openvzd.core.caller import Caller
from openvzd.sessions import manager
from openvzd.sessions.records import SessionRecords
from openvzd.sessions.spec import ExecSpec

from tests.sessions_host import session_host

HOUR = 3600.0


@pytest.fixture
def vzctl(tmp_path: Path) -> Iterator[Path]:
    with session_host(tmp_path / "host") as path:
        yield path


async def test_output_read_after_the_exit_comes_without_the_grace(
    vzctl: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(manager, "DRAIN_GRACE", HOUR)
    records = SessionRecords(tmp_path / "sessions.sqlite")
    sessions = manager.SessionManager(lambda: vzctl, records, lambda veid: "running")
    caller = Caller(transport="unix", uid=0)
    spec = ExecSpec(argv=("sh", "-c", "echo out; echo err >&2"))
    session = await sessions.exec_session(101, spec, caller)
    deadline = time.monotonic() + 60
    while not session.process.exited and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert session.process.exited  # the command is gone before a byte of it is read

    async def everything() -> dict[str, bytes]:
        received = {"stdout": b"", "stderr": b""}
        while (output := await session.next_output()) is not None:
            received[output[0]] += output[1]
        return received

    received = await asyncio.wait_for(everything(), timeout=20)
    assert received == {"stdout": b"out\n", "stderr": b"err\n"}
    assert await asyncio.wait_for(session.finish(), timeout=60) == 0
    await sessions.close()
