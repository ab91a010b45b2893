"""Episode counts grow with the population; prevalence control scales fraud only; the manifest
records the oversampling against the published prevalence; shards add up to the whole."""

from __future__ import annotations

from typing import Any

import pytest

from fraudsim.config.scenario import validate_scenario
from fraudsim.config.schedule import REFERENCE_CUSTOMERS, Schedule
from fraudsim.world.model import World


def _world(typologies: list[dict[str, Any]], customers: int, shard: int = 0, **extra: Any) -> World:
    """A world built but not run: the engine plans its episodes when it is built."""
    config = validate_scenario(
        {
            "name": "scaling",
            "seed": 9,
            "days": 30,
            "population": {"customers": customers, **extra.pop("population", {})},
            "typologies": typologies,
            **extra,
        },
        "test",
    )
    return World(config, shard=shard)


def _expected(world: World) -> dict[str, float]:
    return {
        t.name: e
        for t, e in zip(world.fraud.typologies, world.fraud.expected_episodes, strict=True)
    }


def test_schedule_rates() -> None:
    assert Schedule(episodes=7).expected_episodes(30, 1.0, customers=10) == 7
    assert Schedule(rate_per_day=2.0).expected_episodes(30, 1.0, customers=10) == 60
    # A typology default is per REFERENCE_CUSTOMERS customers: it grows with the population.
    assert Schedule().expected_episodes(30, 1.0, customers=REFERENCE_CUSTOMERS) == 30
    assert Schedule().expected_episodes(30, 1.0, customers=2 * REFERENCE_CUSTOMERS) == 60
    per = Schedule(per_customer_month=0.01)
    assert per.expected_episodes(30, 1.0, customers=1000) == pytest.approx(10)
    assert per.expected_episodes(15, 1.0, customers=1000) == pytest.approx(5)
    with pytest.raises(ValueError, match="one of"):
        Schedule(rate_per_day=1.0, per_customer_month=0.1)


def test_default_and_honest_rates_grow_with_the_population() -> None:
    entries = [{"name": "card_testing.v1"}, {"name": "holiday_abroad.v1"}]
    small, large = _world(entries, 500), _world(entries, 1500)
    a, b = _expected(small), _expected(large)
    for name in a:
        assert b[name] == pytest.approx(3 * a[name])
    # The look-alike runs at the profile's honest rate per customer and month.
    rate = small.profile.lookalikes.trips_away_per_customer_month
    assert a["holiday_abroad.v1"] == pytest.approx(rate * 500)


def test_prevalence_target_scales_fraud_but_not_honest_life() -> None:
    entries = [{"name": "stolen_card.v1"}, {"name": "bill_split_fan_in.v1"}]
    worlds = [
        _world(entries, 2000, fraud={"target_share": share}) for share in (0.0005, 0.005, 0.05)
    ]
    scales = [w.fraud.scale for w in worlds]
    assert scales[0] < scales[1] < scales[2]
    assert scales[2] == pytest.approx(scales[1] * 10 * 0.995 / 0.95, rel=1e-6)
    honest = {w.fraud.summary()["expected_episodes"][1] for w in worlds}
    assert len(honest) == 1  # the same honest bill splits whatever the fraud prevalence
    rate = worlds[0].profile.lookalikes.bill_split_per_customer_month
    assert honest.pop() == pytest.approx(rate * 2000)


def test_summary_records_oversampling_against_the_published_share() -> None:
    world = _world([{"name": "stolen_card.v1"}], 500, fraud={"target_share": 0.003})
    summary = world.fraud.summary()
    published = world.profile.fraud.prevalence_count_share
    assert summary["published_share"] == published
    assert summary["oversampling_vs_published"] == pytest.approx(0.003 / published, rel=1e-3)
    plain = _world([{"name": "stolen_card.v1"}], 500).fraud.summary()
    assert plain["oversampling_vs_published"] is None and plain["oversampling_factor"] == 1.0


def test_shards_share_out_the_expected_episodes() -> None:
    entries = [
        {"name": "card_testing.v1"},
        {"name": "new_customer.v1"},
        {"name": "subscription_micro_charges.v1"},
    ]
    whole = _expected(_world(entries, 900))
    parts = [
        _expected(_world(entries, 900, shard=k, population={"shard_size": 300})) for k in range(3)
    ]
    for name, total in whole.items():
        assert sum(p[name] for p in parts) == pytest.approx(total)


def test_subscriptions_are_a_stock_not_a_flow() -> None:
    """A standing behaviour: so many per customer whatever the run's length."""
    entries = [{"name": "subscription_micro_charges.v1"}]
    month = _expected(_world(entries, 1000))["subscription_micro_charges.v1"]
    quarter = _expected(_world(entries, 1000, days=90))["subscription_micro_charges.v1"]
    world = _world(entries, 1000)
    assert (
        month
        == quarter
        == pytest.approx(world.profile.lookalikes.subscriptions_per_customer * 1000)
    )
