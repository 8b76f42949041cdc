"""Faults through the real daemon: each vzctl exit code, a missing vzctl, a
vzctl killed half-way through a config write, a vzctl that hangs past its
timeout, and a disk that fills up under the daemon's own config write."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from openvz.v1 import common_pb2, domains_pb2, domains_pb2_grpc, host_pb2, host_pb2_grpc

from tests.daemon_process import DaemonProcess, running_daemon, start_daemon
from tests.proof.records import journal_jobs, reconcile, set_knobs, tool_runs
from tests.proof.sim import prepare_host

# vzctl exit code -> the status a client gets (openvz-tools.md §1.8 through api/errors.py).
CODES = {
    5: grpc.StatusCode.FAILED_PRECONDITION,
    14: grpc.StatusCode.NOT_FOUND,
    31: grpc.StatusCode.FAILED_PRECONDITION,
    32: grpc.StatusCode.FAILED_PRECONDITION,
    43: grpc.StatusCode.NOT_FOUND,
    46: grpc.StatusCode.RESOURCE_EXHAUSTED,
    78: grpc.StatusCode.ALREADY_EXISTS,
    79: grpc.StatusCode.UNKNOWN,
    82: grpc.StatusCode.NOT_FOUND,
    91: grpc.StatusCode.NOT_FOUND,
    105: grpc.StatusCode.FAILED_PRECONDITION,
    130: grpc.StatusCode.NOT_FOUND,
}


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    with running_daemon(tmp_path_factory.mktemp("faults") / "sim") as process:
        process.vzsim("populate", str(process.host_root), "--count", "3", "--first-id", "500")
        time.sleep(2.5)
        yield process


def _knobs(daemon: DaemonProcess, knobs: dict[str, object]) -> None:
    set_knobs(daemon.host_root, knobs)


def _start(daemon: DaemonProcess, veid: int) -> grpc.RpcError:
    with daemon.channel() as channel:
        stub = domains_pb2_grpc.DomainsStub(channel)
        with pytest.raises(grpc.RpcError) as caught:
            stub.Start(domains_pb2.DomainCall(domain=common_pb2.DomainRef(id=veid)), timeout=30)
    return caught.value


@pytest.mark.parametrize(("code", "status"), sorted(CODES.items()))
def test_each_exit_code_becomes_a_status_with_the_tools_message(
    daemon: DaemonProcess, code: int, status: grpc.StatusCode
) -> None:
    _knobs(daemon, {"faults": [{"command": "start", "count": 1, "exit": code}]})
    error = _start(daemon, 500)
    assert error.code() == status  # type: ignore[attr-defined]
    details = error.details() or ""  # type: ignore[attr-defined]
    assert f"exit code {code}" in details and "injected failure" in details


# Every code of openvz-tools.md §1.8 (legacy vzctl's include/vzerror.h) but 0.
DOCUMENTED_EXIT_CODES = [
    *(1, 2, 3, *range(5, 19), 20, 21, 22, 23, 24, 27, 28, 29, *range(31, 37), 40, 41),
    *(43, 44, *range(46, 56), *range(60, 69), *range(70, 75), 77, 78, 79, 82, 85, 86, 87, 89, 91),
    *(99, 100, 104, *range(105, 110), 128, 129, 130, 131, 133, 139, 144, 148, 150),
    *(*range(151, 162), 166, 167),
]


@pytest.mark.soak
def test_every_documented_exit_code_is_a_status_with_the_tools_words(
    daemon: DaemonProcess,
) -> None:
    """Codes the daemon classifies get their status; the rest are UNKNOWN (a tool
    failure it cannot classify), never INTERNAL; each names the code and vzctl's words."""
    answers = {}
    for code in DOCUMENTED_EXIT_CODES:
        _knobs(daemon, {"faults": [{"command": "start", "count": 1, "exit": code}]})
        error = _start(daemon, 500)
        details = error.details() or ""  # type: ignore[attr-defined]
        assert f"exit code {code}" in details and "injected failure" in details, details
        answers[code] = error.code()  # type: ignore[attr-defined]
    assert {code: answers[code] for code in CODES} == CODES
    assert grpc.StatusCode.INTERNAL not in answers.values()
    print(f"\n{len(answers)} exit codes: " + ", ".join(f"{c}={s.name}" for c, s in answers.items()))


def test_a_missing_vzctl_is_named(daemon: DaemonProcess) -> None:
    vzctl = Path(daemon.tool("vzctl"))
    vzctl.rename(vzctl.with_suffix(".away"))
    try:
        error = _start(daemon, 501)
    finally:
        vzctl.with_suffix(".away").rename(vzctl)
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION  # type: ignore[attr-defined]
    assert str(vzctl) in (error.details() or "")  # type: ignore[attr-defined]


def test_vzctl_killed_during_a_config_write_leaves_the_config_whole(daemon: DaemonProcess) -> None:
    conf = daemon.host_root / "etc" / "vz" / "conf" / "502.conf"
    before = conf.read_text()
    _knobs(daemon, {"faults": [{"command": "set", "count": 1, "die_during_config_write": True}]})
    with daemon.channel() as channel:
        stub = domains_pb2_grpc.DomainsStub(channel)
        with pytest.raises(grpc.RpcError):
            stub.SetHostname(
                domains_pb2.SetHostnameRequest(
                    domain=common_pb2.DomainRef(id=502), hostname="changed.example.com"
                ),
                timeout=30,
            )
        assert conf.read_text() == before
        # The daemon is still up, and the next change goes through.
        host_pb2_grpc.HostStub(channel).GetHostname(host_pb2.HostnameRequest(), timeout=5)
        stub.SetHostname(
            domains_pb2.SetHostnameRequest(
                domain=common_pb2.DomainRef(id=502), hostname="changed.example.com"
            ),
            timeout=30,
        )
        assert stub.Lookup(common_pb2.DomainRef(id=502)).hostname == "changed.example.com"


def test_a_hanging_vzctl_is_killed_at_its_timeout_and_the_lane_goes_on(tmp_path: Path) -> None:
    sim = tmp_path / "sim"
    prepare_host(sim, 1, 510)
    (sim / "openvzd.toml").write_text("[timeouts]\nstart = 2\n")
    set_knobs(sim / "host", {"faults": [{"command": "start", "count": 1, "hang": True}]})
    with running_daemon(sim) as daemon, daemon.channel() as channel:
        stub = domains_pb2_grpc.DomainsStub(channel)
        with pytest.raises(grpc.RpcError) as caught:
            stub.Start(domains_pb2.DomainCall(domain=common_pb2.DomainRef(id=510)), timeout=60)
        assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED  # type: ignore[attr-defined]
        assert "did not finish within 2 s" in (caught.value.details() or "")  # type: ignore[attr-defined]
        # The killed vzctl released the CT lock: the next start on the lane runs.
        stub.Start(domains_pb2.DomainCall(domain=common_pb2.DomainRef(id=510)), timeout=60)
        assert stub.Lookup(common_pb2.DomainRef(id=510)).state == domains_pb2.DOMAIN_STATE_RUNNING
    hung, ran = [run for run in tool_runs(sim / "host") if run.command == "start"]
    assert hung.exit == 143 and ran.exit == 0  # SIGTERM from the timeout, then a clean run
    assert reconcile([hung, ran], journal_jobs(sim)).problems == []


PAGE = 4096
MINIMAL_XML = (
    "<domain type='openvz'><name>{veid}</name><os><type>exe</type></os><devices>"
    "<filesystem type='template'><source name='centos-7-x86_64-minimal'/>"
    "<target dir='/'/></filesystem></devices></domain>"
)


def _define(channel: grpc.Channel, veid: int) -> None:
    domains_pb2_grpc.DomainsStub(channel).Define(
        domains_pb2.DefineRequest(xml=MINIMAL_XML.format(veid=veid)), timeout=60
    )


def _can_mount_tmpfs() -> bool:
    """Whether this host lets us mount a tmpfs in a private mount namespace."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    with tempfile.TemporaryDirectory() as folder:
        probe = ["unshare", "--mount", "--propagation", "private", "mount", "-t", "tmpfs"]
        done = subprocess.run([*probe, "tmpfs", folder], capture_output=True, check=False)
    return done.returncode == 0


@pytest.mark.skipif(not _can_mount_tmpfs(), reason="needs root, unshare(1) and mount rights")
def test_a_full_disk_under_the_uuid_write_fails_the_define_cleanly(tmp_path: Path) -> None:
    """The conf folder is a 128 KiB tmpfs that only the daemon's mount namespace sees
    (the test looks through /proc/PID/root). A sample padded so that vzctl's config
    fits one page and the daemon's (one #UUID line longer) needs two, and a filler
    leaving two pages free, make vzctl create succeed and the daemon's write hit ENOSPC."""
    sim = tmp_path / "sim"
    prepare_host(sim, 1, 600)
    conf_dir = sim / "host" / "etc" / "vz" / "conf"
    namespace = [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        sys.executable,
        str(Path(__file__).parents[1] / "proof" / "tmpfs_exec.py"),
        str(conf_dir),
        "128k",
    ]
    daemon = start_daemon(sim, prefix=namespace)
    try:
        view = Path(f"/proc/{daemon.process.pid}/root") / conf_dir.relative_to("/")
        assert os.statvfs(view).f_blocks * os.statvfs(view).f_frsize == 128 * 1024
        with daemon.channel() as channel:
            # A first define shows how long vzctl's config of a 3-digit ID is.
            _define(channel, 601)
            written = (view / "601.conf").read_text().split("\n\n#UUID:")[0] + "\n"
            sample = next(line for line in written.splitlines() if line.startswith("ORIGIN_SAMPLE"))
            sample_path = view / f"ve-{sample.split('=')[1].strip(chr(34))}.conf-sample"
            domains_pb2_grpc.DomainsStub(channel).Undefine(
                domains_pb2.UndefineRequest(domain=common_pb2.DomainRef(id=601)), timeout=60
            )
            padding = PAGE - 16 - len(written.encode())
            with open(sample_path, "a") as sample_file:
                sample_file.write("#" + "x" * (padding - 2) + "\n")
            free = os.statvfs(view).f_bavail
            (view / "filler").write_bytes(b"x" * (free - 2) * PAGE)
            before = {p.name: p.read_bytes() for p in view.iterdir()}

            with pytest.raises(grpc.RpcError) as caught:
                _define(channel, 602)
            code = caught.value.code()  # type: ignore[attr-defined]
            details = caught.value.details() or ""  # type: ignore[attr-defined]
            assert code == grpc.StatusCode.RESOURCE_EXHAUSTED, details
            assert f"{conf_dir}/602.conf" in details and "No space left on device" in details

            after = {p.name: p.read_bytes() for p in view.iterdir()}
            # No temp file is left; the config vzctl wrote stayed whole until the
            # roll-back's destroy moved it aside; nothing else changed.
            assert not [name for name in after if name.endswith(".tmp")], sorted(after)
            kept = after.pop("602.conf.destroyed").decode()
            assert len(kept.encode()) == PAGE - 16 and "OSTEMPLATE=" in kept
            assert "602.conf" not in after and "#UUID" not in kept
            assert after == before
            # The daemon serves, and with space again the same define goes through.
            stub = domains_pb2_grpc.DomainsStub(channel)
            assert stub.Lookup(common_pb2.DomainRef(id=600), timeout=10).name == "600"
            (view / "filler").unlink()
            _define(channel, 602)
            assert "#UUID: " in (view / "602.conf").read_text()
    finally:
        daemon.stop()
