"""Shared fixtures: tiny scenarios, the default profile, a built population and a simulated run.

Everything here is session-scoped and must be treated as read-only by the tests.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from fraudsim.api import simulate
from fraudsim.calibration import Profile, load_profile
from fraudsim.config.scenario import ScenarioConfig, validate_scenario
from fraudsim.dataset import Dataset
from fraudsim.world.model import World
from fraudsim.world.population import Population

TINY_CUSTOMERS = 1_500
TINY_DAYS = 14
# 2025-03-20 .. 2025-04-02: spans the card repayment day (25th), a month-end payday (31st) and
# the rent day (1st), so every kind of legit row appears in the tiny run.
TINY_START = "2025-03-20"


def tiny_scenario_data(**overrides: object) -> dict[str, object]:
    """The mapping of the tiny scenario, with top-level fields replaced."""
    data: dict[str, object] = {
        "name": "tiny",
        "description": "tiny test world",
        "seed": 20250303,
        "days": TINY_DAYS,
        "start_date": TINY_START,
        "timezone": "UTC",
        "population": {"customers": TINY_CUSTOMERS},
    }
    data.update(overrides)
    return data


@pytest.fixture(scope="session")
def tiny_config() -> ScenarioConfig:
    """About 1,500 customers over 14 days."""
    return validate_scenario(tiny_scenario_data(), "test")


@pytest.fixture(scope="session")
def small_config() -> ScenarioConfig:
    """A smaller world for tests that write runs: 400 customers, 9 days (two parquet parts)."""
    return validate_scenario(
        tiny_scenario_data(name="small", days=9, population={"customers": 400}), "test"
    )


@pytest.fixture(scope="session")
def profile() -> Profile:
    return load_profile("default")


@pytest.fixture(scope="session")
def world(tiny_config: ScenarioConfig, profile: Profile) -> World:
    """A built but not run world of the tiny scenario (population, traffic, bank)."""
    return World(tiny_config, profile)


@pytest.fixture(scope="session")
def population(world: World) -> Population:
    return world.population


@pytest.fixture(scope="session")
def dataset(tiny_config: ScenarioConfig, profile: Profile) -> Dataset:
    """The tiny scenario simulated in memory."""
    return simulate(tiny_config, profile)


SCENARIO_TOML = """\
name = "{name}"
description = "a tiny scenario for tests"
seed = 7
days = {days}
start_date = 2025-03-20
timezone = "UTC"

[population]
customers = {customers}
"""


@pytest.fixture
def write_scenario(tmp_path: Path) -> Callable[..., Path]:
    """Write a scenario TOML into tmp_path; returns its path."""

    def write(
        text: str | None = None,
        filename: str = "mini.toml",
        name: str = "mini",
        days: int = 3,
        customers: int = 300,
        folder: Path | None = None,
    ) -> Path:
        path = (folder or tmp_path) / filename
        path.parent.mkdir(parents=True, exist_ok=True)
        body = (
            text
            if text is not None
            else SCENARIO_TOML.format(name=name, days=days, customers=customers)
        )
        path.write_text(body, encoding="utf-8")
        return path

    return write
