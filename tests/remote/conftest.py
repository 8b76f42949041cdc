"""Fixtures of the remote-access tests: the daemon stand-in, certificates, a
real sshd and a real KDC on loopback. Every process started here is stopped
in the fixture's finally, on failure too."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.remote import pki
from tests.remote.realm import Realm, kerberos_realm
from tests.remote.sshd import Sshd, run_sshd
from tests.remote.standin import StandInDaemon, start_standin

os.environ.setdefault("GRPC_VERBOSITY", "NONE")


@pytest.fixture
async def standin(tmp_path: Path) -> AsyncIterator[StandInDaemon]:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    daemon = await start_standin(run_dir)
    try:
        yield daemon
    finally:
        await daemon.stop()


@dataclass(frozen=True)
class Pki:
    ca: pki.Issued
    other_ca: pki.Issued
    server: pki.Issued


@pytest.fixture(scope="session")
def pki_set() -> Pki:
    ca = pki.make_ca("openvzd test CA")
    return Pki(
        ca=ca,
        other_ca=pki.make_ca("someone else's CA"),
        server=pki.issue(ca, "openvzd server", server=True, hosts=("localhost", "127.0.0.1")),
    )


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    with run_sshd(tmp_path_factory.mktemp("sshd")) as server:
        yield server


@pytest.fixture(scope="session")
def realm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Realm]:
    with kerberos_realm(tmp_path_factory.mktemp("krb"), users=("alice", "bob", "carol")) as r:
        yield r


@pytest.fixture
def kerberos_env(realm: Realm, monkeypatch: pytest.MonkeyPatch) -> Realm:
    """The realm's krb5.conf for this process (the listener and the client both run here)."""
    for name, value in realm.env.items():
        monkeypatch.setenv(name, value)
    return realm
