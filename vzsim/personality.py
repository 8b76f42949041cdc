"""The version-visible differences between vzctl 3.0.23 and 4.x (spec §11 item 11)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Personality:
    name: str
    version: str
    status_width: int
    strips_trailing_spaces: bool
    has_json: bool
    has_aliases: bool
    has_suspended_word: bool
    ubc_single_value: bool
    lock_shows_pid: bool
    umount_running_exit: int
    save_refuses_on_failure: bool
    empty_list_exit: int

    @property
    def is_legacy(self) -> bool:
        return self.name == "3.0.23"


MODERN = Personality(
    name="4.x",
    version="4.11.1",
    status_width=9,
    strips_trailing_spaces=True,
    has_json=True,
    has_aliases=True,
    has_suspended_word=True,
    ubc_single_value=True,
    lock_shows_pid=True,
    umount_running_exit=32,
    save_refuses_on_failure=True,
    empty_list_exit=0,
)

LEGACY = Personality(
    name="3.0.23",
    version="3.0.23",
    status_width=7,
    strips_trailing_spaces=False,
    has_json=False,
    has_aliases=False,
    has_suspended_word=False,
    ubc_single_value=False,
    lock_shows_pid=False,
    umount_running_exit=0,
    save_refuses_on_failure=False,
    empty_list_exit=1,
)

PERSONALITIES = {p.name: p for p in (MODERN, LEGACY)}
