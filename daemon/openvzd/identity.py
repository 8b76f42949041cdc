"""Who the caller of a gRPC call is: `caller_of(context) -> Caller`.

PROVISIONAL: this is the core helper's stand-in with the final signature, so
that jobs record a caller now; the access helper's identity.py (peer
credentials on the unix sockets, SASL users, ssh users) replaces it at merge.
It knows only what the server a call arrived on says (the transport and
whether it is the read-only one, set per server by CallerInterceptor) and, over
TLS, the certificate's subject DN from the call's auth context.
"""

from __future__ import annotations

import contextvars
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc

from openvzd.core.caller import Caller

_SERVER_CALLER: contextvars.ContextVar[Caller | None] = contextvars.ContextVar(
    "openvzd_server_caller", default=None
)


def caller_of(context: grpc.aio.ServicerContext[Any, Any]) -> Caller:
    caller = _SERVER_CALLER.get() or Caller("unix")
    subjects = list(context.auth_context().get("x509_subject") or ())
    if subjects:
        return Caller("tls", name=subjects[0].decode(errors="replace"), read_only=False)
    return caller


class CallerInterceptor(grpc.aio.ServerInterceptor):
    """Tells caller_of, for every call of its server, the transport and level."""

    def __init__(self, transport: str, read_only: bool) -> None:
        self._caller = Caller(transport, read_only=read_only)

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = await continuation(handler_call_details)
        if handler is None or handler.request_streaming:
            return handler
        caller = self._caller
        options = {
            "request_deserializer": handler.request_deserializer,
            "response_serializer": handler.response_serializer,
        }
        if handler.response_streaming:
            stream: Any = handler.unary_stream
            if not inspect.isasyncgenfunction(stream):
                # A stream written with context.write() (Health.Watch) needs no caller.
                return handler

            async def yielded(request: Any, context: Any) -> AsyncIterator[Any]:
                _SERVER_CALLER.set(caller)
                async for reply in stream(request, context):
                    yield reply

            return grpc.unary_stream_rpc_method_handler(yielded, **options)
        unary: Any = handler.unary_unary

        async def reply(request: Any, context: Any) -> Any:
            _SERVER_CALLER.set(caller)
            result = unary(request, context)
            return await result if isinstance(result, Awaitable) else result

        return grpc.unary_unary_rpc_method_handler(reply, **options)
