"""Where a container's private area may be, and what undefine may do to it.

`vzctl destroy` deletes VE_PRIVATE whatever it is, so openvzd decides first
(issue 13, item 1):

- every path is resolved (symlinks followed, as the kernel will) before it is
  checked, and the resolved path is what the config stores;
- a `<filesystem type='mount'>` source must lie strictly inside a private root:
  the folder that holds vz.conf's VE_PRIVATE (/vz/private for
  /vz/private/$VEID) or one of openvzd.toml's `[storage] mount_roots`;
- it may not be, hold or lie inside any container's VE_ROOT, nor another
  container's private area;
- undefine deletes or renames a private area only when openvzd created it
  (vzctl create run by a define: CTID.conf carries CREATED_MARKER, a comment
  vzctl keeps when it saves) or when it lies inside a private root; any other
  is left in place, and the job's result says so.

Paths here are as the host names them (/vz/private/101); `root` is the folder
the host's files live under ("/" on a real host, vzsim's root otherwise).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from openvzd.vz.conffile import expand_veid
from openvzd.vz.errors import ErrorKind, VzError, bad_argument

CREATED_MARKER = "# openvzd-created-private"
DEFAULT_VE_PRIVATE = "/vz/private/$VEID"
DEFAULT_VE_ROOT = "/vz/root/$VEID"
_WHERE = "<filesystem type='mount'>"


def resolved(root: Path, path: str) -> str:
    """path with every symlink followed, as the host names it. A path that
    resolves outside root (a simulated host's link to the real one) is refused."""
    real_root = os.path.realpath(root)
    real = os.path.realpath(os.path.join(real_root, path.lstrip("/")))
    if real_root == "/":
        return real
    if real == real_root:
        return "/"
    if not real.startswith(real_root + "/"):
        raise bad_argument(f"path {path!r} resolves outside the host's root {root}")
    return real[len(real_root) :]


def is_inside(path: str, folder: str) -> bool:
    """path is folder or lies under it, compared by whole components."""
    if folder == "/":
        return True
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def private_root(ve_private: str) -> str:
    """The folder that holds every container's private area: what VE_PRIVATE
    names before its first part with $VEID (/vz/private for /vz/private/$VEID)."""
    parts = (ve_private or DEFAULT_VE_PRIVATE).rstrip("/").split("/")
    for number, part in enumerate(parts):
        if "$VEID" in part or "${VEID}" in part:
            return "/".join(parts[:number]) or "/"
    return os.path.dirname("/".join(parts)) or "/"


def private_roots(root: Path, ve_private: str, mount_roots: Sequence[str]) -> list[str]:
    """The resolved private roots: vz.conf's and the configured mount_roots."""
    return sorted(
        {resolved(root, private_root(ve_private)), *(resolved(root, r) for r in mount_roots)}
    )


def container_paths(
    root: Path,
    configs: Mapping[int, Mapping[str, str]],
    vz_conf: Mapping[str, str],
    key: str,
    default: str,
) -> dict[int, str]:
    """Each container's VE_PRIVATE or VE_ROOT (key), $VEID expanded and resolved."""
    found = {}
    for veid, values in configs.items():
        configured = values.get(key) or vz_conf.get(key) or default
        try:
            found[veid] = resolved(root, expand_veid(configured, veid))
        except VzError:
            continue  # outside the root: it cannot contain a path we accept
    return found


def check_mount_source(
    source: str,
    roots: Iterable[str],
    private_areas: Mapping[int, str],
    ve_roots: Mapping[int, str],
) -> None:
    """Refuse a resolved mount source that is not strictly inside a private
    root, or that is, holds or lies inside a container's private area or VE_ROOT."""
    roots = list(roots)
    if not any(is_inside(source, r) and source != r for r in roots):
        raise bad_argument(
            f"{_WHERE}: {source} is not inside a private root ({', '.join(roots)}); put the "
            "container's files in a folder there, or add its parent to [storage] mount_roots "
            "in openvzd.toml"
        )
    for veid, ve_root in sorted(ve_roots.items()):
        if is_inside(source, ve_root) or is_inside(ve_root, source):
            raise bad_argument(
                f"{_WHERE}: {source} is or overlaps the root file system of container {veid} "
                f"({ve_root}, where it is mounted); give its private area instead"
            )
    for veid, private in sorted(private_areas.items()):
        if source == private:
            raise VzError(
                ErrorKind.ALREADY_EXISTS,
                f"{_WHERE}: {source} is the private area of container {veid}; two containers "
                "cannot share one",
            )
        if is_inside(source, private) or is_inside(private, source):
            raise VzError(
                ErrorKind.ALREADY_EXISTS,
                f"{_WHERE}: {source} overlaps the private area of container {veid} ({private}); "
                "two containers cannot share files",
            )


def may_remove(private: str, roots: Iterable[str], created_by_openvzd: bool) -> bool:
    """Undefine may delete or rename the resolved private area: openvzd made
    it, or it lies strictly inside a private root."""
    return created_by_openvzd or any(is_inside(private, r) and private != r for r in roots)


def has_created_marker(config_text: str) -> bool:
    return any(line.strip() == CREATED_MARKER for line in config_text.split("\n"))


def mark_created(config_text: str, *, created: bool) -> str:
    """The config with CREATED_MARKER (once) when created, else as it is."""
    if not created or has_created_marker(config_text):
        return config_text
    return config_text.rstrip("\n") + "\n" + CREATED_MARKER + "\n"
