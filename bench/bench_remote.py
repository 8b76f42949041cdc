"""Connection set-up and per-call latency of each remote transport, against the
local unix socket measured in the same run.

    PYTHONPATH=. .venv/bin/python bench/bench_remote.py [--calls N]

The servers (the daemon stand-in of tests/remote, the TLS and SASL listeners)
run in a child process; a throwaway KDC and sshd run on loopback. Set-up is the
time from nothing to the first answered call (login and ssh included); per-call
is sequential Host.GetVersion on the established channel.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import grpc
from openvz.transport import open_remote
from openvz.v1 import host_pb2, host_pb2_grpc

from tests.remote.sshd import Sshd

ROOT = Path(__file__).resolve().parent.parent
HELPER = str(Path(sys.executable).parent / "openvzd-ssh-helper")


async def serve(directory: Path) -> None:
    from openvz.transport import sasl_wire as wire
    from openvzd.access import Level
    from openvzd.remote.passwords import make_entry, write_db
    from openvzd.remote.sasl_server import start_sasl_server
    from openvzd.remote.settings import SaslSettings, TlsSettings
    from openvzd.remote.tls import start_tls_server

    from tests.remote.standin import StandInServices, start_standin

    standin = await start_standin(directory)
    tls = await start_tls_server(
        TlsSettings(
            address="127.0.0.1",
            port=0,
            ca_file=directory / "ca.pem",
            cert_file=directory / "cert.pem",
            key_file=directory / "key.pem",
            allowed_dn=["CN=bench,*"],
        ),
        StandInServices().add_to,
    )
    db = directory / "passwd.db"
    write_db(db, {"bench": make_entry("bench", "pw", Level.READ_WRITE)})
    scram = await start_sasl_server(
        SaslSettings(
            address="127.0.0.1",
            port=0,
            mechanisms=[wire.SCRAM_SHA_256],
            password_db=db,
            allow_cleartext=True,
            allowed_users=["bench"],
        ),
        standin.rw_socket,
        standin.ro_socket,
    )
    gss = await start_sasl_server(
        SaslSettings(
            address="127.0.0.1",
            port=0,
            mechanisms=[wire.GSSAPI],
            keytab=directory / "server.keytab",
            allowed_users=["*@TEST.REALM"],
        ),
        standin.rw_socket,
        standin.ro_socket,
    )
    ports = {"tls": tls.port, "scram": scram.port, "gss": gss.port, "unix": str(standin.rw_socket)}
    print(json.dumps(ports), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await gss.stop()
    await scram.stop()
    await tls.stop(None)
    await standin.stop()


def measure(
    name: str,
    opener: Callable[[], tuple[grpc.Channel, Callable[[], None]]],
    calls: int,
    repeats: int,
) -> dict[str, float]:
    setups, per_call = [], []
    request = host_pb2.VersionRequest()
    for _ in range(repeats):
        began = time.perf_counter()
        channel, close = opener()
        try:
            stub = host_pb2_grpc.HostStub(channel)
            stub.GetVersion(request, timeout=30)
            setups.append(time.perf_counter() - began)
            for _ in range(calls):
                t = time.perf_counter()
                stub.GetVersion(request, timeout=30)
                per_call.append(time.perf_counter() - t)
        finally:
            channel.close()
            close()
    return {
        "setup_ms": statistics.median(setups) * 1000,
        "p50_ms": statistics.median(per_call) * 1000,
        "p99_ms": statistics.quantiles(per_call, n=100)[98] * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(args.serve))
        return

    from tests.remote import pki
    from tests.remote.realm import kerberos_realm
    from tests.remote.sshd import run_sshd

    os.environ.setdefault("GRPC_VERBOSITY", "NONE")
    with (
        tempfile.TemporaryDirectory() as tmp,
        kerberos_realm(Path(tmp) / "krb", users=("bench",)) as realm,
        run_sshd(Path(tmp) / "sshd") as sshd,
    ):
        directory = Path(tmp) / "srv"
        directory.mkdir()
        ca = pki.make_ca("bench CA")
        (directory / "ca.pem").write_bytes(ca.cert_pem)
        pki.issue(ca, "server", server=True, hosts=("127.0.0.1",)).write(
            directory / "cert.pem", directory / "key.pem"
        )
        pkipath = pki.write_client_pki(Path(tmp) / "cli", ca, pki.issue(ca, "bench", server=False))
        (directory / "server.keytab").write_bytes(realm.server_keytab.read_bytes())
        os.environ.update(realm.env)
        os.environ["KRB5CCNAME"] = realm.ccache_for("bench")
        server = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(directory)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        try:
            assert server.stdout is not None
            ports = json.loads(server.stdout.readline())
            run(ports, pkipath, sshd, args.calls, args.repeats)
        finally:
            assert server.stdin is not None
            server.stdin.close()
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def run(ports: dict[str, object], pkipath: Path, sshd: Sshd, calls: int, repeats: int) -> None:
    def unix() -> tuple[grpc.Channel, Callable[[], None]]:
        return grpc.insecure_channel(
            f"unix:{ports['unix']}", options=[("grpc.use_local_subchannel_pool", 1)]
        ), _noop

    def remote(
        transport: str, port: object, user: str | None, params: dict[str, str]
    ) -> Callable[[], tuple[grpc.Channel, Callable[[], None]]]:
        def open_() -> tuple[grpc.Channel, Callable[[], None]]:
            host = "localhost" if port == ports["gss"] else "127.0.0.1"
            endpoint = open_remote(
                transport, host, int(str(port)), user, params, password=lambda: "pw"
            )
            return endpoint.channel(), endpoint.close

        return open_

    ssh_params = {
        "keyfile": str(sshd.client_key),
        "known_hosts": str(sshd.known_hosts),
        "command": HELPER,
        "socket": str(ports["unix"]),
    }
    cases = {
        "unix socket": unix,
        "TLS (mTLS)": remote("tls", ports["tls"], None, {"pkipath": str(pkipath)}),
        "TCP+SASL GSSAPI (wrapped)": remote("tcp", ports["gss"], None, {}),
        "TCP+SASL SCRAM (cleartext)": remote(
            "tcp", ports["scram"], "bench", {"auth": "sasl.scram-sha-256"}
        ),
        "SSH (helper)": remote("ssh", sshd.port, sshd.user, ssh_params),
    }
    results = {name: measure(name, opener, calls, repeats) for name, opener in cases.items()}
    base = results["unix socket"]
    print(
        f"{'transport':28} {'set-up ms':>10} {'x unix':>7} {'call p50 ms':>12} {'x unix':>7}"
        f" {'call p99 ms':>12}"
    )
    for name, r in results.items():
        print(
            f"{name:28} {r['setup_ms']:10.1f} {r['setup_ms'] / base['setup_ms']:7.1f}"
            f" {r['p50_ms']:12.3f} {r['p50_ms'] / base['p50_ms']:7.2f} {r['p99_ms']:12.3f}"
        )


def _noop() -> None:
    return None


if __name__ == "__main__":
    main()
