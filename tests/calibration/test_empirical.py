"""Must-show: a profile derived from the Berka sample, simulated, compared with the sample."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from fraudsim.api import simulate
from fraudsim.calibration import load_profile
from fraudsim.calibration.columns import read_source
from fraudsim.calibration.compare import compare_to_source, honest_rows, ks_distance
from fraudsim.calibration.fromdata import derive_profile, write_profile
from fraudsim.config.scenario import validate_scenario
from fraudsim.world.model import World

BERKA = Path(__file__).parents[1] / "fixtures" / "berka" / "trans_sample.asc"


def _config(profile: Path, customers: int, days: int, start: str = "1995-01-01"):
    data = {
        "name": "from_berka",
        "description": "honest traffic from a Berka-derived profile",
        "seed": 11,
        "days": days,
        "start_date": start,
        "timezone": "UTC",
        "profile": str(profile),
        "population": {"customers": customers},
    }
    return validate_scenario(data, "test")


@pytest.fixture(scope="module")
def berka_profile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("emp") / "berka.toml"
    return write_profile(derive_profile(read_source(BERKA), currency="CZK"), path)


def test_ks_distance() -> None:
    a = np.arange(100.0)
    assert ks_distance(a, a) == 0.0
    assert ks_distance(a, a + 1000) == 1.0


def test_empirical_day_is_deterministic_and_typed(berka_profile: Path) -> None:
    profile = load_profile(berka_profile)
    config = _config(berka_profile, 300, 3)
    rows = [World(config, profile).traffic.day(0, np.zeros(1)) for _ in range(2)]
    assert all(np.array_equal(rows[0][k], rows[1][k]) for k in rows[0])
    assert len(rows[0]["t"]) > 0 and (rows[0]["amount"] > 0).all()
    assert ((rows[0]["t"] >= 0) & (rows[0]["t"] < 86_400)).all()


def test_berka_sample_simulated_matches_source(berka_profile: Path) -> None:
    """KS of amounts per operation type and L1 of the day-of-month shape, each under 0.1."""
    profile = load_profile(berka_profile)
    source = read_source(BERKA)
    tx = simulate(_config(berka_profile, 1500, 62), profile).transactions
    results = compare_to_source(tx, source, profile)
    by = {(r["metric"], r["what"]): r for r in results}
    for name in ("VYBER", "VKLAD", "UROK", "PREVOD NA UCET", "PREVOD Z UCTU"):
        row = by[("ks_amount", name)]
        assert row["value"] < 0.1, row
    assert by[("l1_day_of_month", "all types")]["value"] < 0.1
    assert by[("l1_weekday", "all types")]["value"] < 0.1
    # Every honest row maps back to a source type; its direction is the source's.
    sim = honest_rows(tx, profile)
    assert sim.height == tx.filter(~pl.col("is_fraud")).height
    # Dates-only source: hours come from the default profile's hour shape, not invented.
    hours = sim["timestamp"].dt.hour().value_counts()
    assert hours.height > 12
