"""A throwaway MIT Kerberos realm on loopback (Debian's krb5-kdc), per test session.

Everything lives in a temp directory: krb5.conf and kdc.conf are given to the
tools through KRB5_CONFIG / KRB5_KDC_PROFILE, so /etc/krb5.conf is never read.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.remote.processes import free_port, stop, wait_for_port

REALM = "TEST.REALM"
SERVICE_HOST = "localhost"


@dataclass(frozen=True)
class Realm:
    directory: Path
    env: dict[str, str]
    server_keytab: Path

    def ccache_for(self, user: str) -> str:
        """A FILE ccache holding user's TGT (from the user's keytab, no password prompt)."""
        ccache = f"FILE:{self.directory / (user + '.ccache')}"
        subprocess.run(
            ["kinit", "-k", "-t", str(self.directory / f"{user}.keytab"), f"{user}@{REALM}"],
            env={**os.environ, **self.env, "KRB5CCNAME": ccache},
            check=True,
            capture_output=True,
            timeout=10,
        )
        return ccache


def _kadmin(env: dict[str, str], query: str) -> None:
    subprocess.run(
        ["kadmin.local", "-r", REALM, "-q", query],
        env={**os.environ, **env},
        check=True,
        capture_output=True,
        timeout=20,
    )


@contextlib.contextmanager
def kerberos_realm(directory: Path, users: tuple[str, ...]) -> Iterator[Realm]:
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    (directory / "krb5.conf").write_text(f"""\
[libdefaults]
    default_realm = {REALM}
    dns_lookup_kdc = false
    dns_lookup_realm = false
    dns_canonicalize_hostname = false
    rdns = false
    udp_preference_limit = 1
[realms]
    {REALM} = {{
        kdc = 127.0.0.1:{port}
    }}
[domain_realm]
    localhost = {REALM}
""")
    (directory / "kdc.conf").write_text(f"""\
[kdcdefaults]
    kdc_listen = 127.0.0.1:{port}
    kdc_tcp_listen = 127.0.0.1:{port}
[realms]
    {REALM} = {{
        database_name = {directory}/principal
        key_stash_file = {directory}/stash
        acl_file = {directory}/kadm5.acl
        kdc_listen = 127.0.0.1:{port}
        kdc_tcp_listen = 127.0.0.1:{port}
    }}
""")
    env = {
        "KRB5_CONFIG": str(directory / "krb5.conf"),
        "KRB5_KDC_PROFILE": str(directory / "kdc.conf"),
        "KRB5RCACHETYPE": "none",
    }
    subprocess.run(
        ["kdb5_util", "create", "-s", "-r", REALM, "-P", "master-password"],
        env={**os.environ, **env},
        check=True,
        capture_output=True,
        timeout=30,
    )
    server_keytab = directory / "server.keytab"
    _kadmin(env, f"addprinc -randkey openvzd/{SERVICE_HOST}")
    _kadmin(env, f"ktadd -k {server_keytab} openvzd/{SERVICE_HOST}")
    for user in users:
        _kadmin(env, f"addprinc -randkey {user}")
        _kadmin(env, f"ktadd -k {directory / (user + '.keytab')} {user}")
    kdc = subprocess.Popen(
        ["krb5kdc", "-n", "-P", str(directory / "kdc.pid")],
        env={**os.environ, **env},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, kdc)
        yield Realm(directory, env, server_keytab)
    finally:
        stop(kdc)
