"""The read-only rule comes from the wire contract, not from a list kept by hand."""

from __future__ import annotations

from openvz.v1 import common_pb2
from openvzd.access import OUR_SERVICES, all_methods, is_read, method_access


def test_every_method_declares_or_defaults_to_write() -> None:
    methods = all_methods()
    assert len(methods) > 30
    for method in methods:
        assert method_access(method) in (common_pb2.ACCESS_READ, common_pb2.ACCESS_UNSPECIFIED)


def test_methods_that_answer_with_a_job_are_never_reads() -> None:
    for service in OUR_SERVICES:
        for method in service.methods:
            if method.output_type.full_name == "openvz.v1.JobReply":
                assert not is_read(f"/{service.full_name}/{method.name}"), method.full_name


def test_unknown_methods_are_not_reads() -> None:
    assert not is_read("/openvz.v1.Domains/NoSuchMethod")
    assert not is_read("/no.such.Service/Get")
    assert is_read("/grpc.health.v1.Health/Check")
    assert is_read("/openvz.v1.Domains/List")
    assert not is_read("/openvz.v1.Jobs/Cancel")
