from __future__ import annotations

from pathlib import Path

import pytest
from openvzd.config import (
    DEFAULTS_DOC,
    LIVE_SECTIONS,
    RESTART_SECTIONS,
    Config,
    ConfigError,
    differences,
    load_config,
    parse_config,
)


def test_the_documented_defaults_are_the_defaults() -> None:
    assert parse_config(DEFAULTS_DOC) == Config()


def test_a_missing_file_means_the_defaults(tmp_path: Path) -> None:
    assert load_config(tmp_path / "absent.toml") == Config()


def test_values_are_read_and_typed() -> None:
    config = parse_config(
        '[jobs]\nmax_workers = 3\n[tools]\nvzctl = "/opt/vz/vzctl"\n[sockets]\nro_mode = 0o644\n'
    )
    assert config.jobs.max_workers == 3
    assert str(config.tools.vzctl) == "/opt/vz/vzctl"
    assert config.sockets.ro_mode == 0o644
    assert config.rw_socket == Path("/run/openvzd/openvzd.sock")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[jobs]\nmax_wrokers = 3\n", ["unknown key", "max_wrokers", "max_workers"]),
        ("[job]\nmax_workers = 3\n", ["unknown section", "[job]"]),
        ('[tools]\nvzctl = "vzctl"\n', ["absolute path", "[tools] vzctl"]),
        ("[jobs]\nmax_workers = 0\n", ["max_workers", "at least 1"]),
        ('[timeouts]\nstart = "soon"\n', ["[timeouts] start", "seconds"]),
        ("[jobs\n", ["not valid TOML"]),
        ('[log]\nlevel = "loud"\n', ["[log] level", "'loud'", "debug, info"]),
        ("[limits]\nmax_calls_per_client = 0\n", ["max_calls_per_client", "at least 1"]),
    ],
)
def test_bad_settings_name_the_key_and_the_fix(text: str, words: list[str]) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    for word in words:
        assert word in str(caught.value)


def test_differences_name_each_changed_key() -> None:
    new = parse_config(
        '[timeouts]\nstart = 5\n[sockets]\nro_mode = 0o600\n[log]\nlevel = "debug"\n'
    )
    assert differences(Config(), new) == [
        ("timeouts", "start", 300.0, 5.0),
        ("sockets", "ro_mode", 0o666, 0o600),
        ("log", "level", "info", "debug"),
    ]
    assert differences(new, new) == []


def test_every_section_is_live_or_waits_for_a_restart() -> None:
    sections = {f for f in Config.__dataclass_fields__ if f != "simulated"}
    assert sections == set(LIVE_SECTIONS) | set(RESTART_SECTIONS)
    assert not set(LIVE_SECTIONS) & set(RESTART_SECTIONS)
    for section in sections:
        assert f"[{section}]" in DEFAULTS_DOC


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[sockets]\nrw_mode = 600\n", "a TOML number without 0o is decimal"),
        ("[sockets]\nrw_mode = 0o7777\n", "permission bits"),
        ("[sockets]\nro_mode = 0o444\n", "let the owner read and write"),
        ("[sockets]\nrw_mode = 0o666\n", "lets every local user change containers"),
        ("[sockets]\nrw_mode = 0o602\n", "lets every local user change containers"),
        ('[storage]\nmount_roots = ["srv"]\n', "must be an absolute folder"),
        ('[storage]\nmount_roots = ["/"]\n', "other than '/'"),
        ('[storage]\nmount_roots = ["/srv/../etc"]\n', "'..'"),
        ('[storage]\nmount_roots = ["/srv/$VEID"]\n', "mount_roots"),
    ],
)
def test_socket_modes_and_mount_roots_are_validated(text: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    assert words in str(caught.value)


def test_valid_socket_modes_and_mount_roots_are_read() -> None:
    config = parse_config(
        '[sockets]\nrw_mode = 0o660\nro_mode = 0o600\n[storage]\nmount_roots = ["/srv/cts"]\n'
    )
    assert (config.sockets.rw_mode, config.sockets.ro_mode) == (0o660, 0o600)
    assert config.storage.mount_roots == ["/srv/cts"]
    assert "storage" in LIVE_SECTIONS
