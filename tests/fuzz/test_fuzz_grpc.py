"""Every method of every service, derived from the descriptors, against the real
daemon (openvzd --simulate on a throwaway sim dir) over the read-write socket:
random bytes as the request, and well-typed nonsense (huge and negative numbers,
NaN, unicode and control characters, broken XML). The answer is never INTERNAL or
UNKNOWN, a unary call never runs into its deadline, and the daemon still serves at
the end. Streams (Watch, Jobs.Wait) get a short deadline: running into it is fine.
Mutating calls may succeed on some inputs; that is fine here."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from google.protobuf.descriptor import Descriptor, FieldDescriptor, MethodDescriptor
from google.protobuf.message_factory import GetMessageClass
from hypothesis import example, given
from hypothesis import strategies as st
from openvz.v1 import common_pb2, domains_pb2, domains_pb2_grpc, jobs_pb2
from openvzd.access import OUR_SERVICES
from openvzd.tour import EXAMPLE_XML

from tests.daemon_process import DaemonProcess, health_serving, running_daemon
from tests.fuzz.profiles import fuzz
from tests.fuzz.strategies import FRAGMENT, HOSTILE_WORDS, mutated
from tests.fuzz.test_fuzz_domxml import DEVICES, xml_with_random_parts

FIRST_ID = 1000  # vzsim populate's
CONTAINERS = 4
SPARE_ID = 5000
UNARY_DEADLINE = 60.0  # far above any answer; reaching it means a hang
STREAM_DEADLINE = 1.5
NEVER = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN}
METHODS: list[tuple[str, MethodDescriptor]] = [
    (f"/{service.full_name}/{method.name}", method)
    for service in OUR_SERVICES
    for method in service.methods
]
IDS = [path for path, _ in METHODS]


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    with running_daemon(tmp_path_factory.mktemp("fuzz-grpc") / "sim") as process:
        process.vzsim(
            "populate", str(process.host_root), "--count", str(CONTAINERS), "--running", "2"
        )
        process.vzsim(
            "populate", str(process.host_root), "--count", "1", "--first-id", str(SPARE_ID)
        )
        with process.channel() as channel:
            stub = domains_pb2_grpc.DomainsStub(channel)
            deadline = time.monotonic() + 60
            while len(stub.List(domains_pb2.ListDomainsRequest(), timeout=10).domains) < 5:
                assert time.monotonic() < deadline, "the monitor never loaded the containers"
                time.sleep(0.2)
        yield process
        assert process.process.poll() is None, process.log()
        assert health_serving(process.rw_socket, timeout=10), process.log()
        # grpc.aio logs every exception that escaped a servicer, even when the
        # client had gone (a stream past its deadline) and saw no status.
        assert "raised by servicer method" not in process.log(), process.log()


@pytest.fixture(scope="module")
def channel(daemon: DaemonProcess) -> Iterator[grpc.Channel]:
    with daemon.channel() as channel:
        yield channel


def outcome(call: Any, request: Any, streaming: bool) -> grpc.StatusCode:
    """The status of one call; for a stream, its replies are read until the end or
    the (short) deadline."""
    try:
        if streaming:
            for _ in call(request, timeout=STREAM_DEADLINE):
                pass
        else:
            call(request, timeout=UNARY_DEADLINE)
    except grpc.RpcError as failure:
        code: grpc.StatusCode = failure.code()
        assert code not in NEVER, (request, code, failure.details())
        if code is grpc.StatusCode.DEADLINE_EXCEEDED and failure.details() == "Deadline Exceeded":
            assert streaming, f"a unary call hung: {request!r}"
        else:
            assert failure.details(), (request, code)
        return code
    return grpc.StatusCode.OK


def raw_call(channel: grpc.Channel, path: str, method: MethodDescriptor) -> Any:
    if method.server_streaming:
        return channel.unary_stream(path)
    return channel.unary_unary(path)


@pytest.mark.parametrize(("path", "method"), METHODS, ids=IDS)
@fuzz(0.1)
@given(payload=st.binary(max_size=120))
@example(payload=b"\xff\xff\xff")  # found: every method answered UNKNOWN (DecodeError)
@example(payload=b"\x0a\x05abc")  # a length prefix longer than the message
@example(payload=b"\x08" + b"\xff" * 10)  # a varint that never ends
def test_random_bytes(
    channel: grpc.Channel, path: str, method: MethodDescriptor, payload: bytes
) -> None:
    outcome(raw_call(channel, path, method), payload, method.server_streaming)


# -- well-typed nonsense -------------------------------------------------------

INT_LIMITS = {
    FieldDescriptor.TYPE_INT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SINT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_INT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SINT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_FIXED32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1),
    FieldDescriptor.TYPE_FIXED64: (0, 2**64 - 1),
}
EXISTING = [str(FIRST_ID + i) for i in range(CONTAINERS)]


def integers(field: FieldDescriptor) -> st.SearchStrategy[int]:
    low, high = INT_LIMITS[field.type]
    edges = [v for v in (low, high, -1, 0, 1, 2, 1023, 1024, 4096, 4097) if low <= v <= high]
    ids = [int(i) for i in EXISTING] if field.name in ("id", "veid", "veids") else []
    return st.one_of(st.sampled_from(edges + ids), st.integers(low, high))


def domain_xml() -> st.SearchStrategy[str]:
    new = EXAMPLE_XML.replace("<name>150</name>", "<name>2000</name>")
    existing = EXAMPLE_XML.replace("<name>150</name>", f"<name>{FIRST_ID}</name>")
    return st.sampled_from([EXAMPLE_XML, new, existing]).flatmap(
        lambda seed: st.one_of(st.just(seed), xml_with_random_parts(seed), mutated(seed))
    )


def strings(field: FieldDescriptor) -> st.SearchStrategy[str]:
    if field.name == "xml":
        return domain_xml()
    if field.name == "device_xml":
        return st.sampled_from(DEVICES).flatmap(
            lambda seed: st.one_of(st.just(seed), xml_with_random_parts(seed), mutated(seed))
        )
    if field.name == "name":
        return st.one_of(st.sampled_from(EXISTING), FRAGMENT)
    if field.name == "hostname":
        return st.one_of(st.just("web.example.com"), FRAGMENT)
    return st.one_of(FRAGMENT, HOSTILE_WORDS)


def values(field: FieldDescriptor, depth: int) -> st.SearchStrategy[Any]:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        return messages(field.message_type, depth + 1)
    if field.type == FieldDescriptor.TYPE_ENUM:
        return st.one_of(
            st.sampled_from([v.number for v in field.enum_type.values]),
            st.integers(-(2**31), 2**31 - 1),  # proto3 enums are open: unknown numbers arrive
        )
    if field.type == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if field.type in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return st.one_of(
            st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 1e-300, 1e308, 0.001]),
            st.floats(allow_nan=True, allow_infinity=True, width=32),
        )
    if field.type == FieldDescriptor.TYPE_STRING:
        return strings(field)
    if field.type == FieldDescriptor.TYPE_BYTES:
        return st.binary(max_size=64)
    return integers(field)


@st.composite
def messages(draw: st.DrawFn, descriptor: Descriptor, depth: int = 0) -> Any:
    """A message of descriptor's type with random fields set; at most one field of
    each oneof, nesting bounded. Half the DomainRefs name a container that exists,
    so that calls get past the lookup to the checks behind it."""
    message = GetMessageClass(descriptor)()
    if depth > 3:
        return message
    if descriptor.full_name == "openvz.v1.DomainRef" and draw(st.booleans()):
        message.id = int(draw(st.sampled_from(EXISTING)))
        return message
    chosen_oneof = {
        oneof.name: draw(st.sampled_from([None, *oneof.fields])) for oneof in descriptor.oneofs
    }
    for field in descriptor.fields:
        oneof = field.containing_oneof
        if oneof is not None and chosen_oneof[oneof.name] is not field:
            continue
        if oneof is None and not draw(st.booleans()):
            continue
        entry = field.message_type
        if entry is not None and entry.GetOptions().map_entry:  # a map<K, V> (ExecStart.env)
            key, value = entry.fields_by_name["key"], entry.fields_by_name["value"]
            getattr(message, field.name).update(
                draw(st.dictionaries(values(key, depth), values(value, depth), max_size=3))
            )
        elif field.is_repeated:
            getattr(message, field.name).extend(draw(st.lists(values(field, depth), max_size=3)))
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            getattr(message, field.name).CopyFrom(draw(values(field, depth)))
        else:
            setattr(message, field.name, draw(values(field, depth)))
    return message


def typed_call(channel: grpc.Channel, path: str, method: MethodDescriptor) -> Any:
    reply = GetMessageClass(method.output_type)
    if method.server_streaming:
        return channel.unary_stream(
            path,
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=reply.FromString,
        )
    return channel.unary_unary(
        path,
        request_serializer=lambda m: m.SerializeToString(),
        response_deserializer=reply.FromString,
    )


@pytest.mark.parametrize(("path", "method"), METHODS, ids=IDS)
@fuzz(0.1)
@given(data=st.data())
def test_well_typed_nonsense(
    channel: grpc.Channel, path: str, method: MethodDescriptor, data: st.DataObject
) -> None:
    request = data.draw(messages(method.input_type), label="request")
    outcome(typed_call(channel, path, method), request, method.server_streaming)


def spare_container() -> common_pb2.DomainRef:
    """A container of the fixture's outside EXISTING, so the random calls leave it be."""
    return common_pb2.DomainRef(id=SPARE_ID)


# Found: a NUL reached vzmigrate's or vzctl's argv (ValueError 'embedded null
# byte' in the job, answered UNKNOWN).
def test_found_migrate_destination_with_nul(channel: grpc.Channel) -> None:
    path = "/openvz.v1.Domains/Migrate"
    request = domains_pb2.MigrateRequest(domain=spare_container(), destination="a\x00b")
    outcome(typed_call(channel, path, METHODS[IDS.index(path)][1]), request, False)


def test_found_password_with_nul(channel: grpc.Channel) -> None:
    path = "/openvz.v1.Domains/SetUserPassword"
    request = domains_pb2.SetUserPasswordRequest(
        domain=spare_container(), user="root", password="a\x00b"
    )
    outcome(typed_call(channel, path, METHODS[IDS.index(path)][1]), request, False)


@pytest.mark.parametrize("timeout", [math.nan, math.inf, -math.inf, -0.0, 1e-300, 1e308])
def test_waiting_on_a_real_job_with_odd_timeouts(channel: grpc.Channel, timeout: float) -> None:
    job = (
        domains_pb2_grpc.DomainsStub(channel)
        .SetAutostart(
            domains_pb2.SetAutostartRequest(
                domain=spare_container(),
                options=common_pb2.JobOptions(no_wait=True),
            ),
            timeout=UNARY_DEADLINE,
        )
        .job
    )
    path = "/openvz.v1.Jobs/Wait"
    request = jobs_pb2.WaitJobRequest(id=job.id, timeout_seconds=timeout)
    code = outcome(typed_call(channel, path, METHODS[IDS.index(path)][1]), request, True)
    if math.isnan(timeout) or timeout < 0:  # found: NaN was taken as "already expired"
        assert code is grpc.StatusCode.INVALID_ARGUMENT
    else:
        assert code in (grpc.StatusCode.OK, grpc.StatusCode.DEADLINE_EXCEEDED)


@pytest.mark.parametrize("timeout", [math.nan, math.inf, -1.0])
def test_a_call_waiting_on_its_job_refuses_odd_wait_timeouts(
    channel: grpc.Channel, timeout: float
) -> None:
    """Found by reading: a NaN (or infinite) wait_timeout_seconds was taken as given."""
    with pytest.raises(grpc.RpcError) as caught:
        domains_pb2_grpc.DomainsStub(channel).SetAutostart(
            domains_pb2.SetAutostartRequest(
                domain=spare_container(),
                options=common_pb2.JobOptions(wait_timeout_seconds=timeout),
            ),
            timeout=UNARY_DEADLINE,
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "wait_timeout_seconds" in (caught.value.details() or "")


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/openvz.v1.Domains/Lookup", grpc.StatusCode.INVALID_ARGUMENT),
        ("/openvz.v1.Jobs/Wait", grpc.StatusCode.INVALID_ARGUMENT),
        ("/openvz.v1.Domains/Define", grpc.StatusCode.PERMISSION_DENIED),
    ],
)
def test_undecodable_requests_on_the_read_only_socket(
    daemon: DaemonProcess, path: str, expected: grpc.StatusCode
) -> None:
    """The read-only check comes first; a read gets the decoder's answer."""
    method = METHODS[IDS.index(path)][1]
    with daemon.channel(read_only=True) as read_only:
        code = outcome(raw_call(read_only, path, method), b"\xff\xff\xff", method.server_streaming)
    assert code is expected
