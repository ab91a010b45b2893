"""Legit traffic: one day's rows, their shape per type, and reproducibility."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from fraudsim.config.scenario import ScenarioConfig
from fraudsim.core.ledger import COLUMNS, Batch
from fraudsim.export.schema import CHANNELS, TX_TYPES
from fraudsim.world.model import World
from fraudsim.world.population import Population
from fraudsim.world.traffic.legit import DAY, Calendar, LegitTraffic

TX = {name: i for i, name in enumerate(TX_TYPES)}
CH = {name: i for i, name in enumerate(CHANNELS)}
CHECKING, SAVINGS, CREDIT = 0, 1, 2


def _owed_balances(world: World) -> np.ndarray:
    """Opening balances with every credit-card account owing money (so repayments happen)."""
    balances = world.population.accounts["opening_balance"].copy()
    balances[world.population.accounts["kind"] == CREDIT] = -12_345
    return balances


@pytest.fixture(scope="module")
def days(world: World, tiny_config: ScenarioConfig) -> dict[int, Batch]:
    """Every day of the tiny scenario drawn from the world's traffic (start balances)."""
    out = {}
    for d in range(tiny_config.days):
        # Every credit card owes money, so each repays on its own due day.
        out[d] = world.traffic.day(d, _owed_balances(world))
    return out


@pytest.fixture(scope="module")
def rows(days: dict[int, Batch]) -> Batch:
    return {name: np.concatenate([b[name] for b in days.values()]) for name in COLUMNS}


def _of(rows: Batch, tx_type: str) -> Batch:
    keep = rows["tx_type"] == TX[tx_type]
    return {k: v[keep] for k, v in rows.items()}


def test_all_ledger_columns_present_with_dtypes(days: dict[int, Batch]) -> None:
    batch = days[0]
    assert set(batch) == set(COLUMNS)
    for name, dtype in COLUMNS.items():
        assert batch[name].dtype == dtype, name
        assert len(batch[name]) == len(batch["t"]), name


def test_rows_lie_within_their_day(days: dict[int, Batch]) -> None:
    for d, batch in days.items():
        assert len(batch["t"]) > 0
        assert batch["t"].min() >= d * DAY, d
        # Returns are credited 1-14 days after the purchase; everything else is today's.
        today = batch["tx_type"] != TX_TYPES.index("refund")
        assert batch["t"][today].max() < (d + 1) * DAY, d
        later = batch["t"][~today]
        assert ((later >= (d + 1) * DAY) & (later < (d + 15) * DAY)).all(), d


def test_every_legit_type_appears(rows: Batch) -> None:
    seen = {TX_TYPES[i] for i in np.unique(rows["tx_type"])}
    expected = {
        "purchase",
        "atm_withdrawal",
        "p2p_transfer",
        "bill_payment",
        "rent",
        "salary",
        "pension",
        "savings_transfer",
        "card_repayment",
    }
    assert expected <= seen


def test_amounts_positive_integers(rows: Batch) -> None:
    assert rows["amount"].dtype == np.int64
    assert (rows["amount"] > 0).all()


def test_no_fraud_and_nothing_declined_before_settlement(rows: Batch) -> None:
    assert not rows["is_fraud"].any()
    assert (rows["episode"] == -1).all() and (rows["fraud_type"] == -1).all()
    assert (rows["reported_at"] == -1).all()
    assert not rows["is_declined"].any()


def test_internal_rows_carry_no_public_id(rows: Batch) -> None:
    """Public transaction ids are given at export, after honest and fraud rows are merged."""
    assert (rows["txid"] == 0).all()


def test_purchases_have_card_and_merchant(rows: Batch, population: Population) -> None:
    p = _of(rows, "purchase")
    assert len(p["t"]) > 1000
    assert (p["card"] >= 0).all() and (p["merchant"] >= 0).all()
    assert (p["direction"] == 0).all()
    assert (p["counterparty"] == -1).all()
    # The card is the customer's and draws on the debited account.
    cards = population.cards
    np.testing.assert_array_equal(cards["customer_idx"][p["card"]], p["customer"])
    np.testing.assert_array_equal(cards["account_idx"][p["card"]], p["account"])
    assert set(np.unique(p["channel"]).tolist()) == {CH["pos"], CH["cnp"]}


def test_pos_purchases_have_own_terminal_and_no_device(rows: Batch, population: Population) -> None:
    p = _of(rows, "purchase")
    pos = p["channel"] == CH["pos"]
    assert pos.any()
    assert (p["terminal"][pos] >= 0).all()
    assert (p["device"][pos] == -1).all()
    assert not population.merchants["online"][p["merchant"][pos]].any()
    # The terminal belongs to the merchant charged.
    np.testing.assert_array_equal(
        population.terminals["merchant_idx"][p["terminal"][pos]], p["merchant"][pos]
    )


def test_cnp_purchases_have_own_device_and_no_terminal(rows: Batch, population: Population) -> None:
    p = _of(rows, "purchase")
    cnp = p["channel"] == CH["cnp"]
    assert cnp.any()
    assert (p["terminal"][cnp] == -1).all()
    assert (p["device"][cnp] >= 0).all()
    assert population.merchants["online"][p["merchant"][cnp]].all()
    # Each customer's own devices, or the household's shared tablet/laptop (registered to the
    # head of the household): honest customers do share devices at home.
    device, customer = p["device"][cnp], p["customer"][cnp]
    assert population.households is not None
    shared = population.households.shared_device_of(customer) == device
    assert ((population.devices["customer_idx"][device] == customer) | shared).all()
    assert shared.any()


def test_purchases_only_at_card_categories(rows: Batch, population: Population) -> None:
    p = _of(rows, "purchase")
    names = np.asarray(population.categories)[population.merchants["category"][p["merchant"]]]
    assert not np.isin(names, ["atm", "utilities", "telecom", "insurance"]).any()


def test_atm_withdrawals(rows: Batch, population: Population) -> None:
    a = _of(rows, "atm_withdrawal")
    assert len(a["t"]) > 0
    assert (a["channel"] == CH["atm"]).all()
    # mostly debit cards; credit cards only for the rarer cash advances
    assert (population.cards["kind"][a["card"]] == 0).mean() > 0.8
    names = np.asarray(population.categories)[population.merchants["category"][a["merchant"]]]
    assert (names == "atm").all()
    np.testing.assert_array_equal(
        population.terminals["merchant_idx"][a["terminal"]], a["merchant"]
    )
    assert (a["amount"] % 1_000 == 0).all()  # multiples of EUR 10


@pytest.mark.parametrize("tx_type", ["salary", "pension"])
def test_income_is_credit_to_own_checking(
    rows: Batch, population: Population, tx_type: str
) -> None:
    r = _of(rows, tx_type)
    assert len(r["t"]) > 0
    assert (r["direction"] == 1).all()
    assert (r["channel"] == CH["incoming"]).all()
    np.testing.assert_array_equal(r["account"], population.customers["checking_idx"][r["customer"]])
    assert (population.accounts["kind"][r["account"]] == CHECKING).all()
    assert (r["card"] == -1).all() and (r["counterparty"] == -1).all()
    retired = population.customers["segment"][r["customer"]] == 2
    assert retired.all() if tx_type == "pension" else not retired.any()


@pytest.mark.parametrize(
    ("tx_type", "counterparty_kind"),
    [("p2p_transfer", CHECKING), ("savings_transfer", SAVINGS), ("card_repayment", CREDIT)],
)
def test_internal_transfers_have_counterparty(
    rows: Batch, population: Population, tx_type: str, counterparty_kind: int
) -> None:
    r = _of(rows, tx_type)
    # transfers to and from other banks have no counterparty account here; withdrawals from
    # savings run the other way (savings -> checking)
    keep = (r["direction"] == 0) & (r["counterparty"] >= 0)
    keep &= population.accounts["kind"][r["account"]] == CHECKING
    r = {k: v[keep] for k, v in r.items()}
    assert len(r["t"]) > 0
    acc = population.accounts
    assert (r["counterparty"] >= 0).all()
    assert (r["counterparty"] != r["account"]).all()
    assert (acc["kind"][r["account"]] == CHECKING).all()
    assert (acc["kind"][r["counterparty"]] == counterparty_kind).all()
    own = acc["customer_idx"][r["counterparty"]] == r["customer"]
    # Savings and card repayments stay with the customer; p2p goes to someone else.
    assert (~own).all() if tx_type == "p2p_transfer" else own.all()


def test_card_repayment_pays_what_is_owed(
    days: dict[int, Batch], world: World, tiny_config: ScenarioConfig
) -> None:
    """Each card holder repays what is owed on the card's own due day (a business day)."""
    holders = world.population.customers["credit_idx"] >= 0
    cal = Calendar(tiny_config.start_date)
    seen = 0
    for d, batch in days.items():
        info = cal.day(d)
        due = Calendar.business_day_map(info)[world.traffic.repay_day] == info.day_of_month
        r = _of(batch, "card_repayment")
        assert sorted(r["customer"].tolist()) == np.flatnonzero(holders & due).tolist(), d
        assert (r["amount"] == 12_345).all()
        seen += len(r["t"])
    assert seen > 0
    # Due days are spread over the month, not one day for everyone.
    assert len(np.unique(world.traffic.repay_day[holders])) > 10
    # With nothing owed (opening balances), nobody repays.
    busiest = max(days, key=lambda d: (days[d]["tx_type"] == TX["card_repayment"]).sum())
    none_owed = world.traffic.day(busiest, world.population.accounts["opening_balance"].copy())
    assert not (none_owed["tx_type"] == TX["card_repayment"]).any()


def test_bills_and_rent_are_debits_of_checking(rows: Batch, population: Population) -> None:
    for tx_type in ("bill_payment", "rent"):
        r = _of(rows, tx_type)
        assert len(r["t"]) > 0, tx_type
        assert (r["direction"] == 0).all()
        np.testing.assert_array_equal(
            r["account"], population.customers["checking_idx"][r["customer"]]
        )
    bills = _of(rows, "bill_payment")
    assert (bills["merchant"] >= 0).all() and (bills["card"] == -1).all()


def test_same_day_twice_is_identical(tiny_config: ScenarioConfig) -> None:
    """Fresh worlds with the same seed draw the same days (traffic follows honest balances,
    so days are drawn in order)."""
    a, b = World(tiny_config), World(tiny_config)
    for day in range(4):
        a.traffic.day(day, a.bank.balances)
        b.traffic.day(day, b.bank.balances)
    day_a = a.traffic.day(4, a.bank.balances)
    day_b = b.traffic.day(4, b.bank.balances)
    for name in COLUMNS:
        np.testing.assert_array_equal(day_a[name], day_b[name], err_msg=name)


def test_different_seed_changes_the_day(tiny_config: ScenarioConfig, world: World) -> None:
    other = World(tiny_config.with_overrides(seed=tiny_config.seed + 1))
    a = world.traffic.day(2, world.bank.balances.copy())
    b = other.traffic.day(2, other.bank.balances.copy())
    assert len(a["t"]) != len(b["t"]) or not np.array_equal(a["amount"], b["amount"])


def test_fresh_traffic_object_matches_world_traffic(tiny_config: ScenarioConfig) -> None:
    world = World(tiny_config)
    fresh = LegitTraffic(world.population, world.profile, world.streams, world.calendar)
    for day in range(3):
        fresh.day(day, world.bank.balances.copy())
        world.traffic.day(day, world.bank.balances.copy())
    a = fresh.day(3, world.bank.balances.copy())
    b = world.traffic.day(3, world.bank.balances.copy())
    for name in COLUMNS:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def test_weekend_has_fewer_standing_payments(
    days: dict[int, Batch], tiny_config: ScenarioConfig
) -> None:
    """Salaries, bills and rent are paid on business days only."""
    scheduled = [
        TX["salary"],
        TX["pension"],
        TX["bill_payment"],
        TX["rent"],
        TX["savings_transfer"],
    ]
    for d, batch in days.items():
        if (tiny_config.start_date + dt.timedelta(days=d)).weekday() >= 5:
            # standing orders only: savers may move money back from savings any day online
            standing = batch["channel"] != CH["online_banking"]
            assert not np.isin(batch["tx_type"][standing], scheduled).any(), d


def test_business_day_map_moves_weekends() -> None:
    cal = Calendar(dt.date(2025, 3, 1))
    # March 2025: the 1st is a Saturday, the 31st a Monday; the 30th a Sunday.
    mapping = Calendar.business_day_map(cal.day(0))
    assert mapping[1] == 3  # Saturday 1st -> Monday 3rd
    assert mapping[2] == 3  # Sunday 2nd -> Monday 3rd
    assert mapping[8] == 7  # Saturday 8th -> Friday 7th
    assert mapping[31] == 31
    assert mapping[30] == 28  # Sunday 30th -> Friday 28th
    # February 2025 has 28 days (a Friday): 29..31 fall on the 28th.
    feb = Calendar.business_day_map(Calendar(dt.date(2025, 2, 1)).day(3))
    assert feb[29] == feb[30] == feb[31] == 28
    for wanted in range(1, 32):
        assert dt.date(2025, 3, int(mapping[wanted])).weekday() < 5
