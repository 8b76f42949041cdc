"""The Host service: what the host is and whether it can run containers."""

from __future__ import annotations

import platform
from typing import Any

import grpc
from lxml import etree
from openvz.v1 import host_pb2, host_pb2_grpc

from openvzd import __version__
from openvzd.hostcheck import CachedChecks
from openvzd.runtime import Runtime

PROTOCOL_VERSION = 1
_CHECK_RESULT = {
    "PASS": host_pb2.CHECK_RESULT_PASS,
    "WARN": host_pb2.CHECK_RESULT_WARN,
    "FAIL": host_pb2.CHECK_RESULT_FAIL,
}


def capabilities_xml(runtime: Runtime) -> str:
    root = etree.Element("capabilities")
    host = etree.SubElement(root, "host")
    cpu = etree.SubElement(host, "cpu")
    etree.SubElement(cpu, "arch").text = platform.machine() or "x86_64"
    guest = etree.SubElement(root, "guest")
    etree.SubElement(guest, "os_type").text = "exe"
    arch = etree.SubElement(guest, "arch", name=platform.machine() or "x86_64")
    etree.SubElement(arch, "wordsize").text = "64"
    etree.SubElement(arch, "emulator").text = str(runtime.config.tools.vzctl)
    etree.SubElement(arch, "domain", type="openvz")
    return etree.tostring(root, pretty_print=True, encoding="unicode")


class HostService(host_pb2_grpc.HostServicer):
    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._checks = CachedChecks(runtime.config)

    async def GetVersion(
        self, request: host_pb2.VersionRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> host_pb2.Version:
        version = self._runtime.vzctl_version
        return host_pb2.Version(
            daemon=__version__,
            protocol=PROTOCOL_VERSION,
            vzctl=version.text,
            vzctl_flavour=version.flavour,
            simulated=self._runtime.config.simulated,
        )

    async def GetHostname(
        self, request: host_pb2.HostnameRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> host_pb2.Hostname:
        return host_pb2.Hostname(hostname=self._runtime.hostname)

    async def GetNodeInfo(
        self, request: host_pb2.NodeInfoRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> host_pb2.NodeInfo:
        node = self._runtime.node
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
        return host_pb2.Capabilities(xml=capabilities_xml(self._runtime))

    async def Check(
        self, request: host_pb2.CheckRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> host_pb2.CheckReport:
        checks = await self._checks.checks()
        return host_pb2.CheckReport(
            checks=[
                host_pb2.HostCheck(
                    name=c.name, result=_CHECK_RESULT[c.result], detail=c.detail, fix=c.fix
                )
                for c in checks
            ]
        )
