"""The fuzz tests' Hypothesis profiles (tests/fuzz/profiles.py) are registered on
import; HYPOTHESIS_PROFILE=soak also makes soak the default for the whole run."""

from __future__ import annotations

from hypothesis import settings

from tests.fuzz.profiles import SOAK, profile_name

if profile_name() == SOAK:
    settings.load_profile(SOAK)
