"""The bank's cases (fraudsim.world.agents.cases): blocked cards are replaced and their holders
stop using them, victims' freezes are lifted after review, mules stay frozen and are exited."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np
import polars as pl

from fraudsim.config.scenario import validate_scenario
from fraudsim.core.codes import DECLINE_REASONS
from fraudsim.core.ledger import make_batch
from fraudsim.core.units import DAY, HOUR
from fraudsim.typologies.base import Episode
from fraudsim.world.agents.cases import NEVER, alternative_cards
from fraudsim.world.model import World
from fraudsim.world.settlement import settle
from fraudsim.world.tables import transactions_frame


def _world(days: int = 14) -> World:
    config = validate_scenario(
        {"name": "cases_test", "seed": 9, "days": days, "population": {"customers": 300}}, "test"
    )
    return World(config)


def _run(world: World) -> pl.DataFrame:
    frames: list[pl.DataFrame] = []
    world.day_callbacks.append(lambda day, rows: frames.append(transactions_frame(world, rows)))
    world.run()
    return pl.concat(frames)


def _at(world: World, t: int, action: Any) -> None:
    def process() -> Generator[Any, Any, None]:
        yield world.env.timeout(t)
        action()

    world.env.process(process())


def test_alternative_cards_pair_each_holders_cards() -> None:
    alt = alternative_cards(np.array([3, 1, 3, 2, 1, 3]))
    assert alt.tolist() == [2, 4, 5, -1, 1, 0]


def test_a_blocked_card_is_replaced_and_its_holder_stops_using_it() -> None:
    world = _world()
    pop = world.population
    cards = pop.cards
    two = np.flatnonzero(np.bincount(cards["customer_idx"]) == 2)
    # The busiest card of a holder with two cards.
    mine = np.flatnonzero(np.isin(cards["customer_idx"], two))
    card = int(mine[np.argmax(cards["monthly_rate"][mine])])
    block = 2 * DAY + 9 * HOUR
    _at(world, block, lambda: world.bank.block_card(card, block, "reported", notify=False))
    tx = _run(world)
    ids = pop.cards["id"]
    start = tx["timestamp"].dt.epoch("s").min()
    after = tx.filter(
        (pl.col("card_id") == int(ids[card])) & (pl.col("timestamp").dt.epoch("s") - start >= block)
    )
    # No honest payment goes through on the blocked card; at most the first attempt before
    # its holder heard of the block is declined.
    debits = after.filter(pl.col("direction") == "debit")
    assert (debits["decline_reason"] == "card_blocked").all() and debits.height <= 1
    # A replacement on the same account was issued and is used once it arrived.
    new = int(world.bank.card_replaced_by[card])
    assert new > card and cards["account_idx"][new] == cards["account_idx"][card]
    assert cards["customer_idx"][new] == cards["customer_idx"][card]
    ready = int(world.bank.card_ready_at[card])
    assert block < ready < block + 30 * DAY
    used = tx.filter(pl.col("card_id") == int(ids[new]))
    assert used.height > 0 and not used["is_declined"].all()
    # Honest rows never repeat a blocked-card decline for weeks.
    assert tx.filter(pl.col("decline_reason") == "card_blocked").height <= 1


def _freeze(world: World, account: int, at: int) -> None:
    _at(world, at, lambda: world.bank.freeze_account(account, at, "reported", notify=False))


def test_a_victims_freeze_is_lifted_after_review() -> None:
    world = _world(days=6)
    account = int(world.population.customers["checking_idx"][5])
    freeze = DAY + 10 * HOUR
    _freeze(world, account, freeze)
    seen: dict[str, int] = {}
    _at(world, freeze + 1, lambda: seen.update(thaw=int(world.bank.account_thaw_at[account])))
    tx = _run(world)
    thaw = seen["thaw"]
    assert freeze + 600 <= thaw < freeze + 10 * DAY
    assert world.bank.account_frozen_at[account] == NEVER  # lifted, not merely scheduled
    start = tx["timestamp"].dt.epoch("s").min()
    mine = tx.filter(pl.col("account_id") == int(world.population.accounts["id"][account]))
    t = mine["timestamp"].dt.epoch("s") - start
    frozen = mine.filter(pl.col("decline_reason") == "account_frozen")
    assert (t.filter(mine["decline_reason"] == "account_frozen") >= freeze).all()
    assert (t.filter(mine["decline_reason"] == "account_frozen") < thaw).all()
    assert frozen.height < mine.height  # life goes on after the review


def test_a_mule_stays_frozen_and_is_exited() -> None:
    world = _world(days=8)
    customer = 7
    account = int(world.population.customers["checking_idx"][customer])
    mule = Episode(
        id=-7,
        index=10_000,
        typology="mule_network.v1",
        label=None,
        start=0,
        fraudster=None,
        accounts={account},
    )
    world.fraud.episodes.append(mule)
    freeze = DAY + 10 * HOUR
    _freeze(world, account, freeze)
    tx = _run(world)
    bank = world.bank
    assert bank.account_frozen_at[account] == freeze and bank.account_thaw_at[account] == NEVER
    closed = int(bank.account_closed_at[account])
    assert freeze < closed < freeze + 10 * DAY
    # After the exit the customer's honest life goes on elsewhere: no more rows here.
    start = tx["timestamp"].dt.epoch("s").min()
    mine = tx.filter(pl.col("customer_id") == int(world.population.customers["id"][customer]))
    assert (mine["timestamp"].dt.epoch("s") - start < closed).all()


def test_settlement_credits_blocked_cards_and_ends_freezes() -> None:
    reason = {name: i for i, name in enumerate(DECLINE_REASONS)}
    rows = make_batch(
        4,
        t=np.array([100, 200, 300, 400]),
        account=np.array([0, 0, 1, 1]),
        card=np.array([0, 0, -1, -1]),
        customer=0,
        amount=np.array([500, 700, 100, 100]),
        direction=np.array([0, 1, 0, 0]),
        is_declined=False,
        decline_reason=0,
    )
    out = settle(
        rows,
        balances=np.array([10_000, 10_000], np.int64),
        floors=np.zeros(2, np.int64),
        card_blocked_at=np.array([50], np.int64),
        account_frozen_at=np.array([NEVER, 250], np.int64),
        account_thaw_at=np.array([NEVER, 350], np.int64),
    )
    assert out["is_declined"].tolist() == [True, False, True, False]
    assert out["decline_reason"].tolist() == [
        reason["card_blocked"],
        reason["none"],
        reason["account_frozen"],
        reason["none"],
    ]
