"""Sessions under way: starting them, their output at the client's pace, their end.

A front-end (the gRPC servicer, later the libvirt console procedure) asks the
manager for a session, then moves bytes: `next_output()` until it answers None,
`write()` for input, and once the output is over `finish()` for the exit status.
If the client goes away it calls `abort()`. Either way the session's process
group is killed and reaped and the record closed, exactly once.

A console has one client at a time: a second attach is refused with BUSY
unless it forces, and then the first is detached with the reason, as
`virsh console --force` does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from pathlib import Path

from openvzd.core.caller import Caller
from openvzd.sessions.process import SessionProcess
from openvzd.sessions.records import SessionRecords
from openvzd.sessions.spec import (
    ExecSpec,
    TerminalSize,
    check_signal,
    console_argv,
)
from openvzd.vz.errors import ErrorKind, OpenvzError

log = logging.getLogger(__name__)

# After the command exits, how long output may still trickle in before the session
# ends anyway (something it left running holds its stdout open).
DRAIN_GRACE = 2.0
# How long vzctl console gets to leave by its escape before it is killed.
DETACH_GRACE = 1.0
# vzctl console's detach escape: ESC then '.'.
CONSOLE_ESCAPE = b"\x1b."
CONSOLE_SIZE = TerminalSize(24, 80)

Output = tuple[str, bytes]


class _Session:
    """What exec and console sessions share: the process, its output pumps, the record."""

    def __init__(
        self,
        kind: str,
        process: SessionProcess,
        session_id: str,
        veid: int,
        caller: Caller,
        records: SessionRecords,
        forget: Callable[[_Session], None],
    ) -> None:
        self.kind = kind
        self.process = process
        self.id = session_id
        self.veid = veid
        self.caller = caller
        self.started = time.time()
        self._records = records
        self._forget = forget
        self._ended = False
        self._closed = asyncio.Event()
        self._ending: asyncio.Future[None] | None = None
        # Why the session ended, when it did not end by the command's own exit.
        self.reason = ""
        # One frame per output in the daemon's hands at most: the pumps wait on put().
        self._queue: asyncio.Queue[Output] = asyncio.Queue(maxsize=1)
        streams = [("stdout", process.stdout)]
        if process.stderr is not None:
            streams.append(("stderr", process.stderr))
        self._open_streams = len(streams)
        self._pumps = [asyncio.create_task(self._pump(name, fd)) for name, fd in streams]
        self._exit = asyncio.create_task(process.wait())

    async def _pump(self, name: str, fd: int) -> None:
        while data := await self.process.read(fd):
            await self._queue.put((name, data))
        await self._queue.put((name, b""))

    async def _next(self) -> Output | None:
        """The next frame of output; None once every output ended, the session was
        ended, or the command exited and nothing more came for DRAIN_GRACE seconds."""
        while self._open_streams and not self._ended:
            getter = asyncio.ensure_future(self._queue.get())
            closed = asyncio.ensure_future(self._closed.wait())
            try:
                while not getter.done():
                    if self._ended:
                        return None
                    if self._exit.done():
                        await asyncio.wait(
                            {getter, closed}, timeout=DRAIN_GRACE, return_when="FIRST_COMPLETED"
                        )
                        if not getter.done():
                            return None
                    else:
                        await asyncio.wait(
                            {getter, closed, self._exit}, return_when="FIRST_COMPLETED"
                        )
            finally:
                for waiter in (getter, closed):
                    if not waiter.done():
                        waiter.cancel()
            name, data = getter.result()
            if data:
                return name, data
            self._open_streams -= 1
        return None

    async def write(self, data: bytes) -> bool:
        """Input for the process; False once it no longer reads."""
        return await self.process.write(data)

    async def _end(self, exit_status: int | None, reason: str) -> None:
        """Kill, reap and record, once; a caller cancelled meanwhile (a call ended by the
        server's shutdown) does not cut the cleanup short."""
        if self._ending is None:
            self._ended = True
            self._closed.set()
            self._ending = asyncio.ensure_future(self._clean_up(exit_status, reason))
        await asyncio.shield(self._ending)

    async def _clean_up(self, exit_status: int | None, reason: str) -> None:
        for task in (*self._pumps, self._exit):
            task.cancel()
        for task in (*self._pumps, self._exit):
            with contextlib.suppress(asyncio.CancelledError, OSError):
                await task
        await self.process.end()
        self._records.end(self.id, exit_status, reason)
        self._forget(self)
        log.info(
            "%s session %s on CT %s by %s ended: %s",
            self.kind,
            self.id,
            self.veid,
            self.caller.describe(),
            reason or f"exit status {exit_status}",
            extra={"veid": self.veid},
        )

    async def abort(self, reason: str) -> None:
        """End it now (the client went away, the daemon stops): kill, reap, record."""
        self.reason = self.reason or reason
        await self._end(None, self.reason)


class ExecSession(_Session):
    """A command, or an interactive shell, in a container."""

    async def next_output(self) -> Output | None:
        """("stdout" or "stderr", bytes), or None when the output is over."""
        return await self._next()

    async def close_stdin(self) -> None:
        await self.process.close_stdin()

    def resize(self, size: TerminalSize) -> None:
        self.process.resize(size.check())

    def signal(self, number: int) -> None:
        self.process.signal(check_signal(number))

    async def finish(self) -> int:
        """After the output: the command's exit status (128 + 9 when the session was
        aborted: then `reason` says why); the session is then over."""
        status = await self.process.wait()
        await self._end(status, self.reason)
        return status


class ConsoleSession(_Session):
    """One client attached to a container's console."""

    async def next_output(self) -> bytes | None:
        """The console's output; None when this client's attachment is over (see reason)."""
        frame = await self._next()
        if frame is None:
            self.reason = self.reason or "the console closed (did the container stop?)"
            return None
        return frame[1]

    async def detach(self, reason: str = "detached") -> None:
        """Leave by vzctl console's own escape, then make sure it is gone."""
        self.reason = self.reason or reason
        if not self._ended and not self.process.exited:
            await self.process.write(CONSOLE_ESCAPE)
            # asyncio.wait, not wait_for: the servicer may end the session meanwhile
            # (vzctl left), cancelling _exit, and that is no failure of this call.
            await asyncio.wait({self._exit}, timeout=DETACH_GRACE)
        await self._end(None, self.reason)

    async def finish(self) -> None:
        await self._end(None, self.reason)


class SessionManager:
    def __init__(
        self,
        vzctl: Callable[[], Path],
        records: SessionRecords,
        state_of: Callable[[int], str],
    ) -> None:
        """vzctl: the configured vzctl's path, read at each start (SIGHUP may change it);
        state_of: the container's state word from the host model."""
        self._vzctl = vzctl
        self._records = records
        self._state_of = state_of
        self._sessions: set[_Session] = set()
        self._consoles: dict[int, ConsoleSession] = {}
        self._console_locks: dict[int, asyncio.Lock] = {}
        self._closing = False
        closed = records.close_interrupted()
        if closed:
            log.warning(
                "%d session(s) were open when the daemon stopped; recorded as ended", closed
            )

    @property
    def records(self) -> SessionRecords:
        return self._records

    def _require_running(self, veid: int) -> None:
        self._require_open()
        state = self._state_of(veid)
        if state != "running":
            raise OpenvzError(
                ErrorKind.WRONG_STATE,
                f"container {veid} is {state}, not running; "
                + (
                    "resume it first"
                    if state == "paused"
                    else f"start it first (ovzsh start {veid})"
                ),
            )

    async def _spawn(
        self, argv: list[str], size: TerminalSize | None, environment: dict[str, str]
    ) -> SessionProcess:
        try:
            return await SessionProcess.spawn(argv, size=size, environment=environment)
        except OSError as err:
            raise OpenvzError(
                ErrorKind.TOOL_MISSING,
                f"cannot run {argv[0]}: {err.strerror}; check [tools] vzctl in the configuration",
            ) from None

    def _forget(self, session: _Session) -> None:
        self._sessions.discard(session)
        if isinstance(session, ConsoleSession) and self._consoles.get(session.veid) is session:
            del self._consoles[session.veid]

    async def exec_session(self, veid: int, spec: ExecSpec, caller: Caller) -> ExecSession:
        spec.check()
        self._require_running(veid)
        environment = {"TERM": spec.env["TERM"]} if spec.pty and "TERM" in spec.env else {}
        process = await self._spawn(
            spec.vzctl_argv(self._vzctl(), veid), spec.size if spec.pty else None, environment
        )
        session_id = self._records.begin(spec.kind, veid, caller, spec.argv, spec.pty)
        session = ExecSession(
            spec.kind, process, session_id, veid, caller, self._records, self._forget
        )
        self._sessions.add(session)
        log.info(
            "%s session %s on CT %s by %s: %s",
            spec.kind,
            session_id,
            veid,
            caller.describe(),
            list(spec.argv) or "interactive shell",
            extra={"veid": veid},
        )
        return session

    async def console_session(
        self, veid: int, caller: Caller, *, force: bool = False
    ) -> ConsoleSession:
        self._require_running(veid)
        lock = self._console_locks.setdefault(veid, asyncio.Lock())
        async with lock:
            current = self._consoles.get(veid)
            if current is not None:
                if not force:
                    since = time.strftime("%H:%M:%S", time.localtime(current.started))
                    raise OpenvzError(
                        ErrorKind.BUSY,
                        f"the console of container {veid} is in use by "
                        f"{current.caller.describe()} since {since}; attach with force "
                        "to take it over (as virsh console --force)",
                    )
                await current.detach(f"taken over by {caller.describe()}")
            process = await self._spawn(console_argv(self._vzctl(), veid), CONSOLE_SIZE, {})
            session_id = self._records.begin("console", veid, caller, (), True)
            session = ConsoleSession(
                "console", process, session_id, veid, caller, self._records, self._forget
            )
            self._sessions.add(session)
            self._consoles[veid] = session
        log.info(
            "console session %s on CT %s by %s",
            session_id,
            veid,
            caller.describe(),
            extra={"veid": veid},
        )
        return session

    def _require_open(self) -> None:
        if self._closing:
            raise OpenvzError(
                ErrorKind.INTERRUPTED,
                "openvzd is stopping; start the session again once it is back",
            )

    async def close(self, reason: str = "the daemon stops") -> None:
        """End every session (daemon stop); no new one starts after this."""
        self._closing = True
        for session in list(self._sessions):
            await session.abort(reason)
        self._records.close()
