"""The import direction of DESIGN.md holds (scripts/check_layers.py, also run by
`make lint`), and the checker does catch an import across a layer."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "check_layers.py"


def _checker() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_layers", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_the_tree_keeps_its_layers() -> None:
    run = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=60)
    assert (run.returncode, run.stdout) == (0, "")


def test_the_rules_catch_what_they_forbid() -> None:
    checker = _checker()

    def breaks(module: str, imported: str) -> bool:
        return any(rule.breaks(module, imported) for rule in checker.RULES)

    assert breaks("openvzd.api.domains", "openvzd.vz.plan")
    assert breaks("openvzd.api.domains", "openvzd.domxml")
    assert breaks("openvzd.core.service", "grpc")
    assert breaks("openvzd.vz.runner", "openvzd.core.secret")
    assert breaks("openvz.connection", "openvzd.jobs")
    assert breaks("vzsim.vzctl", "openvz.uri")
    assert not breaks("openvzd.api.domains", "openvzd.core.ops")
    assert not breaks("openvzd.vz.runner", "openvzd.vz.errors")
    assert not breaks("openvzd.core.executors", "openvzd.vz.plan")


def test_relative_imports_are_resolved(tmp_path: Path) -> None:
    checker = _checker()
    source = tmp_path / "domains.py"
    source.write_text("from ..vz import plan\nfrom . import convert\n")
    found = {name for name, _ in checker._imports("openvzd.api.domains", source)}
    assert {"openvzd.vz", "openvzd.vz.plan", "openvzd.api.convert"} <= found
