"""Connection set-up and per-call latency of each remote transport of the real
openvzd, against its local unix socket measured in the same run.

    PYTHONPATH=. .venv/bin/python bench/bench_remote.py [--calls N] [--repeats N]

One `openvzd --simulate` serves everything from its openvzd.toml, as the tests
configure it (tests/remote/served.py): [tls], [sasl] with GSSAPI (a throwaway
KDC on loopback) and SCRAM-SHA-256, and its unix socket behind a real sshd with
openvzd-ssh-helper. Each transport is opened by URI through the client library
(openvz.open), as ovzsh does. Set-up is the time from nothing to the first
answered call (TLS handshake, SASL login, ssh start included); per-call is
sequential Host.GetVersion on the established connection.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import openvz

from tests.remote.realm import kerberos_realm
from tests.remote.served import running_remote_daemon, ssh_uri, write_remote_config
from tests.remote.sshd import run_sshd


def measure(uri: str, calls: int, repeats: int) -> dict[str, float]:
    setups: list[float] = []
    per_call: list[float] = []
    for _ in range(repeats):
        began = time.perf_counter()
        with openvz.open(uri) as connection:
            connection.version()
            setups.append(time.perf_counter() - began)
            for _ in range(calls):
                started = time.perf_counter()
                connection.version()
                per_call.append(time.perf_counter() - started)
    return {
        "setup_ms": statistics.median(setups) * 1000,
        "p50_ms": statistics.median(per_call) * 1000,
        "p99_ms": statistics.quantiles(per_call, n=100)[98] * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=300, help="calls per connection")
    parser.add_argument("--repeats", type=int, default=7, help="connections per transport")
    args = parser.parse_args()
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")
    with (
        tempfile.TemporaryDirectory() as tmp,
        kerberos_realm(Path(tmp) / "krb", users=("alice", "bob", "carol")) as realm,
        run_sshd(Path(tmp) / "sshd") as sshd,
    ):
        setup = write_remote_config(Path(tmp) / "daemon", realm)
        os.environ.update(setup.kerberos_env("alice"))
        with running_remote_daemon(setup) as daemon:
            uris = {
                "unix socket": f"openvz:///system?socket={daemon.rw_socket}",
                "TLS (mTLS)": setup.tls_uri(),
                "TCP+SASL GSSAPI (wrapped)": setup.gssapi_uri(),
                "TCP+SASL SCRAM (cleartext)": setup.scram_uri(),
                "SSH (helper)": ssh_uri(sshd, daemon.rw_socket),
            }
            results = {name: measure(uri, args.calls, args.repeats) for name, uri in uris.items()}
    print_table(results, args.calls, args.repeats)


def print_table(results: dict[str, dict[str, float]], calls: int, repeats: int) -> None:
    base = results["unix socket"]
    print(f"real openvzd --simulate; {repeats} connections x {calls} calls per transport")
    print(
        f"{'transport':28} {'set-up ms':>10} {'x unix':>7} {'p50 ms':>8} {'x unix':>7}"
        f" {'p99 ms':>8} {'x unix':>7}"
    )
    for name, r in results.items():
        print(
            f"{name:28} {r['setup_ms']:10.1f} {r['setup_ms'] / base['setup_ms']:7.1f}"
            f" {r['p50_ms']:8.3f} {r['p50_ms'] / base['p50_ms']:7.2f}"
            f" {r['p99_ms']:8.3f} {r['p99_ms'] / base['p99_ms']:7.2f}"
        )


if __name__ == "__main__":
    main()
