#!/usr/bin/env python3
"""The import direction of DESIGN.md, checked by walking every module's AST
(every import statement, also those under TYPE_CHECKING or inside functions).

  openvzd.api    imports neither openvzd.vz nor openvzd.domxml (front-ends know no vzctl)
  openvzd.libvirt  the same: the second front-end reaches OpenVZ only through the core
  openvzd.core   imports neither grpc nor openvzd.api (the core knows no wire)
  openvzd.vz     imports nothing of openvzd outside openvzd.vz
  openvz         (the client) imports nothing of openvzd
  vzsim          imports neither openvzd nor openvz (it stands in for software we do not own)

Run by `make lint` and by tests/core/test_core_layers.py; prints each violation
as path:line and exits 1 when there is one.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Where each top-level package's sources live.
PACKAGES = {
    "openvzd": ROOT / "daemon" / "openvzd",
    "openvz": ROOT / "client" / "openvz",
    "vzsim": ROOT / "vzsim",
}


@dataclass(frozen=True)
class Rule:
    layer: str
    forbidden: tuple[str, ...]
    # Prefixes that are allowed although they fall under a forbidden one.
    allowed: tuple[str, ...] = ()

    def breaks(self, module: str, imported: str) -> bool:
        if not _within(module, self.layer):
            return False
        if any(_within(imported, prefix) for prefix in self.allowed):
            return False
        return any(_within(imported, prefix) for prefix in self.forbidden)


RULES = (
    Rule("openvzd.api", ("openvzd.vz", "openvzd.domxml")),
    Rule("openvzd.libvirt", ("openvzd.vz", "openvzd.domxml")),
    Rule("openvzd.core", ("grpc", "openvzd.api")),
    Rule("openvzd.vz", ("openvzd",), allowed=("openvzd.vz",)),
    Rule("openvz", ("openvzd",)),
    Rule("vzsim", ("openvzd", "openvz")),
)


def _within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def _modules() -> Iterator[tuple[str, Path]]:
    for package, folder in PACKAGES.items():
        for path in sorted(folder.rglob("*.py")):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            yield ".".join([package, *parts]), path


def _imports(module: str, path: Path) -> Iterator[tuple[str, int]]:
    tree = ast.parse(path.read_text(), str(path))
    is_package = path.name == "__init__.py"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                keep = len(base) - node.level + (1 if is_package else 0)
                prefix = ".".join(base[:keep])
                target = f"{prefix}.{node.module}" if node.module else prefix
            else:
                target = node.module or ""
            yield target, node.lineno
            for alias in node.names:  # `from openvzd import vz` imports openvzd.vz
                yield f"{target}.{alias.name}", node.lineno


def violations() -> list[str]:
    found = []
    for module, path in _modules():
        for imported, line in _imports(module, path):
            for rule in RULES:
                if rule.breaks(module, imported):
                    where = path.relative_to(ROOT)
                    found.append(
                        f"{where}:{line}: {module} imports {imported} ({rule.layer} may not)"
                    )
    return found


def main() -> int:
    found = violations()
    for violation in found:
        print(violation)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
