"""Channels (fraudsim.world.actions, with its mixins world.lookup and world.entities): the
acting surface typologies use. Each action posts a row like any customer's and returns the
bank's answer; money moves when the day is settled.

Every test builds its own small world (400 customers) with one typology scheduled for no
episode, so the only fraud rows are the ones a test posts itself.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import numpy as np
import pytest
import simpy

from fraudsim.config.scenario import ScenarioConfig, TypologyConfig
from fraudsim.core.codes import CHANNELS, DECLINE_REASONS, EVENT_TYPES, ROLES, TX_TYPES
from fraudsim.core.ledger import Batch
from fraudsim.core.units import DAY, HOUR
from fraudsim.typologies.base import Episode
from fraudsim.world.actions import Channels
from fraudsim.world.model import World
from fraudsim.world.tables import accounts_frame, cards_frame, customers_frame

TYPOLOGY = "card_testing.v1"


@pytest.fixture
def world(small_config: ScenarioConfig) -> World:
    config = small_config.model_copy(
        update={"typologies": [TypologyConfig(name=TYPOLOGY, schedule={"episodes": 0})]}
    ).with_overrides(days=2, **{"fraud.adaptive": False})
    return World(config)


@pytest.fixture
def ch(world: World) -> Channels:
    return world.fraud.channels


def _episode(**fields: Any) -> Episode:
    values: dict[str, Any] = {
        "id": 4242,
        "index": 0,
        "typology": TYPOLOGY,
        "label": None,
        "start": 0,
        "fraudster": None,
        **fields,
    }
    return Episode(**values)


def _run_first_day(world: World, script: Callable[[], Generator[simpy.Event, Any, None]]) -> Batch:
    """Run `script` as a SimPy process through day 0; the day's settled rows."""
    settled: list[Batch] = []
    world.day_callbacks.append(lambda day, rows: settled.append(rows))
    world.env.process(script())
    world.env.run(until=DAY + 1)
    return settled[0]


def test_card_payment_is_approved_then_declined_once_the_card_is_blocked(
    world: World, ch: Channels
) -> None:
    ep = _episode()
    card = 0
    merchant = int(ch.merchants(np.random.default_rng(1), 1, online=False)[0])
    ok = ch.card_payment(ep, card, merchant, 1_500, channel="pos")
    assert ok.approved and ok.reason == "none" and ok.amount == 1_500
    world.bank.block_card(card, ch.now, notify=False)
    refused = ch.card_payment(ep, card, merchant, 1_500, channel="pos")
    assert not refused.approved and refused.reason == "card_blocked"
    owner = int(world.population.cards["customer_idx"][card])
    assert (ep.rows, ep.declines, ep.attempted) == (2, 1, 3_000)
    assert ep.cards == {card} and ep.victims == {owner}
    rows = ch.take_rows(DAY)
    assert rows["is_declined"].tolist() == [False, True]
    assert rows["decline_reason"].tolist() == [0, DECLINE_REASONS.index("card_blocked")]
    assert (rows["channel"] == CHANNELS.index("pos")).all() and (rows["device"] == -1).all()
    assert (world.population.terminals["merchant_idx"][rows["terminal"]] == merchant).all()
    assert (rows["customer"] == owner).all() and (rows["merchant"] == merchant).all()


def test_transfer_and_credit_move_money_when_the_day_is_settled(world: World, ch: Channels) -> None:
    ep = _episode()
    world.fraud.episodes.append(ep)  # the engine's record, which settlement adds the loss to
    world.fraud._by_id[ep.id] = ep
    _, payer = ch.open_account(age=30, income=40_000.0)
    _, payee = ch.open_account(age=31, income=40_000.0)
    for account in (payer, payee):
        ch.set_limit(account, 0.0)  # no overdraft: an account can pay out what was paid in
    outcomes = []

    def script() -> Generator[simpy.Event, Any, None]:
        outcomes.append(ch.credit(ep, payer, 50_000))
        yield ch.wait(60)
        outcomes.append(ch.transfer(ep, payer, payee, 20_000, role="mule"))
        yield ch.wait(60)
        outcomes.append(ch.transfer(ep, payee, payer, 90_000, role="mule"))  # more than it has

    rows = _run_first_day(world, script)
    # The bank authorises transfers on the spot; funds are checked at settlement.
    assert all(o.approved for o in outcomes)
    assert ep.accounts == {payer, payee}
    mine = np.flatnonzero(rows["episode"] == ep.id)
    mine = mine[np.argsort(rows["t"][mine], kind="stable")]
    assert rows["direction"][mine].tolist() == [1, 0, 0]
    assert rows["tx_type"][mine].tolist() == [
        TX_TYPES.index("refund"),
        TX_TYPES.index("p2p_transfer"),
        TX_TYPES.index("p2p_transfer"),
    ]
    assert rows["counterparty"][mine].tolist() == [-1, payee, payer]
    assert rows["is_declined"][mine].tolist() == [False, False, True]
    assert rows["decline_reason"][mine][2] == DECLINE_REASONS.index("insufficient_funds")
    assert world.bank.balances[payer] == 30_000 and world.bank.balances[payee] == 20_000
    assert ep.accepted == 70_000


def test_atm_withdrawal_uses_an_atm_of_the_region(world: World, ch: Channels) -> None:
    pop = world.population
    card = 1
    home = int(pop.customers["region"][pop.cards["customer_idx"][card]])
    away = (home + 1) % len(pop.regions["name"])
    ep = _episode()
    assert ch.atm_withdrawal(ep, card, 2_000).approved
    assert ch.atm_withdrawal(ep, card, 2_000, region=away).approved
    rows = ch.take_rows(DAY)
    atm = pop.categories.index("atm")
    assert (pop.merchants["category"][rows["merchant"]] == atm).all()
    assert pop.merchants["region"][rows["merchant"]].tolist() == [home, away]
    assert (rows["terminal"] == pop.merchants["first_terminal"][rows["merchant"]]).all()
    assert (rows["channel"] == CHANNELS.index("atm")).all()
    assert (rows["tx_type"] == TX_TYPES.index("atm_withdrawal")).all()


def test_rows_and_events_carry_the_episode_labels(world: World, ch: Channels) -> None:
    ep = _episode(pattern="probe", report_at=5 * HOUR)
    customer = int(world.population.cards["customer_idx"][2])
    ch.card_payment(ep, 2, int(ch.merchants(np.random.default_rng(2), 1, online=True)[0]), 900)
    ch.event(ep, customer, "password_reset", device=ch.new_device())
    ch.event(None, customer, "login", device=ch.device_of(customer))
    rows = ch.take_rows(DAY)
    assert rows["is_fraud"].tolist() == [True]
    assert rows["episode"].tolist() == [ep.id]
    assert rows["fraud_type"].tolist() == [ch.fraud_type_names.index(TYPOLOGY)]
    assert rows["pattern"].tolist() == [ch.pattern_names.index("probe")]
    assert rows["role"].tolist() == [ROLES.index("victim")]
    assert rows["reported_at"].tolist() == [5 * HOUR]
    events = ch.take_events(DAY)
    assert events["event_type"].tolist() == [
        EVENT_TYPES.index("password_reset"),
        EVENT_TYPES.index("login"),
    ]
    assert events["episode"].tolist() == [ep.id, -1]  # an honest event is unlabelled
    assert events["is_fraud"].tolist() == [1, 0]
    assert events["fraud_type"].tolist() == [ch.fraud_type_names.index(TYPOLOGY), -1]
    assert (events["customer"] == customer).all()


def test_own_device_is_one_of_the_customers_devices(world: World, ch: Channels) -> None:
    c = world.population.customers
    owners = world.population.devices["customer_idx"]
    customer = int(np.flatnonzero(c["n_devices"] > 1)[0])
    rng = np.random.default_rng(3)
    drawn = {ch.own_device(rng, customer) for _ in range(200)}
    assert drawn == set(np.flatnonzero(owners == customer).tolist())
    assert ch.device_of(customer) == c["first_device"][customer] and owners[min(drawn)] == customer


def test_daytime_is_later_and_at_an_hour_customers_are_active(
    world: World, ch: Channels, monkeypatch: pytest.MonkeyPatch
) -> None:
    hours = [0.0] * 24
    hours[9], hours[20] = 1.0, 3.0
    calendar = world.profile.calendar.model_copy(update={"hour_weights": hours})
    monkeypatch.setattr(world, "profile", world.profile.model_copy(update={"calendar": calendar}))
    rng = np.random.default_rng(4)
    for t in (0, 3 * HOUR, 9 * HOUR + 30, 21 * HOUR, DAY + 10 * HOUR):
        for _ in range(40):
            out = ch.daytime(rng, t)
            assert out > t and (out % DAY) // HOUR in (9, 20), (t, out)
            assert out // DAY in (t // DAY, t // DAY + 1)


def test_opened_accounts_and_issued_cards_appear_in_the_exported_tables(
    world: World, ch: Channels
) -> None:
    pop = world.population
    customer, checking = ch.open_account(age=27, income=35_000.0, region=1, phone="+49 30 1")
    credit_card = ch.issue_card(customer, "credit", limit=500.0)
    debit_card = ch.issue_card(customer, "debit")
    customer_id = int(pop.customers["id"][customer])

    customers = customers_frame(world)
    assert customers.height == world.n_initial_customers + 1
    row = customers.filter(customers["customer_id"] == customer_id).row(0, named=True)
    assert (row["age"], row["region"], row["phone"]) == (27, 1, "+49 30 1")
    assert row["first_name"] and row["email"]

    accounts = accounts_frame(world)
    accounts = accounts.filter(accounts["customer_id"] == customer_id)
    assert sorted(accounts["kind"].cast(str).to_list()) == ["checking", "credit"]
    credit = accounts.filter(accounts["kind"] == "credit").row(0, named=True)
    assert credit["limit"] == -500.0 and credit["iban"]
    assert int(pop.accounts["id"][checking]) in accounts["account_id"].to_list()

    cards = cards_frame(world)
    mine = cards.filter(cards["customer_id"] == customer_id).sort("kind")
    assert mine["card_id"].to_list() == [
        int(pop.cards["id"][debit_card]),
        int(pop.cards["id"][credit_card]),
    ]
    assert mine["account_id"].to_list() == [
        int(pop.accounts["id"][checking]),
        int(pop.accounts["id"][pop.customers["credit_idx"][customer]]),
    ]
    assert cards["card_number"].n_unique() == cards.height
    assert len(world.bank.card_blocked_at) == cards.height  # the bank knows the new cards
