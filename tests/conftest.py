"""Shared fixtures: small, fast model runs."""

import pytest

import sim

SMALL = {"n_plants_start": 3000}


@pytest.fixture(scope="session")
def small_run():
    """One small 1973-2016 history (seed 7), reused by read-only tests."""
    return sim.simulate(params=SMALL, seed=7, track_plants=True)
