"""The version-visible differences between vzctl 3.0.23 and 4.x (openvz-tools.md §11 item 11)."""

from __future__ import annotations


class Personality:
    """Plain class rather than a dataclass: the tools must start fast (no `inspect`)."""

    def __init__(
        self,
        *,
        name: str,
        version: str,
        status_width: int,
        strips_trailing_spaces: bool,
        has_suspended_word: bool,
        lock_shows_pid: bool,
        umount_running_exit: int,
        save_refuses_on_failure: bool,
        empty_list_exit: int,
    ) -> None:
        self.name = name
        self.version = version
        self.status_width = status_width
        self.strips_trailing_spaces = strips_trailing_spaces
        self.has_suspended_word = has_suspended_word
        self.lock_shows_pid = lock_shows_pid
        self.umount_running_exit = umount_running_exit
        self.save_refuses_on_failure = save_refuses_on_failure
        self.empty_list_exit = empty_list_exit

    @property
    def is_legacy(self) -> bool:
        return self.name == "3.0.23"


MODERN = Personality(
    name="4.x",
    version="4.11.1",
    status_width=9,
    strips_trailing_spaces=True,
    has_suspended_word=True,
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
    has_suspended_word=False,
    lock_shows_pid=False,
    umount_running_exit=0,
    save_refuses_on_failure=False,
    empty_list_exit=1,
)

PERSONALITIES = {p.name: p for p in (MODERN, LEGACY)}
