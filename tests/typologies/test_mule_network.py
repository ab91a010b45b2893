"""mule_network.v1: mules (mostly young) receive proceeds and pass most on within hours."""

import datetime as dt

import polars as pl

from fraudsim import Dataset
from fraudsim.config.scenario import validate_scenario
from fraudsim.world.model import World
from fraudsim.world.tables import transactions_frame
from tests.helpers import run_world

NAME = "mule_network.v1"
NO_BLOCK = {"bank": {"block_on_report": False}}
HOURS = dt.timedelta(hours=12)


def _run(params: dict, episodes: int, days: int = 10):
    """Episodes start early enough to finish before the run ends."""
    schedule = {"episodes": episodes, "end_day": days - 3}
    entry = {"name": NAME, "params": params, "schedule": schedule}
    return run_world([entry], days=days, **NO_BLOCK)


def _flows(tx: pl.DataFrame, account: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(money in, money out) of one account, accepted rows only."""
    ok = tx.filter(~pl.col("is_declined"))
    inflow = pl.concat(
        [
            ok.filter((pl.col("account_id") == account) & (pl.col("direction") == "credit")),
            ok.filter(pl.col("counterparty_account_id") == account),
        ]
    ).sort("timestamp")
    outflow = ok.filter((pl.col("account_id") == account) & (pl.col("direction") == "debit")).sort(
        "timestamp"
    )
    return inflow, outflow


def _check_labels(ds) -> pl.DataFrame:
    tx = ds.transactions.filter(pl.col("episode_id").is_not_null())
    assert tx["is_fraud"].all() and set(tx["fraud_type"].unique().to_list()) == {NAME}
    assert set(tx["account_role"].cast(pl.String).unique().to_list()) == {"mule"}
    joined = ds.episodes.join(tx.group_by("episode_id").len(), on="episode_id", how="left")
    assert (joined["rows"] == joined["len"].fill_null(0)).all()
    return tx


def test_young_mules_forward_nearly_everything_within_hours():
    ds = _run({"reuse_share": 0.0}, episodes=3)
    tx = _check_labels(ds)
    end = tx["timestamp"].max()
    ages = dict(ds.customers.select("customer_id", "age").iter_rows())
    mules = tx.select("account_id", "customer_id").unique()
    assert mules.height >= 8
    # Mules skew young (Cifas: 63% of mule cases aged <= 30), but not all are.
    young = [ages[c] <= 30 for c in mules["customer_id"].to_list()]
    assert sum(young) >= 0.4 * len(young)
    checked = 0
    for account in mules["account_id"].to_list():
        inflow, outflow = _flows(tx, account)
        assert inflow.height >= 1
        if inflow["timestamp"].max() > end - HOURS:
            continue  # still passing it on when the run ended
        checked += 1
        assert outflow.height >= 1
        # nearly all of it, less the mule's cut (often 5-20%)
        assert outflow["amount"].sum() >= 0.7 * inflow["amount"].sum()
        assert outflow["amount"].sum() <= inflow["amount"].sum()
        assert outflow["timestamp"].min() > inflow["timestamp"].min()
        assert outflow["timestamp"].max() - inflow["timestamp"].max() < HOURS  # within hours
    assert checked >= 6
    # Layered: outside money reaches first-layer mules, who fan out to second-layer mules.
    internal = tx.filter(pl.col("counterparty_account_id").is_not_null())
    assert internal.height >= 1
    for episode_id in tx["episode_id"].unique().to_list():
        rows = tx.filter(pl.col("episode_id") == episode_id)
        inside = rows.filter(pl.col("counterparty_account_id").is_not_null())
        layer2 = set(inside["counterparty_account_id"].to_list())
        layer1 = set(rows.filter(pl.col("direction") == "credit")["account_id"].to_list())
        assert layer1.isdisjoint(layer2)
        assert set(inside["account_id"].to_list()) <= layer1
        assert layer2 <= set(rows["account_id"].to_list())  # and they pass it on in turn
    # Everything ends out of the bank: transfers out or ATM cash.
    final = tx.filter(
        (pl.col("direction") == "debit") & pl.col("counterparty_account_id").is_null()
    )
    assert set(final["channel"].cast(pl.String).unique().to_list()) <= {"online_banking", "atm"}


def test_atm_cash_out_with_the_mules_own_card():
    ds = _run(
        {"cash_share": 1.0, "fan_out_share": 0.0, "second_layer": 0, "reuse_share": 0.0},
        episodes=2,
        days=8,
    )
    tx = _check_labels(ds)
    cash = tx.filter(pl.col("channel") == "atm")
    assert cash.height >= 3
    assert (cash["amount"] <= 500).all() and (cash["amount"] % 10 == 0).all()
    owners = dict(ds.cards.select("card_id", "account_id").iter_rows())
    assert all(owners[c] == a for c, a in cash.select("card_id", "account_id").iter_rows())
    # a few withdrawals in a row, minutes apart, soon after the money came in
    for account in cash["account_id"].unique().to_list():
        inflow, outflow = _flows(tx, account)
        assert outflow["timestamp"].min() - inflow["timestamp"].min() < HOURS


def test_ring_reuses_its_mules():
    ds = _run({"reuse_share": 1.0, "second_layer": 0}, episodes=3)
    tx = _check_labels(ds)
    accounts = tx.group_by("episode_id").agg(pl.col("account_id").unique().sort())
    assert accounts.height >= 2
    first = set(accounts["account_id"][0].to_list())
    assert len(first) == 3
    for other in accounts["account_id"].to_list()[1:]:
        assert set(other) == first


def test_frozen_mule_is_replaced_by_a_new_recruit():
    config = validate_scenario(
        {
            "name": "mule_freeze",
            "seed": 3,
            "days": 6,
            "population": {"customers": 1500},
            "typologies": [
                {
                    "name": NAME,
                    "params": {"arrival_hours": 48, "batches": 4, "second_layer": 0},
                    "schedule": {"episodes": 1, "start_day": 1, "end_day": 2},
                }
            ],
        },
        "test",
    )
    world = World(config)
    day_frames: list[pl.DataFrame] = []
    world.day_callbacks.append(lambda day, rows: day_frames.append(transactions_frame(world, rows)))
    world.env.run(until=2 * 86_400)
    (ep,) = world.fraud.episodes
    pending = {x["mule"] for x in ep.state["plan"] if x["kind"] == "arrive"}
    used = [i for i in sorted(pending) if ep.state["mules"][i]["acct"] in ep.accounts]
    assert used, "a first-layer mule that received money and still expects more"
    victim = ep.state["mules"][used[0]]
    world.bank.freeze_account(victim["acct"], int(world.env.now), "investigation")
    world.env.run(until=config.days * 86_400 + 1)
    assert victim["dead"] and ep.adaptations >= 1 and ep.interruptions == 1
    recruits = ep.state["mules"][3:]
    assert recruits and all(m["layer"] == 1 and not m["dead"] for m in recruits)
    ds = Dataset.from_world(world, pl.concat(day_frames))
    tx = ds.transactions.filter(pl.col("is_fraud"))
    frozen_at = world.bank.account_frozen_at[victim["acct"]]
    ids = ds.accounts["account_id"]
    # nothing more reaches the frozen mule; its pay-ins went to the recruit instead
    after = tx.filter(pl.col("account_id") == ids[victim["acct"]]).filter(
        pl.col("direction") == "credit"
    )
    start = ds.transactions["timestamp"].min().replace(hour=0, minute=0, second=0)
    assert (after["timestamp"] < start + dt.timedelta(seconds=int(frozen_at))).all()
    recruit_rows = tx.filter(pl.col("account_id") == ids[recruits[0]["acct"]])
    assert (recruit_rows["direction"] == "credit").any()
    # the recruit is an existing customer (mules are recruited, not opened)
    recruit = recruit_rows["customer_id"][0]
    assert recruit in ds.customers["customer_id"][: config.population.customers].to_list()
