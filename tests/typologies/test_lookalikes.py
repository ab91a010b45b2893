"""Legitimate look-alikes: honest labels, a pattern name, and the shape of their fraud twin."""

from __future__ import annotations

import itertools

import polars as pl
import pytest

from fraudsim import Dataset, simulate
from fraudsim.config.scenario import validate_scenario

LOOKALIKES = {
    "payroll_fan_out.v1": {"employees": 10, "outside_share": 0.2},
    "bill_split_fan_in.v1": {"friends": 4, "outside_share": 0.25},
    "family_round_trip.v1": {
        "hops": 2,
        "installments": 2,
        "return_days": 1.0,
        "patience_days": 2,
    },
    "subscription_micro_charges.v1": {"charges": 8, "period_hours": 24},
    "holiday_abroad.v1": {"days": 4, "atm_per_day": 2.0},
    "new_phone_login.v1": {"transfers": 2, "reset_share": 1.0, "hours": 12},
    "large_one_off_purchase.v1": {"online_share": 1.0, "category": "electronics"},
}


@pytest.fixture(scope="module")
def ds() -> Dataset:
    config = validate_scenario(
        {
            "name": "lookalikes",
            "seed": 21,
            "days": 12,
            "population": {"customers": 1500},
            "typologies": [
                {"name": n, "params": p, "schedule": {"episodes": 2, "end_day": 2}}
                for n, p in LOOKALIKES.items()
            ],
        },
        "test",
    )
    ds = simulate(config)
    ds.check_schema()
    return ds


def _episodes(ds: Dataset, name: str) -> list[pl.DataFrame]:
    rows = ds.transactions.filter(pl.col("fraud_type") == name).sort("timestamp")
    ids = ds.episodes.filter(pl.col("typology") == name)["episode_id"].to_list()
    assert len(ids) == 2, name
    return [rows.filter(pl.col("episode_id") == e) for e in ids]


def test_honest_labels_pattern_and_row_counts(ds):
    eps = ds.episodes
    assert eps.height == 2 * len(LOOKALIKES)
    assert not eps["is_fraud"].any() and eps["reported_at"].null_count() == eps.height
    assert eps["fraudster_id"].null_count() == eps.height
    for name, pattern in eps.select("typology", "pattern").iter_rows():
        assert pattern == name.split(".")[0]
    rows = ds.transactions.filter(pl.col("episode_id").is_not_null())
    assert not rows["is_fraud"].any() and rows["pattern"].null_count() == 0
    assert set(rows["account_role"].unique().to_list()) == {"none"}
    assert rows["reported_at"].null_count() == rows.height
    counts = dict(rows.group_by("episode_id").len().iter_rows())
    for eid, n, status in eps.select("episode_id", "rows", "status").iter_rows():
        assert counts.get(eid, 0) == n and status == "completed"
    events = ds.events.filter(pl.col("episode_id").is_not_null())
    assert events.height and not events["is_fraud"].any()
    assert set(events["pattern"].to_list()) == {"new_phone_login", "large_one_off_purchase"}


def test_payroll_is_a_fan_out(ds):
    for ep in _episodes(ds, "payroll_fan_out.v1"):
        revenue = ep.filter(pl.col("direction") == "credit")
        pay = ep.filter(pl.col("direction") == "debit")
        assert revenue.height == 6 and pay.height == 10
        assert pay["account_id"].n_unique() == 1  # one employer ...
        assert set(revenue["account_id"].to_list()) == set(pay["account_id"].to_list())
        inside = pay["counterparty_account_id"].drop_nulls()
        assert inside.n_unique() == inside.len() >= 5  # ... many distinct employees
        assert (pay["timestamp"].max() - pay["timestamp"].min()).total_seconds() < 4 * 3600
        assert pay["timestamp"].min() > revenue["timestamp"].max()  # paid after income


def test_bill_split_is_a_fan_in(ds):
    for ep in _episodes(ds, "bill_split_fan_in.v1"):
        bill = ep.filter(pl.col("tx_type") == "purchase")
        assert bill.height == 1 and bill["channel"][0] in ("pos", "cnp")
        payer_account = bill["account_id"][0]
        back = ep.filter(pl.col("tx_type") == "p2p_transfer")
        assert back.height == 4
        # every share lands in the payer's account, from distinct friends
        lands = back["counterparty_account_id"].fill_null(back["account_id"])
        assert set(lands.to_list()) == {payer_account}
        senders = back.filter(pl.col("direction") == "debit")["account_id"]
        assert senders.n_unique() == senders.len() and payer_account not in senders.to_list()
        assert back["amount"].n_unique() == 1  # equal shares
        assert back["amount"][0] * 5 == pytest.approx(bill["amount"][0], abs=5.0)
        assert back["timestamp"].min() > bill["timestamp"][0]


def test_family_round_trip_comes_back_whole(ds):
    for ep in _episodes(ds, "family_round_trip.v1"):
        moves = ep.sort("timestamp").select("account_id", "counterparty_account_id", "amount")
        chain = moves.rows()
        origin = chain[0][0]
        assert chain[0][1] != origin and chain[1][0] == chain[0][1]  # A -> B -> C
        assert chain[-1][1] == origin and chain[-2][1] == origin  # C -> A in two parts
        lent = chain[0][2]
        assert sum(a for src, _, a in chain if src == chain[-1][0]) == pytest.approx(lent)
        assert lent % 50 == 0  # family sums are round


def test_subscription_is_tiny_periodic_on_one_card(ds):
    for ep in _episodes(ds, "subscription_micro_charges.v1"):
        assert ep.height == 8
        assert ep["card_id"].n_unique() == 1 and ep["merchant_id"].n_unique() == 1
        assert (ep["amount"] <= 2.0).all() and ep["amount"].n_unique() == 1  # tiny, fixed
        assert set(ep["channel"].to_list()) == {"cnp"}
        assert not ep["is_declined"].any()
        gaps = [(b - a).total_seconds() / 3600 for a, b in itertools.pairwise(ep["timestamp"])]
        assert all(abs(g - 24) < 1 for g in gaps)  # regular, unlike a testing burst


def test_holiday_spending_in_another_region(ds):
    regions = ds.merchants.select("merchant_id", "region")
    homes = ds.customers.select("customer_id", pl.col("region").alias("home"))
    for ep in _episodes(ds, "holiday_abroad.v1"):
        ep = ep.join(regions, on="merchant_id", how="left").join(homes, on="customer_id")
        assert ep["card_id"].n_unique() == 1 and ep.height >= 8
        assert ep["region"].n_unique() == 1 and ep["region"][0] != ep["home"][0]
        assert {"pos", "atm"} <= set(ep["channel"].to_list())  # card present and cash
        assert ep["timestamp"].dt.date().n_unique() >= 3  # over days


def test_new_phone_login_then_normal_transfers(ds):
    events = ds.events.filter(pl.col("fraud_type") == "new_phone_login.v1").sort("timestamp")
    honest_devices = set(
        ds.transactions.filter(pl.col("episode_id").is_null())["device_id"].drop_nulls().to_list()
    )
    for ep in _episodes(ds, "new_phone_login.v1"):
        ev = events.filter(pl.col("episode_id") == ep["episode_id"][0])
        kinds = ev["event_type"].cast(pl.String).to_list()
        assert kinds[0] == "device_change" and "login" in kinds and "password_reset" in kinds
        phone = ev["device_id"][0]
        assert set(ev["device_id"].to_list()) == {phone} and phone not in honest_devices
        assert ep.height == 2 and set(ep["device_id"].to_list()) == {phone}
        assert ep["timestamp"].min() > ev["timestamp"][0]
        assert (ep["amount"] < 2_000).all()  # ordinary sums, not a drain


def test_large_one_off_purchase_passes_step_up(ds):
    for ep in _episodes(ds, "large_one_off_purchase.v1"):
        assert ep.height == 1 and ep["channel"][0] == "cnp"
        assert ep["amount"][0] > 200  # far above the step-up threshold
        assert ep["decline_reason"][0] != "step_up_failed"  # the real cardholder passes it
        login = ds.events.filter(pl.col("episode_id") == ep["episode_id"][0])
        assert login.height == 1 and login["timestamp"][0] <= ep["timestamp"][0]
