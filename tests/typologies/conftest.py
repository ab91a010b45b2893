"""Shared fixture: run a tiny world with one typology (`run_world` in tests/helpers.py runs
several)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from fraudsim import Dataset
from tests.helpers import run_world


@pytest.fixture
def run_typology() -> Callable[..., Dataset]:
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
