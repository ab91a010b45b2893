"""Legitimate look-alikes: honest labels, a pattern name, and the shape of their fraud twin,
with the spread real people show (no exact copies, no daytime-only window)."""

from __future__ import annotations

import itertools

import polars as pl
import pytest

from fraudsim import Dataset, simulate
from fraudsim.config.scenario import validate_scenario
from fraudsim.typologies.subscriptions import PRICES

LOOKALIKES = {
    "payroll_fan_out.v1": {"employees": 10, "outside_share": 0.2},
    "bill_split_fan_in.v1": {"friends": 4, "outside_share": 0.25},
    "family_round_trip.v1": {
        "hops": 2,
        "installments": 2,
        "return_days": 1.0,
        "patience_days": 2,
    },
    "subscription_micro_charges.v1": {"period": "week"},
    "holiday_abroad.v1": {"days": 6, "atm_per_day": 2.0},
    "new_phone_login.v1": {"transfers": 2, "reset_share": 1.0, "hours": 12},
    "large_one_off_purchase.v1": {"online_share": 1.0, "category": "electronics"},
}


@pytest.fixture(scope="module")
def ds() -> Dataset:
    config = validate_scenario(
        {
            "name": "lookalikes",
            "seed": 21,
            "days": 16,
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
    heads = set()
    for ep in _episodes(ds, "payroll_fan_out.v1"):
        revenue = ep.filter(pl.col("direction") == "credit")
        pay = ep.filter(pl.col("direction") == "debit")
        assert revenue.height == 6 and pay.height >= 2
        heads.add(pay.height)
        assert pay["account_id"].n_unique() == 1  # one employer ...
        assert set(revenue["account_id"].to_list()) == set(pay["account_id"].to_list())
        inside = pay["counterparty_account_id"].drop_nulls()
        assert inside.n_unique() == inside.len()  # ... many distinct employees
        assert (pay["timestamp"].max() - pay["timestamp"].min()).total_seconds() < 4 * 3600
        assert pay["timestamp"].min() > revenue["timestamp"].max()  # paid after income
        assert pay["amount"].n_unique() > 1  # salaries differ


def test_bill_split_is_a_fan_in(ds):
    for ep in _episodes(ds, "bill_split_fan_in.v1"):
        bill = ep.filter(pl.col("tx_type") == "purchase")
        assert bill.height == 1 and bill["channel"][0] in ("pos", "cnp")
        payer_account = bill["account_id"][0]
        back = ep.filter(pl.col("tx_type") == "p2p_transfer")
        assert 1 <= back.height <= 4
        # every share lands in the payer's account, from distinct friends
        lands = back["counterparty_account_id"].fill_null(back["account_id"])
        assert set(lands.to_list()) == {payer_account}
        senders = back.filter(pl.col("direction") == "debit")["account_id"]
        assert senders.n_unique() == senders.len() and payer_account not in senders.to_list()
        # about the bill divided among the diners, whether split equally or by what each had
        each = bill["amount"][0] / (back.height + 1)
        assert ((back["amount"] > 0.3 * each) & (back["amount"] < 3 * each + 1)).all()
        assert back["timestamp"].min() > bill["timestamp"][0]


def test_family_round_trip_comes_back(ds):
    for ep in _episodes(ds, "family_round_trip.v1"):
        moves = ep.sort("timestamp").select("account_id", "counterparty_account_id", "amount")
        chain = moves.rows()
        origin = chain[0][0]
        assert chain[0][1] != origin and chain[1][0] == chain[0][1]  # A -> B -> C
        back = [a for src, dst, a in chain if dst == origin]
        assert 1 <= len(back) <= 2 and chain[-1][1] == origin  # C -> A, in one or two parts
        passed = chain[1][2]  # what the last relative got
        assert 0.3 * passed - 0.01 <= sum(back) <= 1.16 * passed + 1


def test_family_sums_are_typed_by_people():
    """Across many loans: some round, some not; the return sometimes differs from the loan."""
    ds = simulate(
        validate_scenario(
            {
                "name": "loans",
                "seed": 3,
                "days": 20,
                "population": {"customers": 800},
                "typologies": [
                    {
                        "name": "family_round_trip.v1",
                        "params": {"return_days": 1.0, "patience_days": 2},
                        "schedule": {"episodes": 60, "end_day": 3},
                    }
                ],
            },
            "test",
        )
    )
    rows = ds.transactions.filter(pl.col("episode_id").is_not_null()).sort("timestamp")
    round_share = (rows["amount"] % 5 == 0).mean()
    assert 0.15 < round_share < 0.9  # a mix, as honest transfers are
    differs = 0
    for _, ep in rows.group_by("episode_id"):
        origin = ep["account_id"][0]
        lent = ep["amount"][0]
        back = ep.filter(pl.col("counterparty_account_id") == origin)["amount"].sum()
        differs += abs(back - lent) > 0.005
    assert differs >= 10  # partial repayments and a little extra, not always a copy


def test_subscription_is_a_fixed_price_on_a_fixed_clock(ds):
    for ep in _episodes(ds, "subscription_micro_charges.v1"):
        assert ep.height >= 2  # weekly over 16 days
        assert ep["card_id"].n_unique() == 1 and ep["merchant_id"].n_unique() == 1
        assert ep["amount"].n_unique() == 1 or ep["amount"].max() / ep["amount"].min() < 1.07
        assert set(ep["channel"].to_list()) == {"cnp"}
        gaps = [(b - a).total_seconds() / 86_400 for a, b in itertools.pairwise(ep["timestamp"])]
        assert all(abs(g - 7) < 0.2 for g in gaps)  # weekly, unlike a testing burst


def test_monthly_subscriptions_keep_their_day_and_real_prices():
    ds = simulate(
        validate_scenario(
            {
                "name": "subs",
                "seed": 5,
                "days": 62,
                "population": {"customers": 400},
                "typologies": [
                    {
                        "name": "subscription_micro_charges.v1",
                        "params": {"foreign_share": 0.0},
                        "schedule": {"episodes": 40},
                    }
                ],
            },
            "test",
        )
    )
    rows = ds.transactions.filter(pl.col("episode_id").is_not_null())
    assert set(rows["amount"].round(2).to_list()) <= set(PRICES)
    assert rows["amount"].n_unique() > 3  # services charge different prices
    days = rows.group_by("episode_id").agg(
        n=pl.len(), dom=pl.col("timestamp").dt.day().n_unique(), cards=pl.col("card_id").n_unique()
    )
    assert (days["n"] >= 2).all() and (days["n"] <= 3).all()  # monthly, not daily
    assert (days["dom"] <= 2).all() and (days["cards"] == 1).all()  # same day of the month


def test_holiday_spending_in_another_region(ds):
    regions = ds.merchants.select("merchant_id", "region")
    homes = ds.customers.select("customer_id", pl.col("region").alias("home"))
    for ep in _episodes(ds, "holiday_abroad.v1"):
        ep = ep.join(regions, on="merchant_id", how="left").join(homes, on="customer_id")
        assert ep["card_id"].n_unique() == 1 and ep.height >= 2
        shops = ep.filter(pl.col("channel") == "pos")
        assert shops["region"].n_unique() <= 1 and (shops["region"] != shops["home"]).all()
        assert "atm" in ep["channel"].to_list()  # local cash on arrival


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
        assert login["device_id"][0] == ep["device_id"][0]
