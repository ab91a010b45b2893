"""Dataset (fraudsim.dataset): the tables of a run as attributes, timings. How datasets are
produced and written is tested in tests/test_api.py."""

from __future__ import annotations

import pytest

from fraudsim import simulate
from fraudsim.config.scenario import ScenarioConfig
from fraudsim.dataset import Dataset


def test_dataset_attribute_access(small_config: ScenarioConfig) -> None:
    ds = simulate(small_config.with_overrides(days=1))
    assert isinstance(ds, Dataset)
    assert ds.customers is ds.tables["customers"]
    with pytest.raises(AttributeError):
        _ = ds.no_such_table
    assert set(ds.timings) >= {"build_seconds", "simulate_seconds", "tables_seconds"}
