"""When the bank learns that a row is fraud (`reported_at`, set by world.actions and confirmed
by the bank after settlement): always after the row, never for declined attempts nobody sees
unless the bank caught the episode itself, and per victim in episodes with many victims."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from fraudsim.config.scenario import validate_scenario
from fraudsim.core.units import DAY
from fraudsim.dataset import Dataset
from fraudsim.typologies.base import Episode
from fraudsim.world.agents.cases import NEVER
from fraudsim.world.model import World
from tests.helpers import run_world


@pytest.fixture(scope="module")
def card_fraud() -> Dataset:
    return run_world(
        [
            {"name": "card_testing.v1", "schedule": {"rate_per_day": 1.0}},
            {"name": "cnp_stolen_credentials.v1", "schedule": {"rate_per_day": 1.0}},
            {"name": "compromised_terminal.v1", "schedule": {"episodes": 1}},
            {"name": "stolen_card.v1", "schedule": {"rate_per_day": 0.5}},
        ],
        customers=600,
        days=12,
        seed=21,
    )


def test_reports_come_after_the_rows(card_fraud: Dataset) -> None:
    tx = card_fraud.transactions
    reported = tx.filter(pl.col("reported_at").is_not_null())
    assert reported.height > 0
    assert (reported["reported_at"] > reported["timestamp"]).all()


def test_declined_attempts_are_reported_only_when_the_bank_caught_the_episode(
    card_fraud: Dataset,
) -> None:
    tx = card_fraud.transactions
    caught = card_fraud.episodes.filter(
        pl.col("detected_by").is_not_null() & (pl.col("detected_by") != "report")
    )["episode_id"]
    declined = tx.filter(pl.col("is_fraud") & pl.col("is_declined"))
    assert declined.height > 0
    flagged = declined.filter(pl.col("reported_at").is_not_null())
    assert flagged["episode_id"].is_in(caught.implode()).all()
    tests = declined.filter(pl.col("fraud_type") == "card_testing.v1")
    unseen = tests.filter(~pl.col("episode_id").is_in(caught.implode()))
    assert unseen.height > 0 and unseen["reported_at"].is_null().all()


def _world() -> World:
    config = {
        "name": "reports_test",
        "seed": 2,
        "days": 2,
        "population": {"customers": 200},
        "typologies": [{"name": "card_testing.v1", "schedule": {"episodes": 0}}],
    }
    return World(validate_scenario(config, "test"))


def test_each_victim_reports_their_own_losses() -> None:
    world = _world()
    ch = world.fraud.channels
    ep = Episode(
        id=1,
        index=0,
        typology="card_testing.v1",
        label=None,
        start=0,
        fraudster=None,
    )
    ep.report_at = 30 * DAY
    world.fraud.episodes.append(ep)
    cards = world.population.cards
    first = ch._reported_at(ep, "victim", {"customer": 0, "card": 0}, True)
    assert first == ep.report_at  # the engine's report is the first victim's
    others = []
    for customer in range(1, 60):
        card = int(np.flatnonzero(cards["customer_idx"] == customer)[0])
        at = ch._reported_at(ep, "victim", {"customer": customer, "card": card}, True)
        assert 0 < at <= ep.report_at
        if at < ep.report_at:
            # The victim called the bank: their card is blocked from then on.
            assert world.bank.card_blocked_at[card] == at
        else:
            assert world.bank.card_blocked_at[card] == NEVER
        others.append(at)
    assert len(set(others)) > 10  # one report time per victim, not one for all
    # A row after the episode's report needs a later report.
    world.env.run(until=31 * DAY)
    later = ch._reported_at(ep, "victim", {"customer": 0, "card": 0}, True)
    assert later == -1 or later > world.env.now
