"""The load scenario: N concurrent clients, each on its own channel to the real
daemon's unix socket, each making a seeded random mix of calls: reads, starts and
stops of a shared set of containers (which race, so wrong-state answers are
expected), and defines/undefines of IDs only it uses (whose every answer it can
predict). Afterwards the journal and vzsim's runs.log are checked against each other.
"""

from __future__ import annotations

import asyncio
import gc
import random
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from openvz.v1 import common_pb2, domains_pb2, domains_pb2_grpc

from tests.daemon_process import CHANNEL_OPTIONS
from tests.proof.records import (
    FINAL_STATES,
    journal_jobs,
    reconcile,
    running_veids,
    tool_runs,
)
from tests.proof.sim import define_xml

OWN_FIRST_ID = 10_000
OWN_SLOTS = 3
CALL_TIMEOUT = 600.0
READ_SHARE = 0.6
LIFECYCLE_SHARE = 0.3  # the rest define or undefine the client's own IDs
READS = ("List", "Lookup", "GetInfo", "GetXML")
# A start of a running container exits 32; a stop of a stopped one exits 0 (openvz-tools.md §1.8,
# §11).
WRONG_STATE_EXIT = "exit code 32"
NOT_RUNNING = "domain is not in running state"


@dataclass(slots=True)
class LoadReport:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    expected_errors: Counter[str] = field(default_factory=Counter)
    unexpected: list[str] = field(default_factory=list)
    job_ids: set[str] = field(default_factory=set)
    own_defined: dict[int, bool] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def calls(self) -> int:
        return sum(len(samples) for samples in self.latencies.values())


def own_ids(client: int) -> list[int]:
    return [OWN_FIRST_ID + client * OWN_SLOTS + slot for slot in range(OWN_SLOTS)]


def _job_id_of(error: grpc.aio.AioRpcError) -> str:
    for key, value in error.trailing_metadata() or ():
        if key == "openvz-job-id":
            return str(value)
    return ""


class _Client:
    def __init__(
        self,
        number: int,
        stub: Any,  # an aio DomainsStub; the generated type hints describe the sync one
        shared: Sequence[int],
        seed: int,
        report: LoadReport,
    ) -> None:
        self.rng = random.Random(f"{seed}-{number}")
        self.stub = stub
        self.shared = shared
        self.report = report
        self.own = {veid: False for veid in own_ids(number)}
        self.number = number

    async def run(self, calls: int) -> None:
        for _ in range(calls):
            roll = self.rng.random()
            if roll < READ_SHARE:
                await self._read(self.rng.choice(READS))
            elif roll < READ_SHARE + LIFECYCLE_SHARE:
                await self._lifecycle(self.rng.choice(("Start", "Destroy")))
            else:
                await self._own(self.rng.choice(sorted(self.own)))
        self.report.own_defined.update(self.own)

    async def _timed(self, kind: str, call: Callable[[], Awaitable[Any]]) -> Any:
        started = time.perf_counter()
        try:
            return await call()
        finally:
            self.report.latencies[kind].append(time.perf_counter() - started)

    def _unexpected(self, kind: str, what: str) -> None:
        self.report.unexpected.append(f"client {self.number}: {kind}: {what}")

    async def _read(self, kind: str) -> None:
        ref = common_pb2.DomainRef(id=self.rng.choice(self.shared))
        calls: dict[str, Callable[[], Awaitable[Any]]] = {
            "List": lambda: self.stub.List(domains_pb2.ListDomainsRequest(), timeout=CALL_TIMEOUT),
            "Lookup": lambda: self.stub.Lookup(ref, timeout=CALL_TIMEOUT),
            "GetInfo": lambda: self.stub.GetInfo(ref, timeout=CALL_TIMEOUT),
            "GetXML": lambda: self.stub.GetXML(
                domains_pb2.GetXMLRequest(domain=ref), timeout=CALL_TIMEOUT
            ),
        }
        try:
            await self._timed(kind, calls[kind])
        except grpc.aio.AioRpcError as error:
            self._unexpected(kind, f"{error.code().name} {error.details()}")

    async def _lifecycle(self, kind: str) -> None:
        request = domains_pb2.DomainCall(
            domain=common_pb2.DomainRef(id=self.rng.choice(self.shared))
        )
        method = self.stub.Start if kind == "Start" else self.stub.Destroy
        try:
            reply = await self._timed(kind, lambda: method(request, timeout=CALL_TIMEOUT))
        except grpc.aio.AioRpcError as error:
            job_id = _job_id_of(error)
            self.report.job_ids.add(job_id)
            details = error.details() or ""
            started_twice = kind == "Start" and WRONG_STATE_EXIT in details and bool(job_id)
            # libvirt's refusal, at submit (no job) or when the job ran.
            not_running = kind == "Destroy" and details.startswith(NOT_RUNNING)
            if error.code() == grpc.StatusCode.FAILED_PRECONDITION and (
                started_twice or not_running
            ):
                self.report.expected_errors[f"{kind} {error.code().name}"] += 1
            else:
                self._unexpected(kind, f"{error.code().name} {error.details()} (job {job_id})")
            return
        self.report.job_ids.add(reply.job.id)

    async def _own(self, veid: int) -> None:
        defined = self.own[veid]
        kind = self.rng.choice(("Define", "Undefine"))
        # Only this client touches its IDs, so every answer is known in advance.
        # A define of a defined one redefines it (with nothing to change).
        expected_failure = {("Undefine", False): grpc.StatusCode.NOT_FOUND}.get((kind, defined))
        if kind == "Define":
            request: Any = domains_pb2.DefineRequest(xml=define_xml(veid))
            method: Any = self.stub.Define
        else:
            request = domains_pb2.UndefineRequest(domain=common_pb2.DomainRef(id=veid))
            method = self.stub.Undefine
        try:
            reply = await self._timed(kind, lambda: method(request, timeout=CALL_TIMEOUT))
        except grpc.aio.AioRpcError as error:
            if error.code() == expected_failure:
                self.report.expected_errors[f"{kind} {error.code().name}"] += 1
            else:
                self._unexpected(kind, f"{veid}: {error.code().name} {error.details()}")
            return
        self.report.job_ids.add(reply.job.id)
        if expected_failure is not None:
            self._unexpected(kind, f"{veid} succeeded, expected {expected_failure.name}")
        self.own[veid] = kind == "Define"


async def run_load(
    socket: Path, clients: int, calls: int, shared: Sequence[int], seed: int
) -> LoadReport:
    """clients concurrent clients, each on its own channel, making calls calls each."""
    report = LoadReport()

    async def one(number: int) -> None:
        async with grpc.aio.insecure_channel(f"unix:{socket}", options=CHANNEL_OPTIONS) as channel:
            stub = domains_pb2_grpc.DomainsStub(channel)
            await _Client(number, stub, shared, seed, report).run(calls)

    started = time.perf_counter()
    await asyncio.gather(*(one(number) for number in range(clients)))
    report.seconds = time.perf_counter() - started
    # aio calls held in cycles (by caught errors) must go while their loop still runs,
    # not in some later test's garbage collection ("Event loop is closed").
    gc.collect()
    report.job_ids.discard("")
    return report


def check_records(sim_dir: Path, report: LoadReport, shared: Sequence[int]) -> list[str]:
    """What the journal and runs.log say against what the clients were told; [] when all fits.
    Call it once the daemon has stopped."""
    host_root = sim_dir / "host"
    jobs = journal_jobs(sim_dir)
    problems: list[str] = []
    counts = Counter(job.id for job in jobs)
    problems += [
        f"job {job_id} is in the journal {n} times" for job_id, n in counts.items() if n > 1
    ]
    states = {job.id: job.state for job in jobs}
    problems += [
        f"acknowledged job {j} is not in the journal" for j in report.job_ids - set(states)
    ]
    problems += [
        f"job {job.id} ({job.operation} {job.veid}) never ended: {job.state}"
        for job in jobs
        if job.state not in FINAL_STATES
    ]
    reconciled = reconcile(tool_runs(host_root), jobs)
    problems += reconciled.problems
    conf_dir = host_root / "etc" / "vz" / "conf"
    for veid, defined in sorted(report.own_defined.items()):
        if (conf_dir / f"{veid}.conf").exists() != defined:
            problems.append(f"container {veid}: its client believes defined={defined}")
    running = running_veids(host_root)
    for veid in shared:
        effective = reconciled.effective_runs(veid, jobs)
        lifecycle = [run for _, run in effective if run.command in ("start", "stop")]
        should_run = bool(lifecycle) and lifecycle[-1].command == "start"
        if (veid in running) != should_run:
            problems.append(
                f"container {veid}: running={veid in running}, last run {lifecycle[-1:]}"
            )
    return problems
