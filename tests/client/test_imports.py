"""Structural checks of ovzsh's start-up: what `ovzsh list --all` must not import.

Timing belongs in bench/bench_ovzsh.py; this only checks that the lazy imports
stay lazy, in a fresh interpreter that really runs the command.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.client.helpers import ovzsh_env, uri_of
from tests.daemon_process import DaemonProcess, running_daemon

# Imported only by the commands, transports or flavours that need them. (asyncio and ssl
# cannot be on the list: `import grpc` itself imports both.)
NOT_FOR_LIST = [
    "openvz.aio",
    "openvz.transport",
    "openvz.cli.shell",
    "readline",
    "json",
    "google.protobuf.json_format",
    "openvz.v1.host_pb2",
    "openvz.v1.events_pb2",
    "openvz.v1.jobs_pb2",
    "openvz.v1.domains_pb2_grpc",
    "openvz.v1.jobs_pb2_grpc",
    "openvz.v1.host_pb2_grpc",
    "openvz.v1.events_pb2_grpc",
    "xml.sax",
    "xml.etree",
    "openvzd",
    "lxml",
]

RUN_AND_REPORT = """
import sys
from openvz.cli.main import run
status = run(sys.argv[1:])
sys.stdout.flush()
sys.stderr.write("MODULES " + " ".join(sorted(sys.modules)) + "\\n")
sys.exit(status)
"""


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    with running_daemon(tmp_path_factory.mktemp("imports") / "sim") as process:
        yield process


def modules_after(*argv: str) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-c", RUN_AND_REPORT, *argv],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=ovzsh_env(),
    )
    assert result.returncode == 0, result.stderr
    line = next(x for x in result.stderr.splitlines() if x.startswith("MODULES "))
    return set(line.split()[1:])


def loaded(modules: set[str], name: str) -> bool:
    return name in modules or any(m.startswith(name + ".") for m in modules)


def test_list_imports_only_what_it_needs(daemon: DaemonProcess) -> None:
    modules = modules_after("-c", uri_of(daemon), "list", "--all")
    assert "openvz.v1.domains_pb2" in modules  # the check sees what is imported
    unwanted = [name for name in NOT_FOR_LIST if loaded(modules, name)]
    assert unwanted == [], f"`ovzsh list --all` imported {unwanted}"


def test_json_and_host_stubs_come_with_the_commands_that_need_them(
    daemon: DaemonProcess,
) -> None:
    modules = modules_after("-c", uri_of(daemon), "nodeinfo", "--json")
    assert {"json", "openvz.v1.host_pb2"} <= modules
    assert not loaded(modules, "openvz.aio") and not loaded(modules, "openvz.transport")


def test_the_library_alone_does_not_import_asyncio_flavour_or_transports() -> None:
    probe = (
        "import sys, json, openvz; openvz.open;"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('openvz'))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    modules = set(json.loads(result.stdout))
    assert "openvz.connection" in modules
    lazy = ("openvz.aio", "openvz.transport", "openvz.cli")
    assert not {m for m in modules if m.startswith(lazy)}


def test_importing_the_package_imports_no_grpc_until_a_name_is_used() -> None:
    probe = (
        "import sys, openvz; before = 'grpc' in sys.modules; openvz.Connection;"
        "print(before, 'grpc' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.split() == ["False", "True"]
