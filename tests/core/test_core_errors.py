"""One error vocabulary: ErrorKind's members are exactly common.proto's
ErrorKind names, each has one gRPC status, and the runner's secret marker is the
core's."""

from __future__ import annotations

import grpc
from openvz.v1 import common_pb2
from openvzd.api.errors import STATUS_BY_KIND, proto_kind
from openvzd.core.secret import MARKER
from openvzd.vz.errors import ErrorKind
from openvzd.vz.runner import SECRET_MARKER


def test_every_kind_has_a_status_and_a_wire_value_and_back() -> None:
    wire = {name.removeprefix("ERROR_KIND_") for name in common_pb2.ErrorKind.keys()}  # noqa: SIM118
    assert {kind.name for kind in ErrorKind} == wire - {"UNSPECIFIED"}
    assert set(STATUS_BY_KIND) == set(ErrorKind)
    for kind in ErrorKind:
        assert common_pb2.ErrorKind.Name(proto_kind(kind)) == f"ERROR_KIND_{kind.name}"
        assert STATUS_BY_KIND[kind] is not grpc.StatusCode.OK
    assert "CANCELLED" in wire and "INTERRUPTED" in wire


def test_the_runner_hides_secrets_with_the_cores_marker() -> None:
    assert SECRET_MARKER == MARKER
