"""Fixtures: a fresh simulated host per test, under tmp_path."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.vzsim.vzsim_harness import SimHost, vzsim


@pytest.fixture
def make_host(tmp_path: Path) -> Callable[..., SimHost]:
    def make(name: str = "host", *init_args: str) -> SimHost:
        root = tmp_path / name
        result = vzsim("init", str(root), *init_args)
        assert result.returncode == 0, result.stderr
        return SimHost(root)

    return make


@pytest.fixture
def host(make_host: Callable[..., SimHost]) -> SimHost:
    return make_host()


@pytest.fixture
def legacy_host(make_host: Callable[..., SimHost]) -> SimHost:
    return make_host("legacy", "--personality", "3.0.23")
