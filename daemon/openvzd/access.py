"""Who may call what.

Each access level has its own server object (gRPC gives a servicer no peer
identity on a unix socket), and a read-only server refuses every method that
the wire contract does not mark `option (access) = ACCESS_READ`. The rule is
read from the service descriptors, so a new RPC is mutating until it is
explicitly declared a read.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import grpc
from google.protobuf import descriptor_pool
from google.protobuf.descriptor import ServiceDescriptor
from openvz.v1 import common_pb2, domains_pb2, events_pb2, host_pb2, jobs_pb2

# Services of ours, by their descriptors; importing the modules registers them.
OUR_SERVICES: tuple[ServiceDescriptor, ...] = (
    domains_pb2.DESCRIPTOR.services_by_name["Domains"],
    jobs_pb2.DESCRIPTOR.services_by_name["Jobs"],
    events_pb2.DESCRIPTOR.services_by_name["Events"],
    host_pb2.DESCRIPTOR.services_by_name["Host"],
)

# Standard services that only read: the health check and server reflection.
STANDARD_READ_SERVICES = frozenset(
    {
        "grpc.health.v1.Health",
        "grpc.reflection.v1alpha.ServerReflection",
        "grpc.reflection.v1.ServerReflection",
    }
)


class Level(enum.Enum):
    READ_ONLY = "ro"
    READ_WRITE = "rw"


def method_access(full_method: str) -> int:
    """The declared access of '/pkg.Service/Method'; ACCESS_UNSPECIFIED if unknown."""
    service_name, _, method_name = full_method.lstrip("/").partition("/")
    if service_name in STANDARD_READ_SERVICES:
        return common_pb2.ACCESS_READ
    try:
        service = descriptor_pool.Default().FindServiceByName(service_name)
    except KeyError:
        return common_pb2.ACCESS_UNSPECIFIED
    method = service.methods_by_name.get(method_name)
    if method is None:
        return common_pb2.ACCESS_UNSPECIFIED
    return int(method.GetOptions().Extensions[common_pb2.access])


def is_read(full_method: str) -> bool:
    return method_access(full_method) == common_pb2.ACCESS_READ


def all_methods(services: Iterable[ServiceDescriptor] = OUR_SERVICES) -> list[str]:
    """Every '/pkg.Service/Method' of the given services."""
    return [f"/{s.full_name}/{m.name}" for s in services for m in s.methods]


class ReadOnlyInterceptor(grpc.aio.ServerInterceptor):
    """Refuses, with PERMISSION_DENIED, every method not declared a read."""

    def __init__(self, why: str) -> None:
        self._why = why
        self._decisions: dict[str, bool] = {}

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        method: str = handler_call_details.method
        allowed = self._decisions.get(method)
        if allowed is None:
            allowed = self._decisions[method] = is_read(method)
        if allowed:
            return await continuation(handler_call_details)
        return _refusal(method, self._why)


def _refusal(method: str, why: str) -> grpc.RpcMethodHandler[Any, Any]:
    message = f"{method} changes the host and this connection is read-only ({why})"

    async def deny_unary(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        await context.abort(grpc.StatusCode.PERMISSION_DENIED, message)

    async def deny_stream(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        await context.abort(grpc.StatusCode.PERMISSION_DENIED, message)
        yield  # pragma: no cover - makes this an async generator

    # The request is never read, so bytes in and out is enough for any method shape.
    if _is_server_streaming(method):
        return grpc.unary_stream_rpc_method_handler(deny_stream)
    return grpc.unary_unary_rpc_method_handler(deny_unary)


def _is_server_streaming(full_method: str) -> bool:
    service_name, _, method_name = full_method.lstrip("/").partition("/")
    try:
        service = descriptor_pool.Default().FindServiceByName(service_name)
    except KeyError:
        return False
    method = service.methods_by_name.get(method_name)
    return bool(method and method.server_streaming)
