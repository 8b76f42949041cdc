"""A stand-in for the daemon's two unix sockets, for in-process tests of the
listeners and transports (test_tls, test_sasl_*, test_ssh, test_all_uris).

It serves a tiny Host.GetVersion and Domains.Start on a read-write and a
read-only (access.ReadOnlyInterceptor) unix socket, as the daemon lays them out,
so a test can see which socket a call reached. The real daemon is tested over
every transport in test_daemon_*.py.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from openvz.transport import LocalRelay, remote_channel_options
from openvz.v1 import common_pb2, domains_pb2, domains_pb2_grpc, host_pb2, host_pb2_grpc
from openvzd.access import Level, ReadOnlyInterceptor
from openvzd.core.caller import Caller
from openvzd.identity import caller_of
from openvzd.limiter import PerKeyLimiter
from openvzd.relay import UnixFront, private_dir

STANDIN_VERSION = "standin-7.3.1-marker"


@dataclass
class HostStandIn(host_pb2_grpc.HostServicer):
    # Who called GetVersion, in order: identity.caller_of as the daemon sees it.
    callers: list[Caller] = field(default_factory=list)

    async def GetVersion(
        self, request: host_pb2.VersionRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> host_pb2.Version:
        self.callers.append(caller_of(context))
        return host_pb2.Version(daemon=STANDIN_VERSION, protocol=1, simulated=True)


@dataclass
class DomainsStandIn(domains_pb2_grpc.DomainsServicer):
    started: list[int] = field(default_factory=list)

    async def Start(
        self, request: domains_pb2.DomainCall, context: grpc.aio.ServicerContext[Any, Any]
    ) -> common_pb2.JobReply:
        self.started.append(request.domain.id)
        job = common_pb2.Job(
            id=f"job-{len(self.started)}", operation="start", veid=request.domain.id
        )
        return common_pb2.JobReply(job=job)


@dataclass
class StandInServices:
    domains: DomainsStandIn = field(default_factory=DomainsStandIn)
    host: HostStandIn = field(default_factory=HostStandIn)

    def add_to(self, server: grpc.aio.Server) -> None:
        host_pb2_grpc.add_HostServicer_to_server(self.host, server)
        domains_pb2_grpc.add_DomainsServicer_to_server(self.domains, server)


@dataclass
class StandInDaemon:
    rw_socket: Path
    ro_socket: Path
    services: StandInServices
    servers: Sequence[grpc.aio.Server]
    fronts: Sequence[UnixFront]

    async def stop(self) -> None:
        for front in self.fronts:
            await front.stop()
        for server in self.servers:
            await server.stop(None)


async def start_standin(run_dir: Path, max_clients_per_uid: int = 32) -> StandInDaemon:
    """The daemon's layout: public sockets (relay.UnixFront, peer credentials and
    per-uid caps) in front of gRPC servers on private sockets."""
    services = StandInServices()
    rw = grpc.aio.server()
    ro = grpc.aio.server(interceptors=[ReadOnlyInterceptor("the read-only socket")])
    services.add_to(rw)
    services.add_to(ro)
    private = private_dir(run_dir)
    rw_socket, ro_socket = run_dir / "openvzd.sock", run_dir / "openvzd-ro.sock"
    rw.add_insecure_port(f"unix:{private / 'rw.sock'}")
    ro.add_insecure_port(f"unix:{private / 'ro.sock'}")
    await rw.start()
    await ro.start()
    per_uid: PerKeyLimiter[int] = PerKeyLimiter(max_clients_per_uid, overrides={0: 0})
    fronts = (
        UnixFront(rw_socket, Level.READ_WRITE, private / "rw.sock", per_uid, 256),
        UnixFront(ro_socket, Level.READ_ONLY, private / "ro.sock", per_uid, 256),
    )
    await fronts[0].start(0o600, None)
    await fronts[1].start(0o666, None)
    return StandInDaemon(rw_socket, ro_socket, services, (rw, ro), fronts)


async def get_version(channel: grpc.aio.Channel, timeout: float = 10) -> str:
    reply = await host_pb2_grpc.HostStub(channel).GetVersion(
        host_pb2.VersionRequest(), timeout=timeout
    )
    return reply.daemon


async def start_domain(channel: grpc.aio.Channel, veid: int, timeout: float = 10) -> str:
    reply = await domains_pb2_grpc.DomainsStub(channel).Start(
        domains_pb2.DomainCall(domain=common_pb2.DomainRef(id=veid)), timeout=timeout
    )
    return reply.job.id


@contextlib.asynccontextmanager
async def channel_through(relay: LocalRelay) -> AsyncIterator[grpc.aio.Channel]:
    """A started relay and a channel through it; both closed on the way out."""
    async with (
        relay as target,
        grpc.aio.insecure_channel(target, options=remote_channel_options()) as channel,
    ):
        yield channel
