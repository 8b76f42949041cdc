"""The error classes and the URI parser: pure functions, checked against the
daemon's own tables where the two must agree."""

from __future__ import annotations

from pathlib import Path

import grpc
import openvz
import pytest
from openvz.errors import (
    ERROR_BY_CODE,
    STATUS_BY_JOB_ERROR_KIND,
    error_for_code,
    job_error,
    unreachable_message,
)
from openvz.uri import parse_uri
from openvz.v1 import common_pb2
from openvzd.api.errors import STATUS_BY_KIND
from openvzd.core.errors import ErrorKind

EXPECTED_CLASS = {
    "CANCELLED": openvz.Cancelled,
    "UNKNOWN": openvz.InternalError,
    "INVALID_ARGUMENT": openvz.InvalidArgument,
    "DEADLINE_EXCEEDED": openvz.Timeout,
    "NOT_FOUND": openvz.NotFound,
    "ALREADY_EXISTS": openvz.AlreadyExists,
    "PERMISSION_DENIED": openvz.PermissionDenied,
    "RESOURCE_EXHAUSTED": openvz.Busy,
    "FAILED_PRECONDITION": openvz.WrongState,
    "ABORTED": openvz.Busy,
    "OUT_OF_RANGE": openvz.InvalidArgument,
    "UNIMPLEMENTED": openvz.NotSupported,
    "INTERNAL": openvz.InternalError,
    "UNAVAILABLE": openvz.Unavailable,
    "DATA_LOSS": openvz.InternalError,
    "UNAUTHENTICATED": openvz.AuthenticationFailed,
}


@pytest.mark.parametrize("code", [c for c in grpc.StatusCode if c is not grpc.StatusCode.OK])
def test_every_status_code_has_its_own_error_class(code: grpc.StatusCode) -> None:
    error = error_for_code(code, "what the daemon said", "job-1")
    assert type(error) is EXPECTED_CLASS[code.name]
    assert type(error) is not openvz.Error
    assert (error.message, error.code, error.job_id) == ("what the daemon said", code, "job-1")
    assert str(error) == "what the daemon said"


def test_the_job_error_table_is_the_daemons() -> None:
    assert {kind.name: code for kind, code in STATUS_BY_KIND.items()} == STATUS_BY_JOB_ERROR_KIND
    assert set(ERROR_BY_CODE) == set(grpc.StatusCode) - {grpc.StatusCode.OK}


@pytest.mark.parametrize(
    "kind",
    [k for k in common_pb2.ErrorKind.keys() if k != "ERROR_KIND_UNSPECIFIED"],  # noqa: SIM118
)
def test_every_job_error_kind_maps_like_a_call_would(kind: str) -> None:
    job = common_pb2.Job(
        id="j1",
        operation="start",
        state=common_pb2.JOB_STATE_FAILED,
        error=common_pb2.JobError(kind=common_pb2.ErrorKind.Value(kind), message="vzctl said no"),
    )
    error = job_error(job)
    code = STATUS_BY_KIND[ErrorKind[kind.removeprefix("ERROR_KIND_")]]
    assert type(error) is EXPECTED_CLASS[code.name]
    assert (error.code, error.job_id, error.message) == (code, "j1", "vzctl said no")


def test_a_cancelled_job_is_cancelled_even_without_an_error_kind() -> None:
    job = common_pb2.Job(id="j2", operation="migrate", state=common_pb2.JOB_STATE_CANCELLED)
    error = job_error(job)
    assert isinstance(error, openvz.Cancelled)
    assert error.message == "job j2 (migrate) ended without success"


def test_unreachable_messages_say_what_to_do(tmp_path: Path) -> None:
    missing = unreachable_message(f"unix:{tmp_path}/openvzd.sock", "connect failed")
    assert f"no socket {tmp_path}/openvzd.sock" in missing
    assert "systemctl start openvzd" in missing and "openvzd --simulate DIR" in missing
    (tmp_path / "stale.sock").touch()
    stale = unreachable_message(f"unix:{tmp_path}/stale.sock", "Connection refused")
    assert f"nothing listens on {tmp_path}/stale.sock" in stale
    remote = unreachable_message("openvz://vz1.example/system", "DNS resolution failed")
    assert remote == "cannot reach openvzd at openvz://vz1.example/system: DNS resolution failed"


# -- URIs ---------------------------------------------------------------------------------


def test_local_uris(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENVZ_DEFAULT_URI", raising=False)
    for text in ("openvz:///system", "openvz+unix:///system", None, ""):
        uri = parse_uri(text)
        assert (uri.transport, uri.host, uri.read_only) == ("unix", None, False)
        assert str(uri.socket_path(False)) == "/run/openvzd/openvzd.sock"
        assert str(uri.socket_path(True)) == "/run/openvzd/openvzd-ro.sock"
    assert parse_uri(None).text == "openvz:///system"


def test_socket_and_readonly_parameters() -> None:
    uri = parse_uri("openvz+unix:///system?socket=/tmp/x/openvzd.sock&readonly")
    assert uri.read_only
    assert str(uri.socket_path(False)) == "/tmp/x/openvzd.sock"
    assert str(uri.socket_path(True)) == "/tmp/x/openvzd-ro.sock"
    given_ro = parse_uri("openvz:///system?socket=/tmp/x/mine-ro.sock")
    assert str(given_ro.socket_path(True)) == "/tmp/x/mine-ro.sock"
    for off in ("0", "no", "false", "off"):
        assert not parse_uri(f"openvz:///system?readonly={off}").read_only
    relative = parse_uri("openvz+unix:///system?socket=run/sim/run/openvzd.sock")
    assert str(relative.socket_path(False)) == "run/sim/run/openvzd.sock"  # as README shows
    with pytest.raises(openvz.InvalidArgument, match="needs the socket's path"):
        parse_uri("openvz:///system?socket=")


def test_default_uri_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENVZ_DEFAULT_URI", "openvz+ssh://root@vz2.example:2222/system")
    uri = parse_uri(None)
    assert (uri.transport, uri.user, uri.host, uri.port) == ("ssh", "root", "vz2.example", 2222)


@pytest.mark.parametrize(
    ("text", "transport", "user", "host", "port", "params"),
    [
        ("openvz://vz1.example/system", "tls", None, "vz1.example", None, {}),
        (
            "openvz+tls://vz1.example:16514/system?pkipath=/etc/pki/x&no_verify=1",
            "tls",
            None,
            "vz1.example",
            16514,
            {"pkipath": "/etc/pki/x", "no_verify": "1"},
        ),
        (
            "openvz+tcp://alice@vz1.example/system?auth=sasl.scram-sha-256&service=openvz",
            "tcp",
            "alice",
            "vz1.example",
            None,
            {"auth": "sasl.scram-sha-256", "service": "openvz"},
        ),
        (
            "openvz+ssh://root@[::1]:2222/system?keyfile=/k&known_hosts=/kh"
            "&known_hosts_verify=ignore&command=openvzd-ssh-helper&socket=/run/x.sock",
            "ssh",
            "root",
            "::1",
            2222,
            {
                "keyfile": "/k",
                "known_hosts": "/kh",
                "known_hosts_verify": "ignore",
                "command": "openvzd-ssh-helper",
                "socket": "/run/x.sock",
            },
        ),
    ],
)
def test_remote_uris_keep_libvirts_parameters(
    text: str, transport: str, user: str | None, host: str, port: int | None, params: dict[str, str]
) -> None:
    uri = parse_uri(text)
    assert (uri.transport, uri.user, uri.host, uri.port, uri.params) == (
        transport,
        user,
        host,
        port,
        params,
    )


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("openvz+unix://vz1.example/system", "takes no host name"),
        ("qemu:///system", "not an openvz URI"),
        ("openvz+carrier-pigeon:///system", "unknown transport"),
        ("openvz:///session", "must be /system"),
        ("openvz://vz1.example:port/system", "the port must be a number"),
    ],
)
def test_bad_uris_say_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(openvz.InvalidArgument, match=says):
        parse_uri(text)
