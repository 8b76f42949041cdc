"""`openvzd --simulate DIR --config FILE`: FILE is laid over DIR/openvzd.toml, key by key;
the paths and tools stay the simulation's. And `openvzd --help` names every command."""

from __future__ import annotations

import logging
import stat
import subprocess
from pathlib import Path

import pytest
from openvzd.config import ConfigError, simulated_config

from tests.daemon_process import BIN, running_daemon


def test_file_keys_win_over_the_simulation_folder_key_by_key(tmp_path: Path) -> None:
    sim = tmp_path / "sim"
    sim.mkdir()
    (sim / "openvzd.toml").write_text("[jobs]\nmax_workers = 3\nhistory_limit = 50\n")
    extra = tmp_path / "extra.toml"
    extra.write_text("[jobs]\nmax_workers = 5\n[log]\nlevel = 'debug'\n")
    config = simulated_config(sim, extra)
    assert config.jobs.max_workers == 5
    assert config.jobs.history_limit == 50  # DIR's, not overwritten by FILE's default
    assert config.log.level == "debug"
    assert config.simulated


def test_paths_and_tools_stay_the_simulations_and_a_warning_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    extra = tmp_path / "real-host.toml"
    extra.write_text("[paths]\nrun_dir = '/run/openvzd'\n[tools]\nvzctl = '/usr/sbin/vzctl'\n")
    with caplog.at_level(logging.WARNING):
        config = simulated_config(tmp_path / "sim", extra)
    assert config.paths.run_dir == (tmp_path / "sim" / "run").resolve()
    assert config.tools.vzctl == (tmp_path / "sim" / "host" / "usr" / "sbin" / "vzctl").resolve()
    assert f"{extra}: [paths], [tools] left out" in caplog.text


def test_a_missing_or_bad_file_is_an_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot read .*nowhere\.toml: no such file"):
        simulated_config(tmp_path / "sim", tmp_path / "nowhere.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[jobs]\nmax_workerz = 2\n")
    with pytest.raises(ConfigError, match=r"bad\.toml: unknown key 'max_workerz'"):
        simulated_config(tmp_path / "sim", bad)


def test_the_daemon_serves_with_the_layered_file(tmp_path: Path) -> None:
    sim = tmp_path / "sim"
    sim.mkdir()
    (sim / "openvzd.toml").write_text("[sockets]\nrw_mode = 0o660\nro_mode = 0o644\n")
    extra = tmp_path / "extra.toml"
    extra.write_text("[sockets]\nro_mode = 0o640\n[paths]\nrun_dir = '/nonexistent'\n")
    with running_daemon(sim, ["--config", str(extra)]) as daemon:
        assert stat.S_IMODE(daemon.rw_socket.stat().st_mode) == 0o660
        assert stat.S_IMODE(daemon.ro_socket.stat().st_mode) == 0o640
        assert "[paths] left out" in daemon.log()


def test_a_missing_config_file_under_simulate_stops_the_start(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(BIN / "openvzd"), "--simulate", str(tmp_path / "sim"), "--config", "nowhere.toml"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "openvzd: cannot read nowhere.toml: no such file" in result.stderr


def test_help_lists_every_command_and_passwd_wants_to_come_first() -> None:
    help_text = subprocess.run(
        [str(BIN / "openvzd"), "--help"], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    assert "{serve,check,passwd}" in help_text
    misplaced = subprocess.run(
        [str(BIN / "openvzd"), "--debug", "passwd", "alice"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert misplaced.returncode == 2
    assert "run openvzd passwd USER" in misplaced.stderr
