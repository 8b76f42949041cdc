"""Hypothesis profiles for the fuzz tests: a fast one for `make test`, a soak one.

    HYPOTHESIS_PROFILE=soak .venv/bin/python -m pytest -q tests/fuzz

The fast profile is derandomized, so `make test` tries the same inputs on every
run (a failure there is a regression, never a fluke of the draw); the soak profile
draws fresh random inputs, many more of them. Neither has a per-example deadline:
the machines are shared and slow, and a hang is caught by `no_hang` instead.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from types import FrameType

from hypothesis import HealthCheck, settings

FAST = "fast"
SOAK = "soak"
PROFILE_VARIABLE = "HYPOTHESIS_PROFILE"

settings.register_profile(
    FAST,
    max_examples=100,
    deadline=None,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    SOAK,
    max_examples=5000,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def profile_name() -> str:
    return SOAK if os.environ.get(PROFILE_VARIABLE) == SOAK else FAST


def fuzz(share: float = 1.0) -> settings:
    """The current profile's settings with share of its example count, for tests
    whose examples are expensive (a call to the real daemon)."""
    profile = settings.get_profile(profile_name())
    return settings(profile, max_examples=max(1, int(profile.max_examples * share)))


class Hang(Exception):
    """An input kept a parser busy far longer than any input of its size should."""


@contextlib.contextmanager
def no_hang(seconds: float = 20.0) -> Iterator[None]:
    """Fail the example with Hang if the block runs longer than seconds (main thread
    only). Generous on purpose: inputs are small, so only a real hang trips it."""

    def expire(signum: int, frame: FrameType | None) -> None:
        raise Hang(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
