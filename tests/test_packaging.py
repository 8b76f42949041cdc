"""The package installs on the Pythons it claims: 3.11 (the suite's), 3.12 and 3.13.

The suite itself runs on 3.11 only, so for the later versions two things are checked:
that pip resolves the dependency set to wheels built for them (nothing to compile on
a host), and that no code imports a standard module that 3.13 removed (PEP 594).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

TOP = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((TOP / "pyproject.toml").read_text())

# PEP 594's dead batteries (gone in 3.13), and what 3.12 removed before them.
REMOVED_MODULES = frozenset(
    """aifc audioop cgi cgitb chunk crypt imghdr mailcap msilib nis nntplib ossaudiodev
    pipes sndhdr spwd sunau telnetlib uu xdrlib lib2to3 asynchat asyncore distutils imp
    smtpd""".split()  # noqa: SIM905 (a list of 25 quoted names reads worse)
)

# What pip says when it cannot reach an index at all (as opposed to finding no wheel).
UNREACHABLE = (
    "NewConnectionError",
    "Max retries exceeded",
    "Network is unreachable",
    "Temporary failure in name resolution",
    "Could not fetch URL",
)


def requirements() -> list[str]:
    """What a host installs. The extras are left out: systemd-python and gssapi are built
    against the host's libraries by design, and the test tools are not a host's."""
    return list(PYPROJECT["project"]["dependencies"])


def test_requires_python_admits_311_312_and_313() -> None:
    assert PYPROJECT["project"]["requires-python"] == ">=3.11"
    assert PYPROJECT["tool"]["ruff"]["target-version"] == "py311"


# The platform: this machine's, and glibc 2.17's (manylinux2014), the oldest that
# docs/install.md promises.
@pytest.mark.parametrize(
    ("version", "platform"),
    [("3.12", None), ("3.13", None), ("3.11", "manylinux2014_x86_64")],
)
def test_the_dependencies_resolve_to_wheels_for(
    version: str, platform: str | None, tmp_path: Path
) -> None:
    report = tmp_path / "report.json"
    platform_args = ["--platform", platform] if platform else []
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--dry-run",
            "--ignore-installed",
            "--only-binary=:all:",
            *platform_args,
            "--python-version",
            version,
            "--target",
            str(tmp_path / "target"),
            "--report",
            str(report),
            *requirements(),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0 and any(sign in result.stderr for sign in UNREACHABLE):
        pytest.skip(f"the package index is unreachable from here: {result.stderr[-300:]}")
    assert result.returncode == 0, result.stderr
    installs = json.loads(report.read_text())["install"]
    names = {item["metadata"]["name"].lower().replace("_", "-") for item in installs}
    assert {"grpcio", "protobuf", "lxml", "cryptography", "scramp"} <= names
    cp = "cp" + version.replace(".", "")
    for item in installs:
        wheel = item["download_info"]["url"].rsplit("/", 1)[-1]
        assert wheel.endswith(".whl"), wheel
        python_tag, abi_tag = wheel.removesuffix(".whl").split("-")[-3:-1]
        # A wheel for this CPython, the stable ABI, or pure Python.
        assert cp in python_tag.split(".") or abi_tag == "abi3" or abi_tag == "none", wheel


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_no_code_imports_a_module_removed_by_313() -> None:
    sources = [
        path
        for folder in ("daemon", "client", "vzsim", "tests", "scripts", "bench")
        for path in (TOP / folder).rglob("*.py")
        if ".venv" not in path.parts
    ]
    assert len(sources) > 50
    offenders = {
        str(path.relative_to(TOP)): sorted(imported_modules(path) & REMOVED_MODULES)
        for path in sources
        if imported_modules(path) & REMOVED_MODULES
    }
    assert not offenders, offenders
