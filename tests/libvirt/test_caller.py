"""Who the libvirt front-end says is calling: the kernel's peer credentials of
the connecting process, and the socket's access level, handed to the core with
every operation. First in-process, on a core that records what it is asked (so
a refused call is seen not to reach it at all); then through the real daemon,
where the job read back over gRPC's Jobs.List carries that caller."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from openvz.v1 import common_pb2, jobs_pb2, jobs_pb2_grpc
from openvzd.core.caller import Caller
from openvzd.core.facade import DomainRef, DomainView
from openvzd.core.ops import Operation, Start
from openvzd.events import Event
from openvzd.jobs import Job, JobState
from openvzd.libvirt.numbers import ErrorCode, Proc
from openvzd.libvirt.server import LibvirtFrontEnd
from openvzd.libvirt.xdr import Packer

from tests.daemon_process import DaemonProcess
from tests.libvirt.conftest import domain_xml, libvirt_sockets
from tests.libvirt.wire import WireClient

UUID = "7109d234-f5a8-30a6-5dd2-39ca85ce3958"


class RecordingCore:
    """Just enough of the CoreFacade for one stopped container 100 and a start."""

    def __init__(self) -> None:
        self.submitted: list[tuple[Operation, Caller]] = []

    def list_domains(self, which: Any = None) -> list[DomainView]:
        return [self.domain(100)]

    def resolve(self, ref: DomainRef) -> int:
        return 100

    def domain(self, veid: int) -> DomainView:
        return DomainView(100, -1, "100", UUID, "", "stopped", "shutdown", False, True)

    def submit(self, operation: Operation, caller: Caller, **_: Any) -> Job:
        self.submitted.append((operation, caller))
        return Job("job-1", operation.NAME, operation.veid, operation.params())

    async def wait(self, job_id: str, timeout: float | None = None) -> Job:
        operation, _ = self.submitted[-1]
        return Job(job_id, operation.NAME, operation.veid, {}, state=JobState.SUCCEEDED)

    async def events(self, *args: Any, **kwargs: Any) -> AsyncIterator[Event]:
        await asyncio.Event().wait()
        yield  # type: ignore[misc]  # never reached: an empty, endless stream


def start_100(socket_path: Path, read_only_open: bool = False) -> int | None:
    with WireClient(socket_path) as client:
        client.open(flags=1 if read_only_open else 0)
        lookup = Packer()
        lookup.string("100")
        domain = client.call(Proc.DOMAIN_LOOKUP_BY_NAME, lookup.data())
        assert domain.error_code is None
        return client.call(Proc.DOMAIN_CREATE, domain.body).error_code


async def test_peer_credentials_become_the_jobs_caller(tmp_path: Path) -> None:
    core = RecordingCore()
    front_end = LibvirtFrontEnd(core)  # type: ignore[arg-type]  # a recording stand-in
    rw, ro = tmp_path / "sock", tmp_path / "sock-ro"
    await front_end.start_unix(rw, ro, 0o600, 0o666)
    try:
        assert await asyncio.to_thread(start_100, rw) is None
        refused_socket = await asyncio.to_thread(start_100, ro)
        refused_open = await asyncio.to_thread(start_100, rw, True)
    finally:
        await front_end.stop()
    assert refused_socket == refused_open == ErrorCode.OPERATION_DENIED
    assert len(core.submitted) == 1, "a refused call must not reach the core"
    operation, caller = core.submitted[0]
    assert operation == Start(veid=100)
    assert caller == Caller(
        "libvirt", uid=os.getuid(), gid=os.getgid(), pid=os.getpid(), read_only=False
    )


def test_a_job_through_the_real_daemon_records_the_libvirt_caller(
    libvirt_daemon: DaemonProcess,
) -> None:
    rw, _ = libvirt_sockets(libvirt_daemon)
    with WireClient(rw) as client:
        client.open()
        xml = Packer()
        xml.string(domain_xml(171))
        defined = client.call(Proc.DOMAIN_DEFINE_XML, xml.data())
        assert defined.error_code is None, defined.error_message
        started = client.call(Proc.DOMAIN_CREATE, defined.body)
        assert started.error_code is None, started.error_message
    with libvirt_daemon.channel(read_only=True) as channel:
        jobs = jobs_pb2_grpc.JobsStub(channel).List(jobs_pb2.ListJobsRequest(veid=171)).jobs
    assert sorted(job.operation for job in jobs) == ["define", "start"]
    for job in jobs:
        assert job.state == common_pb2.JOB_STATE_SUCCEEDED, job
        assert job.caller.transport == "libvirt"
        assert job.caller.uid == os.getuid() and job.caller.gid == os.getgid()
        assert job.caller.pid == os.getpid()
        assert not job.caller.read_only
