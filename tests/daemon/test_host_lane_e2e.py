"""Host-wide jobs through the real daemon: a define without <name> picks the next
free container ID on the host lane, alone, so concurrent ones never collide."""

from __future__ import annotations

import json
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
from openvz.v1 import common_pb2, domains_pb2, domains_pb2_grpc

from tests.daemon_process import BIN, DaemonProcess, running_daemon

UNNAMED = """<domain type='openvz'>
  <os><type>exe</type><init>/sbin/init</init></os>
  <devices>
    <filesystem type='template' accessmode='passthrough'>
      <source name='centos-7-x86_64-minimal'/>
      <target dir='/'/>
    </filesystem>
  </devices>
</domain>"""


def _runs(daemon: DaemonProcess) -> list[dict[str, Any]]:
    lines = (daemon.host_root / ".vzsim" / "runs.log").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["event"] == "end" and r["tool"] == "vzctl"]


def test_concurrent_unnamed_defines_get_distinct_ids_and_run_alone(tmp_path: Path) -> None:
    with running_daemon(tmp_path / "sim") as daemon:
        for veid in ("101", "102"):
            daemon.vzctl("create", veid, "--ostemplate", "centos-7-x86_64-minimal")
        (daemon.host_root / ".vzsim" / "knobs.json").write_text(
            json.dumps({"delay": {"create": 0.4, "start": 0.4}})
        )
        with daemon.channel() as channel:
            stub = domains_pb2_grpc.DomainsStub(channel)

            def define(_: int) -> int:
                reply = stub.Define(domains_pb2.DefineRequest(xml=UNNAMED), timeout=60)
                assert reply.job.veid == 0  # the host lane
                return reply.job.result_veid

            def start(veid: int) -> None:
                call = domains_pb2.DomainCall(domain=common_pb2.DomainRef(id=veid))
                for _ in range(100):  # until the monitor has seen the container
                    try:
                        stub.Start(call, timeout=60)
                        return
                    except grpc.RpcError as err:
                        if err.code() != grpc.StatusCode.NOT_FOUND:
                            raise
                        time.sleep(0.1)

            with ThreadPoolExecutor(5) as pool:
                starts = [pool.submit(start, 101), pool.submit(start, 102)]
                picked = list(pool.map(define, range(3)))
                for future in starts:
                    future.result()
            # 101 and 102 exist (the monitor may not have seen them: their configs count).
            assert sorted(picked) == [103, 104, 105]
            for veid in picked:
                found = stub.Lookup(common_pb2.DomainRef(id=veid), timeout=5)
                assert found.state == domains_pb2.DOMAIN_STATE_SHUTOFF
        # ovzsh names the container the daemon picked.
        xml = daemon.sim_dir / "unnamed.xml"
        xml.write_text(UNNAMED)
        uri = f"openvz+unix:///system?socket={daemon.rw_socket}"
        defined = subprocess.run(
            [str(BIN / "ovzsh"), "-c", uri, "define", str(xml)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert defined.returncode == 0, defined.stderr
        assert defined.stdout.strip() == f"Domain '106' defined from {xml}"
    runs = _runs(daemon)
    creates = [r for r in runs if "create" in r["argv"][1:3]]
    others = [r for r in runs if "start" in r["argv"][1:3]]
    assert len(creates) >= 3 and len(others) == 2
    for create in creates:
        for other in others:
            apart = create["t_end"] <= other["t_start"] or other["t_end"] <= create["t_start"]
            assert apart, f"{create['argv']} overlapped {other['argv']}"
