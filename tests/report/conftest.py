"""A tiny written run with a few typologies, built once per test session for the report tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from fraudsim.api import run_to_directory
from fraudsim.config.scenario import validate_scenario

SCENARIO = {
    "name": "report_tiny",
    "description": "tiny world with a few typologies for the report tests",
    "seed": 7,
    "days": 10,
    "start_date": "2025-03-24",
    "timezone": "UTC",
    "population": {"customers": 1200},
    "typologies": [
        {"name": "card_testing.v1", "schedule": {"start_day": 0, "rate_per_day": 1.0}},
        {"name": "mule_network.v1", "schedule": {"start_day": 0, "rate_per_day": 0.5}},
        {"name": "app_scam.v1", "schedule": {"start_day": 0, "rate_per_day": 1.0}},
    ],
}


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "run"
    run_to_directory(validate_scenario(SCENARIO, "test"), out)
    return out


@pytest.fixture(scope="session")
def tiny_report(tiny_run: Path) -> dict:
    from fraudsim.report import write_report

    return write_report(tiny_run)
