"""Shared helper: run a tiny world with one or more typologies."""

from __future__ import annotations

from typing import Any

import pytest

from fraudsim import Dataset, simulate
from fraudsim.config.scenario import validate_scenario


def run_world(
    typologies: list[dict[str, Any]],
    customers: int = 1500,
    days: int = 10,
    seed: int = 7,
    **extra: Any,
) -> Dataset:
    """Simulate a small scenario with the given `[[typologies]]` entries."""
    config = validate_scenario(
        {
            "name": "typology_test",
            "seed": seed,
            "days": days,
            "population": {"customers": customers},
            "typologies": typologies,
            **extra,
        },
        "test",
    )
    dataset = simulate(config)
    dataset.check_schema()
    return dataset


@pytest.fixture
def run_typology():
    """`run_typology("card_testing.v1", params={...}, episodes=3)` -> Dataset."""

    def run(
        name: str,
        params: dict[str, Any] | None = None,
        episodes: int = 3,
        customers: int = 1500,
        days: int = 10,
        seed: int = 7,
        **extra: Any,
    ) -> Dataset:
        entry = {"name": name, "params": params or {}, "schedule": {"episodes": episodes}}
        return run_world([entry], customers=customers, days=days, seed=seed, **extra)

    return run
