"""The calls of one openvz.v1 service, made from its descriptor when first used.

This stands in for the generated *_pb2_grpc stubs, which build every method of
a service when constructed and take milliseconds to import: a command line that
makes one call should not pay for all of them. Request and response classes
come from the same generated *_pb2 modules, so nothing is written by hand.
"""

from __future__ import annotations

from typing import Any

from google.protobuf.message_factory import GetMessageClass

SERVICE_MODULES = {
    "Domains": "domains_pb2",
    "Jobs": "jobs_pb2",
    "Host": "host_pb2",
    "Events": "events_pb2",
}


class Service:
    """channel.method(request, timeout=...) for each RPC of openvz.v1.<name>; works with
    grpc.Channel and grpc.aio.Channel alike (both make multi-callables the same way)."""

    def __init__(self, channel: Any, name: str) -> None:
        if name not in SERVICE_MODULES:
            raise ValueError(f"openvz.v1 has no service {name!r}")
        self._name = name
        self._descriptor: Any = None  # the service's module is imported at the first call
        self._channel = channel
        self._calls: dict[str, Any] = {}

    def __getattr__(self, method_name: str) -> Any:
        if method_name.startswith("_"):
            raise AttributeError(method_name)
        call = self._calls.get(method_name)
        if call is None:
            if self._descriptor is None:
                import importlib

                module = importlib.import_module(f"openvz.v1.{SERVICE_MODULES[self._name]}")
                self._descriptor = module.DESCRIPTOR.services_by_name[self._name]
            method = self._descriptor.methods_by_name.get(method_name)
            if method is None:
                raise AttributeError(f"{self._descriptor.full_name} has no method {method_name}")
            streams = method.server_streaming
            make = self._channel.unary_stream if streams else self._channel.unary_unary
            call = make(
                f"/{self._descriptor.full_name}/{method_name}",
                request_serializer=GetMessageClass(method.input_type).SerializeToString,
                response_deserializer=GetMessageClass(method.output_type).FromString,
                _registered_method=True,
            )
            self._calls[method_name] = call
        return call
