"""Honest card spending looks like people's: bursts, sessions, outings, price endings, and each
channel's own hours, while the profile's counts and mixes hold."""

from __future__ import annotations

import numpy as np
import pytest

from fraudsim.calibration import Profile
from fraudsim.config.scenario import ScenarioConfig
from fraudsim.core.ledger import COLUMNS, Batch
from fraudsim.core.units import DAY, HOUR, MINUTE
from fraudsim.export.schema import CHANNELS, TX_TYPES
from fraudsim.world.model import World
from fraudsim.world.traffic.calendar import HourCurves

TX = {name: i for i, name in enumerate(TX_TYPES)}
CH = {name: i for i, name in enumerate(CHANNELS)}
DAYS = 14


Drawn = tuple[World, Batch, list[tuple[int, Batch]]]


@pytest.fixture(scope="module")
def drawn(tiny_config: ScenarioConfig) -> Drawn:
    """A fresh world's honest rows over two weeks (its own world: traffic has state), and the
    rows each day handed on to later days, with the day that drew them."""
    world = World(tiny_config.with_overrides(**{"population.customers": 1_200, "days": DAYS}))
    days, later = [], []
    for d in range(DAYS):
        days.append(world.traffic.day(d, world.bank.balances))
        later += [(d, b) for b in world.traffic.take_future()]
    rows = {name: np.concatenate([b[name] for b in days]) for name in COLUMNS}
    return world, rows, later


@pytest.fixture(scope="module")
def purchases(drawn: Drawn) -> Batch:
    rows = drawn[1]
    keep = rows["tx_type"] == TX["purchase"]
    order = np.lexsort((rows["t"][keep], rows["card"][keep]))
    return {k: v[keep][order] for k, v in rows.items()}


def _previous_24h(p: Batch) -> np.ndarray:
    """Purchases on the same card in the 24 hours before each purchase (sorted by card, t)."""
    key = p["card"].astype(np.int64) * (100 * DAY) + p["t"]
    return np.searchsorted(key, key, "left") - np.searchsorted(key, key - DAY, "left")


def test_honest_cards_burst_at_plausible_rates(purchases: Batch) -> None:
    """Heavy days, sessions and outings: a few % of genuine purchases follow >= 5 on the card
    in 24 h and a few per mille >= 10 (card testing must not own the shape)."""
    before = _previous_24h(purchases)
    assert 0.01 < np.mean(before >= 5) < 0.12
    assert 0.0 < np.mean(before >= 10) < 0.03


def test_sessions_are_minutes_apart_never_the_same_second(purchases: Batch) -> None:
    same_card = np.diff(purchases["card"]) == 0
    gap = np.diff(purchases["t"])[same_card]
    same_merchant = (np.diff(purchases["merchant"]) == 0)[same_card]
    assert (gap > 0).all()  # no two charges of a card in one second
    # Charges at one merchant within ten minutes: baskets split, in-app purchases, taps.
    assert np.mean(same_merchant & (gap < 10 * MINUTE)) > 0.01


def test_counts_channels_and_categories_hold(
    purchases: Batch, drawn: Drawn, profile: Profile
) -> None:
    """Sessions add purchases, so sessions start less often: the profile's figures hold."""
    world = drawn[0]
    n_cards = len(world.population.cards["customer_idx"])
    per_month = len(purchases["t"]) / n_cards / DAYS * 30.44
    assert per_month == pytest.approx(profile.cards.purchases_per_card_month, rel=0.15)
    cnp = purchases["channel"] == CH["cnp"]
    assert cnp.mean() == pytest.approx(profile.cards.cnp_share, abs=0.03)
    category = world.population.merchants["category"][purchases["merchant"]]
    n_cat = len(profile.cards.categories)
    for mask, attr in ((~cnp, "pos_share"), (cnp, "cnp_share")):
        target = np.array([getattr(c, attr) for c in profile.cards.categories])
        got = np.bincount(category[mask], minlength=n_cat)[:n_cat]
        assert np.abs(target / target.sum() - got / got.sum()).sum() < 0.1


def test_shelf_prices_end_in_99_baskets_do_not(purchases: Batch, drawn: Drawn) -> None:
    pop = drawn[0].population
    cents = purchases["amount"] % 100
    category = pop.merchants["category"][purchases["merchant"]]
    apps = category == pop.categories.index("digital_goods")
    fuel = category == pop.categories.index("fuel")
    assert np.mean(cents[apps] == 99) > 0.25  # app stores price at .99
    assert np.mean(cents[fuel] == 99) < 0.08  # a fill-up is litres times a price
    assert np.mean(cents % 10 == 9) > 0.15  # 9 is the commonest ending


def test_each_channel_keeps_its_hours(drawn: Drawn) -> None:
    rows = drawn[1]
    hour = rows["t"] % DAY // HOUR

    def share(channel: str, hours: range) -> float:
        sel = rows["channel"] == CH[channel]
        return float(np.isin(hour[sel], list(hours)).mean())

    evening, night = range(19, 23), range(0, 6)
    assert share("cnp", evening) > share("pos", evening) + 0.05
    assert share("cnp", night) > 2 * share("atm", night)
    assert share("online_banking", range(8, 11)) > share("pos", range(8, 11))


def test_atm_hours_rise_on_friday_evenings(profile: Profile) -> None:
    curves = HourCurves(profile)
    evening = slice(19, 24)

    def weights(weekday: int) -> np.ndarray:
        cdf = curves.curve("atm", weekday)
        return np.diff(cdf, prepend=0.0) / cdf[-1]

    assert weights(4)[evening].sum() > 1.3 * weights(2)[evening].sum()
    assert weights(5)[0:3].sum() > weights(1)[0:3].sum()
    # Channels without a shape of their own use the all-card shape.
    np.testing.assert_allclose(curves.curve("all", 0)[-1], 1.0)


def test_sessions_past_midnight_wait_for_their_day(drawn: Drawn) -> None:
    spilled = [(d, b) for d, b in drawn[2] if (b["tx_type"] == TX["purchase"]).all()]
    assert spilled, "some sessions and outings run past midnight"
    for d, b in spilled:
        assert (b["t"] >= (d + 1) * DAY).all()
        assert (b["t"] < (d + 2) * DAY).all()


class _Fixed:
    """A stand-in generator whose uniform draws are all `u`."""

    def __init__(self, u: float) -> None:
        self.u = u

    def random(self, n: int) -> np.ndarray:
        return np.full(n, self.u)


def test_price_points_keep_the_units_and_set_the_cents(drawn: Drawn) -> None:
    world = drawn[0]
    pop = world.population
    apps, atm = pop.categories.index("digital_goods"), pop.categories.index("atm")
    amounts = np.array([1_234, 57, 1_234])
    category = np.array([apps, apps, atm])
    # The lowest draws: a shelf price with the first ending (.99) where the category has any.
    priced = world.traffic.price_points(_Fixed(0.0), amounts, category)
    np.testing.assert_array_equal(priced, [1_299, 99, 1_234])
    # The highest draws: the basket sum stays as it is.
    np.testing.assert_array_equal(
        world.traffic.price_points(_Fixed(0.999), amounts, category), amounts
    )
