"""The Host service: what the host is and whether it can run containers."""

from __future__ import annotations

from typing import Any

import grpc
from openvz.v1 import host_pb2, host_pb2_grpc

from openvzd.config import Config
from openvzd.core.facade import CoreFacade
from openvzd.hostcheck import run_checks

PROTOCOL_VERSION = 1
_CHECK_RESULT = {
    "PASS": host_pb2.CHECK_RESULT_PASS,
    "WARN": host_pb2.CHECK_RESULT_WARN,
    "FAIL": host_pb2.CHECK_RESULT_FAIL,
}


class HostService(host_pb2_grpc.HostServicer):
    def __init__(self, core: CoreFacade, config: Config) -> None:
        self._core = core
        self._config = config

    async def GetVersion(
        self, request: host_pb2.VersionRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> host_pb2.Version:
        version = self._core.version()
        return host_pb2.Version(
            daemon=version.daemon,
            protocol=PROTOCOL_VERSION,
            vzctl=version.vzctl,
            vzctl_flavour=version.vzctl_flavour,
            simulated=version.simulated,
        )

    async def GetHostname(
        self, request: host_pb2.HostnameRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> host_pb2.Hostname:
        return host_pb2.Hostname(hostname=self._core.hostname())

    async def GetNodeInfo(
        self, request: host_pb2.NodeInfoRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> host_pb2.NodeInfo:
        node = self._core.node_info()
        return host_pb2.NodeInfo(
            model=node.model,
            memory_kib=node.memory_kib,
            free_memory_kib=node.free_memory_kib,
            cpus=node.cpus,
            mhz=node.mhz,
            nodes=1,
            sockets=node.sockets,
            cores=node.cores,
            threads=node.threads,
        )

    async def GetCapabilities(
        self, request: host_pb2.CapabilitiesRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> host_pb2.Capabilities:
        return host_pb2.Capabilities(xml=self._core.capabilities_xml())

    async def Check(
        self, request: host_pb2.CheckRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> host_pb2.CheckReport:
        checks = await run_checks(self._config)
        return host_pb2.CheckReport(
            checks=[
                host_pb2.HostCheck(
                    name=c.name, result=_CHECK_RESULT[c.result], detail=c.detail, fix=c.fix
                )
                for c in checks
            ]
        )
