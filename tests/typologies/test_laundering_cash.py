"""Structuring, rapid pass-through and the honest business cash deposits they hide among."""

from __future__ import annotations

import polars as pl
import pytest

from fraudsim import Dataset, simulate
from fraudsim.config.scenario import validate_scenario


def run_world(entries: list[dict], days: int = 12, seed: int = 5) -> Dataset:
    config = validate_scenario(
        {
            "name": "cash",
            "seed": seed,
            "days": days,
            "population": {"customers": 1500},
            "typologies": entries,
            # Shapes are checked whole: reports (median 30 days) must not freeze accounts here.
            "bank": {"block_on_report": False},
        },
        "test",
    )
    ds = simulate(config)
    ds.check_schema()
    return ds


def _deposits(tx: pl.DataFrame) -> pl.DataFrame:
    return tx.filter((pl.col("tx_type") == "cash_deposit") & (pl.col("direction") == "credit"))


@pytest.fixture(scope="module")
def ds():
    schedule = {"episodes": 2, "end_day": 3}
    return run_world(
        [
            {
                "name": "structuring.v1",
                "label": "smurfs",
                "params": {"depositors": 3, "deposits_each": 3, "days": 4, "collect_hours": 6},
                "schedule": schedule,
            },
            {
                "name": "structuring.v1",
                "label": "alone",
                "params": {"depositors": 1, "deposits_each": 5, "days": 5, "threshold": 5_000},
                "schedule": schedule,
            },
            {
                "name": "rapid_pass_through.v1",
                "params": {"rounds": 2, "round_gap_days": 1.0, "cash_share": 0.3},
                "schedule": schedule,
            },
            {"name": "business_cash_deposits.v1", "params": {"days": 6}, "schedule": schedule},
        ]
    )


def test_labels_and_row_counts(ds):
    tx = ds.transactions.filter(pl.col("episode_id").is_not_null())
    counts = dict(tx.group_by("episode_id").len().iter_rows())
    assert ds.episodes.height == 8
    for eid, rows, status in ds.episodes.select("episode_id", "rows", "status").iter_rows():
        assert counts[eid] == rows and status == "completed"
    fraud = tx.filter(pl.col("fraud_type") != "business_cash_deposits.v1")
    assert fraud["is_fraud"].all() and fraud["pattern"].null_count() == fraud.height
    assert set(fraud["account_role"].unique().to_list()) <= {"mule", "fraudster"}


@pytest.mark.parametrize(
    ("label", "threshold", "people"), [("smurfs", 10_000, 3), ("alone", 5_000, 1)]
)
def test_structuring_stays_just_under_the_threshold(ds, label, threshold, people):
    ids = ds.episodes.filter(pl.col("label") == label)["episode_id"].to_list()
    assert len(ids) == 2
    for eid in ids:
        ep = ds.transactions.filter(pl.col("episode_id") == eid)
        if people > 1:  # the collecting account's first deposit, as newcomers make one
            opened = ep.filter(pl.col("account_role") == "fraudster").sort("timestamp")
            ep = ep.filter(pl.col("transaction_id") != opened["transaction_id"][0])
        deposits = _deposits(ep)
        assert deposits.height == (9 if people == 3 else 5)  # several of them
        assert (deposits["amount"] < threshold).all()  # every one below the threshold
        assert (deposits["amount"] >= 0.7 * threshold).all()  # ... and not far below it
        assert deposits["amount"].n_unique() > deposits.height // 2  # not one share of it
        assert deposits["amount"].sum() > 2 * threshold  # together far above it
        assert deposits["account_id"].n_unique() == people
        # one deposit a day per person, in opening hours
        per_day = deposits.group_by("account_id", pl.col("timestamp").dt.date()).len()
        assert per_day["len"].max() == 1
        assert deposits["timestamp"].dt.hour().is_between(9, 17).all()
        out = ep.filter(pl.col("direction") == "debit")
        if people > 1:
            forwards = out.filter(pl.col("counterparty_account_id").is_not_null())
            assert forwards["counterparty_account_id"].n_unique() == 1  # one collector
            assert set(forwards["account_id"].to_list()) == set(deposits["account_id"].to_list())
            roles = set(deposits["account_role"].to_list())
            assert roles == {"mule"}
        wire = out.filter(pl.col("counterparty_account_id").is_null())
        # all of it goes out, less the smurfs' cut (often 5-20%) and the collector's little
        kept = 0.35 if people > 1 else 0.15
        assert wire.height == 1 and wire["amount"][0] > (1 - kept) * deposits["amount"].sum()


def test_rapid_pass_through_empties_the_account_within_hours(ds):
    ids = ds.episodes.filter(pl.col("typology") == "rapid_pass_through.v1")["episode_id"]
    for eid in ids.to_list():
        ep = ds.transactions.filter(pl.col("episode_id") == eid).sort("timestamp")
        assert ep["account_id"].n_unique() == 1
        if ep["account_role"][0] == "fraudster":  # a new account: its first deposit first
            ep = ep[1:]
        ins = ep.filter(pl.col("direction") == "credit")
        outs = ep.filter((pl.col("direction") == "debit") & ~pl.col("is_declined"))
        assert ins.height == 4  # two inflows in each of two rounds
        # nearly all out, less the holder's cut (a mule's commission is often 5-20%) ...
        assert outs["amount"].sum() >= 0.7 * ins["amount"].sum()
        assert outs["amount"].sum() <= ins["amount"].sum()
        assert "atm" in outs["channel"].to_list()  # ... some of it as cash
        in_times = ins["timestamp"].to_list()
        for t in outs["timestamp"].to_list():
            last_in = max(x for x in in_times if x <= t)
            assert (t - last_in).total_seconds() < 12 * 3600  # ... within hours


def test_business_deposits_look_like_cash_but_are_honest(ds):
    rows = ds.transactions.filter(pl.col("fraud_type") == "business_cash_deposits.v1")
    assert not rows["is_fraud"].any() and rows["reported_at"].null_count() == rows.height
    assert set(rows["pattern"].to_list()) == {"business_cash_deposits"}
    assert set(rows["account_role"].to_list()) == {"none"}
    deposits = _deposits(rows)
    assert deposits.height >= 8  # most days of two 6-day runs, Sundays closed
    # Same row form as structuring deposits: only amounts and rhythm differ.
    smurf = _deposits(ds.transactions.filter(pl.col("fraud_type") == "structuring.v1"))
    assert set(deposits["tx_type"].to_list()) == set(smurf["tx_type"].to_list())
    assert deposits["amount"].n_unique() > deposits.height // 2  # takings vary day to day
