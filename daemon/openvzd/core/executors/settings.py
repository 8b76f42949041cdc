"""Executors of the changes to a container's settings and devices, planned
against its config as it is when the job runs (Update)."""

from __future__ import annotations

import dataclasses
import re
from typing import ClassVar

from openvzd.core import ops
from openvzd.core.executors.base import Update
from openvzd.domxml import device_args, device_kind, update_device_spec
from openvzd.vz.conffile import read_config
from openvzd.vz.errors import bad_argument
from openvzd.vz.plan import with_memory
from openvzd.vz.spec import (
    ContainerSpec,
    validate_hostname,
    validate_ip,
    validate_text,
)

USER_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,31}\Z")
MAX_VCPUS = 4096


class SetMemoryExecutor(Update[ops.SetMemory]):
    def check_values(self, op: ops.SetMemory) -> None:
        if op.memory_kib < 1024:
            raise bad_argument("memory must be at least 1024 KiB")

    def wanted(self, op: ops.SetMemory, current: ContainerSpec) -> ContainerSpec:
        # The same mapping as memtune: --ram on a VSwap host, --privvmpages on UBC.
        return with_memory(current, hard_kib=op.memory_kib)


class SetMemoryParametersExecutor(Update[ops.SetMemoryParameters]):
    def check_values(self, op: ops.SetMemoryParameters) -> None:
        values = (
            op.hard_limit_kib,
            op.soft_limit_kib,
            op.swap_hard_limit_kib,
            op.min_guarantee_kib,
        )
        if all(value is None for value in values):
            raise bad_argument("give at least one memory parameter to change")
        if op.hard_limit_kib is not None and op.hard_limit_kib < 1024:
            raise bad_argument("the hard limit must be at least 1024 KiB")
        if any(value is not None and value < 0 for value in values):
            raise bad_argument("memory parameters are sizes in KiB, 0 or more")

    def wanted(self, op: ops.SetMemoryParameters, current: ContainerSpec) -> ContainerSpec:
        return with_memory(
            current,
            hard_kib=op.hard_limit_kib,
            soft_kib=op.soft_limit_kib,
            swap_hard_kib=op.swap_hard_limit_kib,
            min_guarantee_kib=op.min_guarantee_kib,
        )


class SetVcpusExecutor(Update[ops.SetVcpus]):
    def check_values(self, op: ops.SetVcpus) -> None:
        if not 1 <= op.vcpus <= MAX_VCPUS:
            raise bad_argument(f"vcpus must be 1..{MAX_VCPUS}, not {op.vcpus}")

    def wanted(self, op: ops.SetVcpus, current: ContainerSpec) -> ContainerSpec:
        return dataclasses.replace(current, vcpus=op.vcpus)


class SetHostnameExecutor(Update[ops.SetHostname]):
    def check_values(self, op: ops.SetHostname) -> None:
        validate_hostname(op.hostname)

    def wanted(self, op: ops.SetHostname, current: ContainerSpec) -> ContainerSpec:
        return dataclasses.replace(current, hostname=op.hostname)


class SetNameserversExecutor(Update[ops.SetNameservers]):
    def check_values(self, op: ops.SetNameservers) -> None:
        for server in op.nameservers:
            validate_ip(server)
        for domain in op.search_domains:
            validate_hostname(domain)
        if not op.nameservers and not op.search_domains:
            raise bad_argument("give nameservers or search domains")

    def wanted(self, op: ops.SetNameservers, current: ContainerSpec) -> ContainerSpec:
        return dataclasses.replace(
            current,
            nameservers=list(op.nameservers) or current.nameservers,
            search_domains=list(op.search_domains) or current.search_domains,
        )


class SetAutostartExecutor(Update[ops.SetAutostart]):
    """ONBOOT is no part of a ContainerSpec: compared with the config directly."""

    def plan(self, op: ops.SetAutostart, current: ContainerSpec) -> list[str]:
        values = read_config(self.runtime.paths.ct_conf(op.veid)).values
        onboot = values.get("ONBOOT", "no").lower() == "yes"
        if onboot == op.autostart:
            return []
        return ["--onboot", "yes" if op.autostart else "no"]


class SetUserPasswordExecutor(Update[ops.SetUserPassword]):
    """vzctl takes the password on its command line (docs/secrets.md); it is
    revealed only into that argv, and the runner hides it everywhere it shows one."""

    def check_values(self, op: ops.SetUserPassword) -> None:
        if not USER_NAME.match(op.user):
            raise bad_argument(
                f"{op.user!r} is not a user name (a letter or '_', then letters, digits, "
                "'_' or '-', at most 32)"
            )
        password = op.password.reveal()
        # Messages name the rule, never the value.
        validate_text(password, "the password")
        if not password or ":" in password:
            raise bad_argument("the password must be non-empty and without ':'")

    def check(self, op: ops.SetUserPassword) -> ops.SetUserPassword:
        self.check_values(op)
        return op

    def plan(self, op: ops.SetUserPassword, current: ContainerSpec) -> list[str]:
        return ["--userpasswd", f"{op.user}:{op.password.reveal()}"]


class DeviceExecutor(Update[ops.AttachDevice]):
    """attach-*, detach-* and update-* of one device, planned at run time: an
    attached interface gets the next free guest name (eth0, eth1, ...) and, when
    the XML gives no <mac>, a MAC picked then."""

    UPDATE: ClassVar[bool] = False

    def check(self, op: ops.AttachDevice) -> ops.AttachDevice:
        kind = device_kind(op.device_xml, op.veid, update=self.UPDATE)
        return dataclasses.replace(op, kind=kind)


class AttachDeviceExecutor(DeviceExecutor):
    def plan(self, op: ops.AttachDevice, current: ContainerSpec) -> list[str]:
        return device_args(op.device_xml, current, attach=True)


class DetachDeviceExecutor(DeviceExecutor):
    def plan(self, op: ops.AttachDevice, current: ContainerSpec) -> list[str]:
        return device_args(op.device_xml, current, attach=False)


class UpdateDeviceExecutor(DeviceExecutor):
    UPDATE = True

    def wanted(self, op: ops.AttachDevice, current: ContainerSpec) -> ContainerSpec:
        return update_device_spec(op.device_xml, current)
