"""The one table from error kinds to gRPC status codes.

Every failure the daemon reports, whether a tool's exit code or a refused
request, reaches the client through this table, with the message that says
what to do. INTERNAL is reserved for faults of the daemon itself; a tool that
fails in a way we cannot classify is UNKNOWN, with the tool's own words.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn

import grpc
from google.protobuf.message import DecodeError
from openvz.v1 import common_pb2

STATUS_BY_KIND: dict[str, grpc.StatusCode] = {
    "NOT_FOUND": grpc.StatusCode.NOT_FOUND,
    "WRONG_STATE": grpc.StatusCode.FAILED_PRECONDITION,
    "ALREADY_EXISTS": grpc.StatusCode.ALREADY_EXISTS,
    "BUSY": grpc.StatusCode.ABORTED,
    "BAD_ARGUMENT": grpc.StatusCode.INVALID_ARGUMENT,
    "RESOURCE_EXHAUSTED": grpc.StatusCode.RESOURCE_EXHAUSTED,
    "TOOL_MISSING": grpc.StatusCode.FAILED_PRECONDITION,
    "TIMED_OUT": grpc.StatusCode.DEADLINE_EXCEEDED,
    "INTERNAL": grpc.StatusCode.UNKNOWN,
    "CANCELLED": grpc.StatusCode.CANCELLED,
    "INTERRUPTED": grpc.StatusCode.ABORTED,
    "NOT_SUPPORTED": grpc.StatusCode.UNIMPLEMENTED,
}


def kind_name(kind: object) -> str:
    """An error kind given as an enum member or a string, as its name."""
    name = getattr(kind, "name", kind)
    return str(name)


def status_for(kind: object) -> grpc.StatusCode:
    return STATUS_BY_KIND.get(kind_name(kind), grpc.StatusCode.UNKNOWN)


def proto_kind(kind: object) -> int:
    """The wire ErrorKind of an error kind; UNSPECIFIED for one the wire does not know."""
    try:
        return int(common_pb2.ErrorKind.Value(f"ERROR_KIND_{kind_name(kind)}"))
    except ValueError:
        return common_pb2.ERROR_KIND_UNSPECIFIED


class ApiError(Exception):
    """A refusal the servicer answers with a status: raise it anywhere below a handler."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


async def abort(
    context: grpc.aio.ServicerContext[Any, Any], kind: object, message: str
) -> NoReturn:
    await context.abort(status_for(kind), message)
    raise AssertionError("unreachable: context.abort raises")  # pragma: no cover


class RequestDecoder(grpc.aio.ServerInterceptor):
    """Answers a request that is not the method's message with INVALID_ARGUMENT.

    grpc.aio decodes the request before the servicer runs and answers a
    DecodeError with UNKNOWN (and a traceback in the log); here the handler gets
    the raw bytes and decodes them itself. Methods with a request stream (only
    server reflection) are left as they are.
    """

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = await continuation(handler_call_details)
        if handler is None or handler.request_streaming or handler.request_deserializer is None:
            return handler
        return _decoding(handler, handler_call_details.method)


def _decoding(
    handler: grpc.RpcMethodHandler[Any, Any], method: str
) -> grpc.RpcMethodHandler[Any, Any]:
    decode = handler.request_deserializer
    assert decode is not None

    async def decoded(raw: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        try:
            return decode(raw)
        except DecodeError as err:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"the request to {method} is not its protobuf message ({err}); "
                "send the message the method's .proto declares",
            )

    if handler.response_streaming:
        stream: Any = handler.unary_stream  # typed as the sync API's; here it is async

        async def yielded(raw: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            async for reply in stream(await decoded(raw, context), context):
                yield reply

        async def written(raw: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            return await stream(await decoded(raw, context), context)  # context.write() API

        if inspect.isasyncgenfunction(stream):
            return grpc.unary_stream_rpc_method_handler(
                yielded, response_serializer=handler.response_serializer
            )
        if inspect.iscoroutinefunction(stream):
            return grpc.unary_stream_rpc_method_handler(
                written, response_serializer=handler.response_serializer
            )
        return handler
    unary: Any = handler.unary_unary
    if not inspect.iscoroutinefunction(unary):
        return handler

    async def reply(raw: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        return await unary(await decoded(raw, context), context)

    return grpc.unary_unary_rpc_method_handler(
        reply, response_serializer=handler.response_serializer
    )
