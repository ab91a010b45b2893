"""Honest account-to-account money looks like people's: typed transfer amounts (round figures,
whole units, exact sums), the same salary every month for most, cash paid in as notes."""

from __future__ import annotations

import numpy as np
import pytest

from fraudsim.calibration import Profile
from fraudsim.config.scenario import ScenarioConfig
from fraudsim.core.ledger import COLUMNS, Batch
from fraudsim.core.units import DAY
from fraudsim.export.schema import TX_TYPES
from fraudsim.world.model import World

TX = {name: i for i, name in enumerate(TX_TYPES)}
DAYS = 45  # 2025-03-20 .. 2025-05-03: the March and April month-end paydays


class _Fixed:
    """A stand-in generator whose uniform draws are all `u`."""

    def __init__(self, u: float) -> None:
        self.u = u

    def random(self, n: int) -> np.ndarray:
        return np.full(n, self.u)


@pytest.fixture(scope="module")
def world(tiny_config: ScenarioConfig) -> World:
    return World(tiny_config.with_overrides(**{"population.customers": 800, "days": DAYS}))


@pytest.fixture(scope="module")
def rows(world: World) -> Batch:
    days = [world.traffic.day(d, world.bank.balances) for d in range(DAYS)]
    return {name: np.concatenate([b[name] for b in days]) for name in COLUMNS}


def _of(rows: Batch, tx_type: str) -> Batch:
    keep = rows["tx_type"] == TX[tx_type]
    return {k: v[keep] for k, v in rows.items()}


def test_typed_amounts_round_to_familiar_figures(world: World, profile: Profile) -> None:
    typed = world.traffic.typed_amounts
    amounts = np.array([320, 2_340, 6_020, 13_100, 48_000, 243_000])  # minor units
    rounded = typed(_Fixed(0.0), amounts)  # below the round share
    np.testing.assert_array_equal(rounded, [500, 2_500, 6_000, 14_000, 50_000, 240_000])
    whole = typed(_Fixed(profile.transfers.p2p_round_share + 1e-9), amounts)
    np.testing.assert_array_equal(whole, [300, 2_300, 6_000, 13_100, 48_000, 243_000])
    exact = typed(_Fixed(0.999), np.array([2_341.7]))
    np.testing.assert_array_equal(exact, [2_342])
    # Rounded down, a typed amount never exceeds the sum meant.
    down = typed(_Fixed(0.0), amounts, down=True)
    np.testing.assert_array_equal(down, [300, 2_000, 6_000, 12_000, 40_000, 240_000])


def test_p2p_amounts_mix_round_whole_and_exact(rows: Batch) -> None:
    """Round p2p amounts are common in honest life (not a fraud marker), and so are cents."""
    p2p = _of(rows, "p2p_transfer")["amount"]
    assert len(p2p) > 300
    assert 0.2 < np.mean(p2p % 1_000 == 0) < 0.45  # multiples of 10
    assert 0.3 < np.mean(p2p % 100 != 0) < 0.5  # with cents


def test_salaries_repeat_month_to_month(rows: Batch, profile: Profile) -> None:
    pay = _of(rows, "salary")
    customers, counts = np.unique(pay["customer"], return_counts=True)
    twice = customers[counts == 2]
    assert len(twice) > 50
    first = {c: a for c, a in zip(pay["customer"][::-1], pay["amount"][::-1], strict=True)}
    last = {c: a for c, a in zip(pay["customer"], pay["amount"], strict=True)}
    same = np.mean([first[c] == last[c] for c in twice])
    assert same == pytest.approx(1 - profile.transfers.salary_variable_share, abs=0.1)
    change = np.array([abs(last[c] / first[c] - 1) for c in twice])
    assert np.quantile(change, 0.95) < 0.3  # variable pay stays near the usual amount


def test_pensions_never_change(rows: Batch) -> None:
    pay = _of(rows, "pension")
    for customer in np.unique(pay["customer"]):
        assert len(set(pay["amount"][pay["customer"] == customer].tolist())) == 1


def test_cash_is_paid_in_as_notes(rows: Batch, profile: Profile) -> None:
    deposits = _of(rows, "cash_deposit")["amount"]
    step = round(profile.transfers.cash_deposit_step * profile.minor_per_major)
    assert len(deposits) > 20
    assert (deposits % step == 0).all()


def test_transfers_keep_online_banking_hours(rows: Batch, profile: Profile) -> None:
    p2p = _of(rows, "p2p_transfer")
    hour = p2p["t"] % DAY // 3600
    observed = np.bincount(hour, minlength=24) / len(hour)
    target = np.asarray(profile.calendar.hour_weights_online_banking)
    assert np.abs(observed - target / target.sum()).sum() < 0.2
