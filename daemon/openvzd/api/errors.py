"""Errors to gRPC statuses, in one place.

Every failure the daemon reports, whether a tool's exit code or a refused
request, is an OpenvzError raised below a servicer; the ErrorStatus interceptor
answers it with the status of its kind and its message, which says what to do.
INTERNAL (a fault of the daemon, or a tool failing in a way we cannot
classify) is UNKNOWN, with the tool's own words. The table is keyed by the
ErrorKind enum, and a test checks that every kind has a status and a wire value.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from google.protobuf.message import DecodeError
from openvz.v1 import common_pb2

from openvzd.core.errors import ErrorKind, OpenvzError

STATUS_BY_KIND: dict[ErrorKind, grpc.StatusCode] = {
    ErrorKind.NOT_FOUND: grpc.StatusCode.NOT_FOUND,
    ErrorKind.WRONG_STATE: grpc.StatusCode.FAILED_PRECONDITION,
    ErrorKind.ALREADY_EXISTS: grpc.StatusCode.ALREADY_EXISTS,
    ErrorKind.BUSY: grpc.StatusCode.ABORTED,
    ErrorKind.BAD_ARGUMENT: grpc.StatusCode.INVALID_ARGUMENT,
    ErrorKind.RESOURCE_EXHAUSTED: grpc.StatusCode.RESOURCE_EXHAUSTED,
    ErrorKind.TOOL_MISSING: grpc.StatusCode.FAILED_PRECONDITION,
    ErrorKind.TIMED_OUT: grpc.StatusCode.DEADLINE_EXCEEDED,
    ErrorKind.INTERNAL: grpc.StatusCode.UNKNOWN,
    ErrorKind.CANCELLED: grpc.StatusCode.CANCELLED,
    ErrorKind.INTERRUPTED: grpc.StatusCode.ABORTED,
    ErrorKind.NOT_SUPPORTED: grpc.StatusCode.UNIMPLEMENTED,
}


def proto_kind(kind: ErrorKind) -> common_pb2.ErrorKind.ValueType:
    """The wire ErrorKind of an error kind (the names are the same)."""
    return common_pb2.ErrorKind.Value(f"ERROR_KIND_{kind.name}")


class ErrorStatus(grpc.aio.ServerInterceptor):
    """Answers an OpenvzError raised by any handler with its kind's status."""

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
        return _mapping_errors(handler)


async def _abort(context: grpc.aio.ServicerContext[Any, Any], err: OpenvzError) -> None:
    await context.abort(STATUS_BY_KIND[err.kind], err.message)


def _mapping_errors(handler: grpc.RpcMethodHandler[Any, Any]) -> grpc.RpcMethodHandler[Any, Any]:
    options = {
        "request_deserializer": handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    if handler.response_streaming:
        stream: Any = handler.unary_stream
        if not inspect.isasyncgenfunction(stream):
            return handler

        async def yielded(
            request: Any, context: grpc.aio.ServicerContext[Any, Any]
        ) -> AsyncIterator[Any]:
            try:
                async for reply in stream(request, context):
                    yield reply
            except OpenvzError as err:
                await _abort(context, err)

        return grpc.unary_stream_rpc_method_handler(yielded, **options)
    unary: Any = handler.unary_unary
    if not inspect.iscoroutinefunction(unary):
        return handler

    async def reply(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        try:
            return await unary(request, context)
        except OpenvzError as err:
            await _abort(context, err)

    return grpc.unary_unary_rpc_method_handler(reply, **options)


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
