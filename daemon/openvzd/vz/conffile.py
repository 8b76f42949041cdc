"""CTID.conf and vz.conf, read by vzctl's rules and edited without losing a line.

Reading follows openvz-tools.md §3.1: `KEY=value` lines (only \n ends one, as fgets reads),
`#` comments, a quoted value runs to the last quote on the line (an unmatched
quote skips the line), backslashes escape, and the FIRST occurrence of a key
wins, as vzctl reads it (libvirt took the last one). A line that cannot be
parsed is reported with its number and the rest of the file still counts, so
one bad line never hides a container.

libvirt's `#UUID: ...` comment is read as the container's UUID, and openvzd's
`# openvzd-title: ...` comment as its title: OpenVZ has no key for either,
vzctl keeps comments when it saves, and a comment cannot change what vzctl or
a shell sourcing the file reads.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from openvzd.vz.errors import bad_argument

_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_UUID_COMMENT = re.compile(r"#UUID:\s*([0-9a-fA-F-]{36})\s*\Z")
_TITLE_COMMENT = re.compile(r"#\s*openvzd-title:\s?(.*)\Z")
TITLE_COMMENT = "# openvzd-title: "
# A value holding one of these would end its line early or be cut short by vzctl's C.
_LINE_BREAKERS = frozenset("\n\r\x00")
# Escaped on write: the file is also sourced by shell scripts (vznetaddbr, vzmigrate).
_SHELL_SPECIAL = re.compile(r'([\\"$`])')


@dataclass(slots=True)
class ParseProblem:
    line_number: int
    text: str
    why: str

    def __str__(self) -> str:
        return f"line {self.line_number}: {self.why}: {self.text!r}"


@dataclass(slots=True)
class ConfigFile:
    """The effective values of one config file and what could not be read."""

    values: dict[str, str] = field(default_factory=dict)
    uuid: str | None = None
    title: str = ""
    problems: list[ParseProblem] = field(default_factory=list)


def _unquote(raw: str) -> str | None:
    """The value part after '=': None for an unmatched quote."""
    if raw.startswith('"'):
        end = raw.rfind('"')
        if end == 0:
            return None
        raw = raw[1:end]
    if "\\" not in raw:
        return raw
    return re.sub(r"\\(.)", r"\1", raw)


def _lines(text: str) -> list[str]:
    """text's lines as vzctl reads them: str.splitlines() would also end a line at
    \x85, \u2028 and other characters a value may hold."""
    lines = text.split("\n")
    return lines[:-1] if lines[-1] == "" else lines


def parse_config(text: str) -> ConfigFile:
    """Parse config text; never raises on content."""
    result = ConfigFile()
    for number, line in enumerate(_lines(text), start=1):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            match = _UUID_COMMENT.match(stripped)
            if match and result.uuid is None:
                result.uuid = match.group(1).lower()
            title = _TITLE_COMMENT.match(stripped)
            if title and not result.title:
                result.title = title.group(1).strip()
            continue
        key, sep, raw = stripped.partition("=")
        if not sep:
            result.problems.append(ParseProblem(number, line, "'=' not found"))
            continue
        if not _KEY.match(key):
            result.problems.append(ParseProblem(number, line, "not a KEY=value line"))
            continue
        value = _unquote(raw)
        if value is None:
            result.problems.append(ParseProblem(number, line, "unmatched quotes"))
            continue
        result.values.setdefault(key, value)
    return result


def read_config(path: Path) -> ConfigFile:
    """Read a config file; an unreadable file is one problem, not an exception."""
    try:
        data = path.read_bytes()
    except OSError as err:
        return ConfigFile(problems=[ParseProblem(0, str(path), err.strerror or str(err))])
    return parse_config(data.decode("utf-8", errors="replace"))


def expand_veid(value: str, veid: int) -> str:
    """$VEID / ${VEID} replaced, trailing slashes dropped, as vzctl reads paths."""
    expanded = value.replace("${VEID}", str(veid)).replace("$VEID", str(veid))
    return expanded.rstrip("/") or "/"


def quote(value: str) -> str:
    """A value as vzctl writes it: always in double quotes, with \\, ", $ and `
    escaped (so a shell that sources the file expands nothing). A line break or NUL
    is refused: it would cut the value short and could start a line of its own."""
    if not _LINE_BREAKERS.isdisjoint(value):
        raise bad_argument(
            f"a config value may not contain a line break or NUL: {value!r}; remove it"
        )
    return '"' + _SHELL_SPECIAL.sub(r"\\\1", value) + '"'


def updated_text(
    text: str,
    changes: Mapping[str, str | None],
    uuid: str | None = None,
    title: str | None = None,
) -> str:
    """text with changes applied: the first line of each key rewritten in place
    (None deletes every line of the key, or a later duplicate would take effect),
    new keys appended, every other line and comment kept; with uuid, the #UUID
    comment set (appended after a blank line if absent); with title, the title
    comment set in place or appended ("" removes it)."""
    pending = {key: value for key, value in changes.items() if value is not None}
    deleted = changes.keys() - pending.keys()
    seen: set[str] = set()
    lines: list[str] = []
    uuid_written = False
    title_written = False
    for line in _lines(text):
        stripped = line.strip()
        if uuid is not None and _UUID_COMMENT.match(stripped):
            if not uuid_written:
                lines.append(f"#UUID: {uuid}")
                uuid_written = True
            continue
        if title is not None and _TITLE_COMMENT.match(stripped):
            if not title_written and title:
                lines.append(TITLE_COMMENT + title)
            title_written = True
            continue
        key, sep, _ = stripped.partition("=")
        if sep and key in deleted:
            continue
        if sep and key in pending and key not in seen:
            seen.add(key)
            lines.append(f"{key}={quote(pending.pop(key))}")
            continue
        lines.append(line)
    lines.extend(f"{key}={quote(value)}" for key, value in pending.items())
    if uuid is not None and not uuid_written:
        lines.extend(["", f"#UUID: {uuid}"])
    if title and not title_written:
        lines.append(TITLE_COMMENT + title)
    return "\n".join(lines) + "\n"


def write_atomically(path: Path, text: str) -> None:
    """Replace path with text: temp file in the same folder, fsync, rename, fsync
    the folder; the file's mode is kept. A crash leaves the old or the new file."""
    try:
        mode = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = 0o644
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        with_suppressed_unlink(temp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def with_suppressed_unlink(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
