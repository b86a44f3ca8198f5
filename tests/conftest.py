"""Shared fixtures: every SIMD level this machine runs, a seeded generator,
and a hypothesis profile that keeps property tests quick in CI."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import logitloss
from logitloss import _core

settings.register_profile(
    "logitloss", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("logitloss")

SIMD_LEVELS = list(_core.simd_levels_supported())


@pytest.fixture(params=SIMD_LEVELS)
def simd_level(request: pytest.FixtureRequest):
    """Runs the test once per supported SIMD level, restoring the default."""
    before = _core.simd_level()
    assert _core.set_simd_level(request.param)
    yield request.param
    _core.set_simd_level(before)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261123)


@pytest.fixture
def threads():
    """Restores the thread count a test changes."""
    before = logitloss.get_num_threads()
    yield
    logitloss.set_num_threads(before)
