"""A job submitted over TLS records the client certificate's DN as its caller
(with the provisional identity.py; the access helper's adds uids and SASL/ssh users)."""

from __future__ import annotations

from pathlib import Path

from openvz.v1 import jobs_pb2, jobs_pb2_grpc

from tests.daemon_process import running_daemon
from tests.remote.served import bound_ports, ovzsh
from tests.remote.test_daemon_tls import tls_sim

__all__ = ["tls_sim"]  # the fixture, used by name


def test_a_job_over_tls_records_the_certificate_dn(tls_sim: tuple[Path, Path, Path]) -> None:
    sim, admin, _ = tls_sim
    with running_daemon(sim) as daemon:
        port, _ = bound_ports(daemon)
        uri = f"openvz://127.0.0.1:{port}/system?pkipath={admin}"
        defined = ovzsh(uri, "define", str(daemon.sim_dir / "example-150.xml"))
        assert defined.returncode == 0, defined.stderr
        with daemon.channel(read_only=True) as channel:
            (job,) = jobs_pb2_grpc.JobsStub(channel).List(jobs_pb2.ListJobsRequest()).jobs
    assert job.operation == "define"
    assert job.caller.transport == "tls"
    assert job.caller.name.startswith("CN=admin")
