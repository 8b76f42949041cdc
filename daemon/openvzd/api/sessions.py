"""Domains.Exec and Domains.Console: decode, authorize (read-write servers only:
neither method is declared a read), start the session through the facade, then
move frames both ways until one side ends.

Each call runs two tasks: this one sends the session's output (one frame at a
time: a write awaits the client, and only then is the next chunk read from the
process), and a feeder that passes the client's requests on. Whatever ends the
call (the command's exit, a detach, the client going away, a bad request), the
session is ended in `finally`, which kills and reaps its process group.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
from google.protobuf.message import DecodeError
from openvz.v1 import common_pb2, domains_pb2

from openvzd.api.errors import abort
from openvzd.core.errors import ErrorKind, OpenvzError
from openvzd.core.facade import SessionFacade
from openvzd.identity import caller_of
from openvzd.sessions import ConsoleSession, ExecSession, ExecSpec, TerminalSize
from openvzd.sessions.pump import pump_output

Context = grpc.aio.ServicerContext[Any, Any]
CLIENT_LEFT = "the client went away"


def _size(message: domains_pb2.TerminalSize) -> TerminalSize:
    return TerminalSize(message.rows or 24, message.columns or 80)


class SessionCalls:
    """The two streaming calls; DomainsService delegates Exec and Console here."""

    def __init__(
        self, sessions: SessionFacade, resolve: Callable[[common_pb2.DomainRef], int]
    ) -> None:
        self._sessions = sessions
        self._resolve = resolve

    async def _first(self, requests: AsyncIterator[Any], expected: str, context: Context) -> Any:
        try:
            first = await anext(requests, None)
        except OpenvzError as err:
            await abort(context, err)
        if first is None or first.WhichOneof("message") != expected:
            await abort(
                context,
                OpenvzError(
                    ErrorKind.BAD_ARGUMENT,
                    f"the first message of this call must be `{expected}`, which names the "
                    "container",
                ),
            )
        return getattr(first, expected)

    async def exec(self, request_iterator: Any, context: Context) -> None:
        requests = _decoded(request_iterator, "ExecRequest")
        start: domains_pb2.ExecStart = await self._first(requests, "start", context)
        spec = ExecSpec(
            argv=tuple(start.argv),
            env=dict(start.env),
            cwd=start.cwd,
            pty=start.pty,
            size=_size(start.size),
        )
        try:
            veid = self._resolve(start.domain)
            session = await self._sessions.exec_session(veid, spec, caller_of(context))
        except OpenvzError as err:
            await abort(context, err)
        try:
            await context.write(
                domains_pb2.ExecReply(started=domains_pb2.ExecStarted(session_id=session.id))
            )
            failure = await pump_output(
                session.next_output,
                lambda frame: context.write(_exec_frame(frame)),
                _feed_exec(requests, session),
            )
            if failure is not None:
                await session.abort(f"refused request: {failure.message}")
                await abort(context, failure)
            status = await session.finish()
            ended = domains_pb2.ExecExit(status=status, reason=session.reason)
            await context.write(domains_pb2.ExecReply(exit=ended))
        finally:
            await session.abort(CLIENT_LEFT)

    async def console(self, request_iterator: Any, context: Context) -> None:
        requests = _decoded(request_iterator, "ConsoleRequest")
        attach: domains_pb2.ConsoleAttach = await self._first(requests, "attach", context)
        try:
            veid = self._resolve(attach.domain)
            session = await self._sessions.console_session(
                veid, caller_of(context), force=attach.force
            )
        except OpenvzError as err:
            await abort(context, err)
        try:
            await context.write(
                domains_pb2.ConsoleReply(
                    attached=domains_pb2.ConsoleAttached(session_id=session.id)
                )
            )
            failure = await pump_output(
                session.next_output,
                lambda data: context.write(domains_pb2.ConsoleReply(output=data)),
                _feed_console(requests, session),
            )
            if failure is not None:
                await session.abort(f"refused request: {failure.message}")
                await abort(context, failure)
            await session.finish()
            await context.write(
                domains_pb2.ConsoleReply(
                    detached=domains_pb2.ConsoleDetached(reason=session.reason)
                )
            )
        finally:
            await session.abort(CLIENT_LEFT)


async def _decoded(request_iterator: Any, message: str) -> AsyncIterator[Any]:
    """The requests; one that is not the method's message ends the call as a refusal
    (grpc.aio decodes a stream's requests as they are read, so the failure shows here)."""
    try:
        async for request in request_iterator:
            yield request
    except DecodeError as err:
        raise OpenvzError(
            ErrorKind.BAD_ARGUMENT,
            f"a request is not a {message} protobuf message ({err}); "
            "send the messages the method's .proto declares",
        ) from None


def _exec_frame(frame: tuple[str, bytes]) -> domains_pb2.ExecReply:
    stream, data = frame
    if stream == "stderr":
        return domains_pb2.ExecReply(stderr=data)
    return domains_pb2.ExecReply(stdout=data)


async def _feed_exec(requests: AsyncIterator[Any], session: ExecSession) -> None:
    async for request in requests:
        which = request.WhichOneof("message")
        if which == "stdin":
            await session.write(request.stdin)  # dropped once the command stopped reading
        elif which == "resize":
            session.resize(_size(request.resize))
        elif which == "signal":
            session.signal(request.signal)
        elif which == "stdin_eof":
            await session.close_stdin()
        else:
            raise OpenvzError(
                ErrorKind.BAD_ARGUMENT,
                f"`{which or 'an empty message'}` cannot come after start; "
                "send stdin, resize, signal or stdin_eof",
            )
    await session.close_stdin()


async def _feed_console(requests: AsyncIterator[Any], session: ConsoleSession) -> None:
    async for request in requests:
        which = request.WhichOneof("message")
        if which == "input":
            await session.write(request.input)
        elif which == "detach":
            await session.detach()
            return
        else:
            raise OpenvzError(
                ErrorKind.BAD_ARGUMENT,
                f"`{which or 'an empty message'}` cannot come after attach; send input or detach",
            )
    await session.detach()
