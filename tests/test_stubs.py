"""The committed stubs are exactly what the pinned generator makes of protos/."""

from __future__ import annotations

import filecmp
import subprocess
import sys
from pathlib import Path

TOP = Path(__file__).resolve().parent.parent
STUBS = TOP / "client" / "openvz" / "v1"


def test_committed_stubs_match_the_protos(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(TOP / "scripts" / "generate_stubs.py"), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    generated = sorted(p.name for p in tmp_path.iterdir())
    committed = sorted(p.name for p in STUBS.iterdir() if p.name != "__init__.py" and p.is_file())
    assert generated == committed, "run `make stubs` and commit the result"
    match, mismatch, errors = filecmp.cmpfiles(tmp_path, STUBS, generated, shallow=False)
    assert mismatch == [] and errors == [], f"stale stubs {mismatch}: run `make stubs`"
    assert any(name.endswith("_pb2_grpc.pyi") for name in match)


def test_stubs_import_with_the_installed_runtime() -> None:
    from openvz.v1 import common_pb2, domains_pb2_grpc

    assert common_pb2.DomainRef(id=101).id == 101
    assert hasattr(domains_pb2_grpc, "DomainsStub")
