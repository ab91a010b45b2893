"""The Mesa world: runs every day, keeps Mesa's clock and data collector in step."""

from __future__ import annotations

import numpy as np
import pytest

from fraudsim.config.scenario import ScenarioConfig
from fraudsim.core.ledger import Batch
from fraudsim.dataset import Dataset
from fraudsim.world.model import World
from fraudsim.world.traffic.legit import DAY


@pytest.fixture(scope="module")
def ran(small_config: ScenarioConfig) -> tuple[World, list[tuple[int, Batch]]]:
    """A small world run to the end, with every settled day captured."""
    world = World(small_config)
    seen: list[tuple[int, Batch]] = []
    world.day_callbacks.append(lambda day, rows: seen.append((day, rows)))
    world.run()
    return world, seen


def test_world_runs_every_day_once(ran: tuple[World, list], small_config: ScenarioConfig) -> None:
    _, seen = ran
    assert [day for day, _ in seen] == list(range(small_config.days))


def test_settled_rows_belong_to_their_day(ran: tuple[World, list]) -> None:
    _, seen = ran
    for day, rows in seen:
        assert len(rows["t"]) > 0
        assert rows["t"].min() >= day * DAY and rows["t"].max() < (day + 1) * DAY


def test_datacollector_has_one_row_per_day(
    ran: tuple[World, list], small_config: ScenarioConfig
) -> None:
    world, _ = ran
    frame = world.datacollector.get_model_vars_dataframe()
    assert len(frame) == small_config.days
    assert frame["day"].tolist() == list(range(small_config.days))


def test_mesa_time_equals_days_elapsed(
    ran: tuple[World, list], small_config: ScenarioConfig
) -> None:
    world, _ = ran
    assert world.time == small_config.days
    assert world.steps == small_config.days
    assert world.env.now >= small_config.days * DAY


def test_collected_counts_match_settled_rows(ran: tuple[World, list]) -> None:
    world, seen = ran
    frame = world.datacollector.get_model_vars_dataframe()
    assert frame["transactions"].tolist() == [len(rows["t"]) for _, rows in seen]
    assert frame["declined"].tolist() == [int(rows["is_declined"].sum()) for _, rows in seen]
    assert frame["fraud_transactions"].sum() == 0


def test_bank_balances_follow_settled_rows(ran: tuple[World, list]) -> None:
    """End balances = opening + every accepted movement of every day."""
    world, seen = ran
    pop = world.population
    n = len(pop.accounts["kind"])
    change = np.zeros(n, np.int64)
    for _, rows in seen:
        ok = ~rows["is_declined"]
        signed = np.where(rows["direction"] == 1, rows["amount"], -rows["amount"])
        np.add.at(change, rows["account"][ok], signed[ok])
        cp = ok & (rows["counterparty"] >= 0)
        np.add.at(change, rows["counterparty"][cp], rows["amount"][cp])
    np.testing.assert_array_equal(world.bank.balances, pop.accounts["opening_balance"] + change)
    assert (world.bank.balances >= pop.accounts["floor"]).all()


def test_world_currency_defaults_to_profile(world: World) -> None:
    assert world.currency == world.profile.meta.currency


def test_scenario_currency_overrides_profile(tiny_config: ScenarioConfig) -> None:
    cfg = tiny_config.with_overrides(currency="GBP", days=1, **{"population.customers": 100})
    assert World(cfg).currency == "GBP"


def test_daily_stats_sum_equals_transactions(dataset: Dataset, tiny_config: ScenarioConfig) -> None:
    stats = dataset.daily_stats
    assert stats.height == tiny_config.days
    assert int(stats["transactions"].sum()) == dataset.transactions.height
    assert int(stats["declined"].sum()) == int(dataset.transactions["is_declined"].sum())
    assert dataset.row_counts()["transactions"] == dataset.transactions.height


def test_merchants_become_agents_only_when_they_decide(small_config: ScenarioConfig) -> None:
    world = World(small_config)
    merchants = world.merchant_agents
    assert len(merchants) == len(world.population.merchants["id"])
    assert not merchants.active  # none built up front
    rows = {
        "merchant": np.array([3] * 30 + [5] * 30, dtype=np.int64),
        "is_declined": np.array([True] * 20 + [False] * 10 + [False] * 30),
    }
    world._review_merchants(rows)  # type: ignore[arg-type]
    assert sorted(merchants.active) == [3]  # a burst of declines at 3; 5 had none
    assert merchants.requires_step_up(3) and not merchants.requires_step_up(5)
    assert merchants[3] in world.agents
    with pytest.raises(IndexError):
        merchants[len(merchants)]
