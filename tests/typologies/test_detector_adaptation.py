"""Fraudsters who learnt from detector blocks (`Typology.evasion`) look more ordinary.

Each test runs the same tiny world twice, naive (evasion 0) and after learning (evasion set
high before the run), and compares the features a detector would use.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from fraudsim.config.scenario import validate_scenario
from fraudsim.world.model import World
from fraudsim.world.tables import transactions_frame


def _fraud_rows(typology: str, evasion: float, adaptive: bool = True) -> tuple[World, pl.DataFrame]:
    config = validate_scenario(
        {
            "name": "evasion",
            "seed": 5,
            "days": 6,
            "population": {"customers": 800},
            "fraud": {"adaptive": adaptive},
            "typologies": [{"name": typology, "schedule": {"episodes": 12}}],
        },
        "test",
    )
    world = World(config)
    for typ in world.fraud.typologies:
        typ.evasion = evasion
    frames: list[pl.DataFrame] = []
    world.day_callbacks.append(lambda day, rows: frames.append(transactions_frame(world, rows)))
    world.run()
    return world, pl.concat(frames).filter(pl.col("is_fraud"))


def _own_device_share(world: World, fraud: pl.DataFrame) -> float:
    """Share of fraud rows with a device made from the customer's own first device."""
    pop = world.population
    own = pop.devices["id"][pop.customers["first_device"]]
    by_customer = dict(zip(pop.customers["id"].tolist(), own.tolist(), strict=True))
    rows = fraud.filter(pl.col("device_id").is_not_null())
    hits = [
        by_customer.get(c) == d for c, d in zip(rows["customer_id"], rows["device_id"], strict=True)
    ]
    return float(np.mean(hits)) if hits else 0.0


def test_cnp_credentials_learn_ordinary_tickets_and_the_victims_device() -> None:
    world0, naive = _fraud_rows("cnp_stolen_credentials.v1", 0.0)
    world1, learnt = _fraud_rows("cnp_stolen_credentials.v1", 0.95)
    # Naive tickets are inflated (and split under step-up once declined); learnt ones are not.
    assert learnt["amount"].mean() < 0.7 * naive["amount"].mean()
    assert learnt["amount"].max() < 0.5 * naive["amount"].max()
    assert _own_device_share(world0, naive) == 0.0
    assert _own_device_share(world1, learnt) > 0.7


def test_card_testing_learns_larger_slower_tests() -> None:
    _, naive = _fraud_rows("card_testing.v1", 0.0)
    _, learnt = _fraud_rows("card_testing.v1", 0.9)
    assert learnt["amount"].median() > 3 * naive["amount"].median()
    gap = pl.col("timestamp").diff().dt.total_seconds().median()
    assert learnt.sort("timestamp").select(gap).item() > naive.sort("timestamp").select(gap).item()


def test_stolen_card_learns_smaller_purchases() -> None:
    _, naive = _fraud_rows("stolen_card.v1", 0.0)
    _, learnt = _fraud_rows("stolen_card.v1", 0.9)
    assert learnt["amount"].mean() < 0.6 * naive["amount"].mean()


def test_account_takeover_learns_the_victims_device() -> None:
    world, learnt = _fraud_rows("account_takeover.v1", 0.95)
    assert _own_device_share(world, learnt.filter(pl.col("account_role") == "victim")) > 0.7


@pytest.mark.parametrize("typology", ["cnp_stolen_credentials.v1", "account_takeover.v1"])
def test_non_adaptive_fraudsters_ignore_what_was_learnt(typology: str) -> None:
    """`fraud.adaptive = false`: even a set evasion changes nothing."""
    _, naive = _fraud_rows(typology, 0.0, adaptive=False)
    _, ignored = _fraud_rows(typology, 0.95, adaptive=False)
    assert naive.drop("transaction_id").equals(ignored.drop("transaction_id"))
