"""Look-alikes are honest life: they run at the profile's honest rates whatever the fraud
prevalence or the fraud typologies of the scenario, at the hours honest customers keep."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest

from fraudsim import Dataset
from tests.helpers import run_world

HONEST = [
    {"name": "bill_split_fan_in.v1"},
    {"name": "family_round_trip.v1"},
    {"name": "new_phone_login.v1"},
    {"name": "large_transfer.v1"},
    {"name": "holiday_abroad.v1"},
]


def _run(typologies: list[dict[str, Any]], **extra: Any) -> Dataset:
    return run_world([*typologies, *HONEST], customers=1200, days=6, seed=11, **extra)


def _honest_episodes(ds: Dataset) -> pl.DataFrame:
    return (
        ds.episodes.filter(pl.col("pattern").is_not_null())
        .select("typology", "start")
        .sort("typology", "start")
    )


@pytest.fixture(scope="module")
def runs() -> dict[str, Dataset]:
    stolen = [{"name": "stolen_card.v1"}]
    return {
        "rare": _run(stolen, fraud={"target_share": 0.0002}),
        "oversampled": _run(stolen, fraud={"target_share": 0.02}),
        "more_fraud": _run(
            [{"name": "card_testing.v1", "schedule": {"episodes": 2}}, *stolen],
            fraud={"target_share": 0.0002},
        ),
    }


def test_lookalikes_ignore_fraud_prevalence(runs: dict[str, Dataset]) -> None:
    rare, oversampled = runs["rare"], runs["oversampled"]
    assert (
        oversampled.fraud_summary["oversampling_factor"]
        > 50 * (rare.fraud_summary["oversampling_factor"])
    )
    honest = _honest_episodes(rare)
    assert honest.height >= 10
    assert honest.equals(_honest_episodes(oversampled))


def test_lookalikes_ignore_the_fraud_typologies_of_the_scenario(runs: dict[str, Dataset]) -> None:
    """Their seed streams are named, not numbered: a fraud typology added before them changes
    none of their episodes."""
    assert _honest_episodes(runs["rare"]).equals(_honest_episodes(runs["more_fraud"]))


def test_lookalike_counts_follow_the_profile(runs: dict[str, Dataset]) -> None:
    counts = dict(runs["rare"].episodes.group_by("typology").len().iter_rows())
    # 1,200 customers for 6 days at 0.04 trips away and bill splits per customer-month: ~10 each.
    for name in ("holiday_abroad.v1", "bill_split_fan_in.v1"):
        assert 2 <= counts.get(name, 0) <= 25, (name, counts)


def test_lookalikes_act_at_honest_hours_not_in_a_daytime_window() -> None:
    ds = run_world(
        [
            {"name": n, "schedule": {"per_customer_month": 0.5}}
            for n in ("family_round_trip.v1", "new_phone_login.v1", "bill_split_fan_in.v1")
        ],
        customers=600,
        days=8,
        seed=4,
    )
    tx = ds.transactions.with_columns(hour=pl.col("timestamp").dt.hour())
    honest = tx.filter(pl.col("episode_id").is_null() & (pl.col("channel") == "online_banking"))
    alike = tx.filter(pl.col("pattern").is_not_null())
    assert alike.height > 100

    def night(frame: pl.DataFrame) -> float:
        return float(((frame["hour"] < 8) | (frame["hour"] >= 22)).mean())

    # As often at night as honest online banking is (within sampling noise), not never.
    assert night(alike) > 0.5 * night(honest) > 0
    assert alike["hour"].n_unique() >= 20
