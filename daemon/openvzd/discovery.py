"""How an outside gRPC client finds its way: server reflection (v1 and v1alpha) and
the health service, which reports the server ("") and each openvz.v1 service by name.

grpcio-reflection ships only v1alpha's servicer. v1's protocol is the same messages
under another package (grpc.reflection.v1), so the one servicer answers both: v1's
file descriptor is v1alpha's with the package renamed, added to the default pool so
that `grpcurl describe grpc.reflection.v1.ServerReflection` works too.
"""

from __future__ import annotations

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool
from grpc_health.v1 import health, health_pb2
from grpc_reflection.v1alpha import reflection, reflection_pb2
from openvz.v1 import domains_pb2, events_pb2, host_pb2, jobs_pb2

V1ALPHA_PACKAGE = "grpc.reflection.v1alpha"
V1_PACKAGE = "grpc.reflection.v1"
V1_SERVICE_NAME = f"{V1_PACKAGE}.ServerReflection"
V1_FILE = "grpc/reflection/v1/reflection.proto"

OPENVZ_SERVICE_NAMES = (
    domains_pb2.DESCRIPTOR.services_by_name["Domains"].full_name,
    jobs_pb2.DESCRIPTOR.services_by_name["Jobs"].full_name,
    events_pb2.DESCRIPTOR.services_by_name["Events"].full_name,
    host_pb2.DESCRIPTOR.services_by_name["Host"].full_name,
)
SERVICE_NAMES = (
    *OPENVZ_SERVICE_NAMES,
    health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
    reflection.SERVICE_NAME,
    V1_SERVICE_NAME,
)


def _add_v1_descriptor() -> None:
    """Put grpc/reflection/v1/reflection.proto in the default pool (once per process)."""
    pool = descriptor_pool.Default()
    try:
        pool.FindFileByName(V1_FILE)
        return
    except KeyError:
        pass
    proto = descriptor_pb2.FileDescriptorProto()
    reflection_pb2.DESCRIPTOR.CopyToProto(proto)
    proto.name = V1_FILE
    proto.package = V1_PACKAGE
    proto.ClearField("options")
    old, new = f".{V1ALPHA_PACKAGE}.", f".{V1_PACKAGE}."
    for message in proto.message_type:
        for field in message.field:
            if field.HasField("type_name"):
                field.type_name = field.type_name.replace(old, new)
    for service in proto.service:
        for method in service.method:
            method.input_type = method.input_type.replace(old, new)
            method.output_type = method.output_type.replace(old, new)
    pool.Add(proto)


def enable_reflection(server: grpc.aio.Server) -> None:
    """Reflection under both names, from one servicer (the messages are wire-identical)."""
    _add_v1_descriptor()
    servicer = reflection.aio.ReflectionServicer(SERVICE_NAMES)
    stream = grpc.stream_stream_rpc_method_handler(
        servicer.ServerReflectionInfo,
        request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
        response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString,
    )
    server.add_generic_rpc_handlers(
        tuple(
            grpc.method_handlers_generic_handler(name, {"ServerReflectionInfo": stream})
            for name in (reflection.SERVICE_NAME, V1_SERVICE_NAME)
        )
    )


async def set_serving(servicer: health.aio.HealthServicer) -> None:
    """SERVING for the server as a whole ("") and for each openvz.v1 service."""
    for name in ("", *OPENVZ_SERVICE_NAMES):
        await servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
