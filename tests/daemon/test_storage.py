"""daemon/openvzd/vz/storage.py: where a mount source may be and what undefine
may delete, on real folders and symlinks under tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest
from openvzd.vz.errors import ErrorKind, VzError
from openvzd.vz.storage import (
    CREATED_MARKER,
    check_mount_source,
    container_paths,
    has_created_marker,
    is_inside,
    mark_created,
    may_remove,
    private_root,
    private_roots,
    resolved,
)

ROOTS = ["/srv/containers", "/vz/private"]
AREAS = {101: "/vz/private/101", 102: "/srv/containers/web"}
VE_ROOTS = {101: "/vz/root/101", 102: "/vz/root/102"}


def test_resolved_follows_links_inside_the_root_and_names_the_host_path(tmp_path: Path) -> None:
    (tmp_path / "vz" / "private" / "101").mkdir(parents=True)
    (tmp_path / "var" / "lib" / "vz").mkdir(parents=True)
    (tmp_path / "var" / "lib" / "vz" / "private").symlink_to("../../../vz/private")
    assert resolved(tmp_path, "/var/lib/vz/private/101") == "/vz/private/101"
    assert resolved(tmp_path, "/vz/private/101/") == "/vz/private/101"
    assert resolved(tmp_path, "/not/there/yet") == "/not/there/yet"
    assert resolved(tmp_path, "/") == "/"


def test_a_link_out_of_the_root_is_refused(tmp_path: Path) -> None:
    (tmp_path / "escape").symlink_to("/etc")
    with pytest.raises(VzError, match="resolves outside the host's root") as caught:
        resolved(tmp_path, "/escape")
    assert caught.value.kind is ErrorKind.BAD_ARGUMENT


def test_is_inside_compares_whole_components() -> None:
    assert is_inside("/vz/private/101", "/vz/private")
    assert is_inside("/vz/private", "/vz/private")
    assert not is_inside("/vz/private101", "/vz/private")
    assert not is_inside("/vz", "/vz/private")
    assert is_inside("/anything", "/")


@pytest.mark.parametrize(
    ("ve_private", "root"),
    [
        ("/vz/private/$VEID", "/vz/private"),
        ("/vz/private/${VEID}", "/vz/private"),
        ("/data/ct-$VEID/private", "/data"),
        ("/vz/private/$VEID/", "/vz/private"),
        ("", "/vz/private"),
        ("/srv/fixed", "/srv"),
    ],
)
def test_the_private_root_is_what_ve_private_names_before_veid(ve_private: str, root: str) -> None:
    assert private_root(ve_private) == root


def test_private_roots_are_resolved_and_include_mount_roots(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "srv").mkdir()
    (tmp_path / "srv" / "cts").symlink_to("../data")
    assert private_roots(tmp_path, "/vz/private/$VEID", ["/srv/cts"]) == ["/data", "/vz/private"]


def test_container_paths_expand_veid_with_vz_conf_as_the_default(tmp_path: Path) -> None:
    configs = {101: {}, 102: {"VE_PRIVATE": "/srv/containers/web"}}
    found = container_paths(
        tmp_path, configs, {"VE_PRIVATE": "/vz/private/$VEID"}, "VE_PRIVATE", "/x/$VEID"
    )
    assert found == {101: "/vz/private/101", 102: "/srv/containers/web"}


@pytest.mark.parametrize(
    "source", ["/srv/containers/new", "/vz/private/150", "/srv/containers/a/b"]
)
def test_a_new_folder_inside_a_root_is_accepted(source: str) -> None:
    check_mount_source(source, ROOTS, AREAS, VE_ROOTS)


@pytest.mark.parametrize(
    ("source", "kind", "words"),
    [
        ("/srv/www2", ErrorKind.BAD_ARGUMENT, "not inside a private root"),
        ("/usr", ErrorKind.BAD_ARGUMENT, "not inside a private root"),
        ("/srv/containers", ErrorKind.BAD_ARGUMENT, "not inside a private root"),
        ("/vz/private/101", ErrorKind.ALREADY_EXISTS, "the private area of container 101"),
        (
            "/vz/private/101/usr",
            ErrorKind.ALREADY_EXISTS,
            "overlaps the private area of container 101",
        ),
        ("/srv/containers/web/sub", ErrorKind.ALREADY_EXISTS, "container 102"),
    ],
)
def test_what_is_no_new_private_area_is_refused(source: str, kind: ErrorKind, words: str) -> None:
    with pytest.raises(VzError) as caught:
        check_mount_source(source, ROOTS, AREAS, VE_ROOTS)
    assert caught.value.kind is kind
    assert words in caught.value.message


def test_a_ve_root_inside_a_root_is_refused() -> None:
    with pytest.raises(VzError, match="root file system of container 103"):
        check_mount_source("/vz/private/x", ROOTS, {}, {103: "/vz/private/x/mnt"})


def test_a_folder_holding_another_containers_area_is_refused() -> None:
    with pytest.raises(VzError, match="overlaps the private area of container 102"):
        check_mount_source("/srv/containers", ["/srv"], AREAS, VE_ROOTS)


@pytest.mark.parametrize(
    ("private", "created", "allowed"),
    [
        ("/vz/private/101", False, True),
        ("/srv/containers/web", False, True),
        ("/srv/www2", False, False),
        ("/srv/www2", True, True),
        ("/vz/private", False, False),
        ("/", False, False),
    ],
)
def test_undefine_removes_only_what_openvzd_made_or_what_lies_in_a_root(
    private: str, created: bool, allowed: bool
) -> None:
    assert may_remove(private, ROOTS, created) is allowed


def test_the_created_marker_is_written_once_and_found() -> None:
    text = 'OSTEMPLATE="centos"\n'
    marked = mark_created(text, created=True)
    assert marked == text + CREATED_MARKER + "\n"
    assert has_created_marker(marked) and not has_created_marker(text)
    assert mark_created(marked, created=True) == marked
    assert mark_created(text, created=False) == text
    assert not has_created_marker("#" + CREATED_MARKER + "x\n")
