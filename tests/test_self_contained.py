"""The repository stands on its own: nothing points outside a clone (no path into
the shared folder beside the checkout, no path of the machine it was written on),
every cited section of docs/openvz-tools.md exists, and the documents' relative
links lead somewhere."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

TOP = Path(__file__).resolve().parent.parent
TOOLS_DOC = TOP / "docs" / "openvz-tools.md"

# A path of some machine: a home folder, root's, or the folder this project was
# written in, where a path begins (so /vz/root/101 is not one).
MACHINE_PATH = re.compile(r"(?<![\w.~-])/(?:work|root|home/[A-Za-z_][\w-]*)/")
OUTSIDE = re.compile(r"\.\./shared\b|\bshared/(?:reference|spec|DESIGN)")
# Lines that name such a path as an example value, not as a place on this machine.
ALLOWED = {
    ("tests/fuzz/test_fuzz_uri.py", "keyfile=/root/.ssh/id"),
}
CITATION = re.compile(r"(?:\bspec|openvz-tools\.md) §(\d+(?:\.\d+)?)")
HEADING = re.compile(r"^#{2,3} (\d+(?:\.\d+)?)\.? ", re.M)
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def repository_files() -> list[Path]:
    """Tracked files and new ones not ignored, so an uncommitted file is checked too."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=TOP,
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout.decode()
    files = [TOP / name for name in listed.split("\0") if name]
    return [path for path in files if path.is_file() and not path.is_symlink()]


def text_of(path: Path) -> str | None:
    data = path.read_bytes()
    if b"\0" in data[:8192]:
        return None
    return data.decode("utf-8", errors="replace")


def test_nothing_points_outside_the_repository() -> None:
    files = repository_files()
    assert len(files) > 100
    offenders: list[str] = []
    for path in files:
        relative = path.relative_to(TOP).as_posix()
        # This file must spell out what it looks for.
        if relative.startswith("tests/data/") or path == Path(__file__).resolve():
            continue
        text = text_of(path)
        if text is None:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if OUTSIDE.search(line):
                offenders.append(f"{relative}:{number}: {line.strip()}")
            for match in MACHINE_PATH.finditer(line):
                if not any(relative == name and example in line for name, example in ALLOWED):
                    offenders.append(f"{relative}:{number}: {match.group(0)} in {line.strip()}")
    assert not offenders, "\n".join(offenders)


def test_the_checks_catch_what_they_are_for() -> None:
    # Put together here, so this file is no example of what it looks for.
    shared = "shared"
    assert OUTSIDE.search(f"See `../{shared}/DESIGN.md` in the shared folder")
    assert OUTSIDE.search(f"({shared}/reference/python-stack.md §3)")
    assert MACHINE_PATH.search(f"(`/work/{shared}/spec/vz-tools.md` §1-11)")
    assert MACHINE_PATH.search("cd /home/alice/openvzd")
    assert not MACHINE_PATH.search('VE_ROOT="/vz/root/$VEID"')
    assert not MACHINE_PATH.search("host_root / 'vz' / 'root' / '101' and ~/work/x")


def test_every_cited_section_of_openvz_tools_exists() -> None:
    sections = set(HEADING.findall(TOOLS_DOC.read_text()))
    assert {"1.8", "2.2", "3.1", "6.3", "7.4", "9.1", "11.1", "12"} <= sections
    missing: list[str] = []
    for path in repository_files():
        text = text_of(path)
        if text is None or path == TOOLS_DOC:
            continue
        for cited in CITATION.findall(text):
            if cited not in sections:
                missing.append(f"{path.relative_to(TOP)}: §{cited}")
    assert not missing, "\n".join(missing)


def test_relative_links_in_the_documents_lead_somewhere() -> None:
    documents = [TOP / "README.md", TOP / "CHANGELOG.md", TOP / "vzsim" / "README.md"]
    documents += sorted((TOP / "docs").glob("*.md"))
    broken: list[str] = []
    for document in documents:
        for target in LINK.findall(document.read_text()):
            if "://" in target or target.startswith("mailto:"):
                continue
            if not (document.parent / target).exists():
                broken.append(f"{document.relative_to(TOP)} -> {target}")
    assert not broken, "\n".join(broken)
