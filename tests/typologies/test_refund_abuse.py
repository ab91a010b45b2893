"""refund_abuse.v1: refunds to mule cards far above the merchant's sales to them, then cash-out."""

import polars as pl

from fraudsim import simulate
from fraudsim.calibration import load_profile
from fraudsim.config.scenario import validate_scenario

NAME = "refund_abuse.v1"


def _run(params, episodes=3, seed=7, profile=None):
    entry = {"name": NAME, "params": params, "schedule": {"episodes": episodes, "end_day": 4}}
    config = validate_scenario(
        {
            "name": "refund_abuse_test",
            "seed": seed,
            "days": 10,
            "population": {"customers": 1500},
            "typologies": [entry],
        },
        "test",
    )
    ds = simulate(config, profile)
    ds.check_schema()
    return ds


def test_refunds_exceed_sales_and_mules_cash_out():
    ds = _run({"mules": 4, "sale_share": 1.0})
    tx = ds.transactions.filter(pl.col("fraud_type") == NAME)
    assert tx["is_fraud"].all() and set(tx["account_role"].to_list()) == {"mule"}
    ages = ds.customers.filter(pl.col("customer_id").is_in(tx["customer_id"].unique().to_list()))
    assert ages["age"].max() <= 30  # recruited mules skew young
    assert ds.episodes.height == 3
    for episode_id in ds.episodes["episode_id"].to_list():
        rows = tx.filter(pl.col("episode_id") == episode_id).sort("timestamp")
        refunds = rows.filter(pl.col("tx_type") == "refund")
        assert refunds["merchant_id"].n_unique() == 1  # one colluding merchant
        merchant = refunds["merchant_id"][0]
        assert (refunds["direction"] == "credit").all() and refunds["card_id"].null_count() == 0
        cards = refunds["card_id"].unique().to_list()
        assert len(cards) == 4
        sales = rows.filter(
            (pl.col("tx_type") == "purchase")
            & (pl.col("merchant_id") == merchant)
            & pl.col("card_id").is_in(cards)
            & ~pl.col("is_declined")
        )
        assert sales["amount"].max() <= 12.0  # tiny cover sales
        assert refunds["amount"].sum() > 10 * sales["amount"].sum()  # refunds far above sales
        # Every mule passes most of what it was refunded on, after receiving it.
        for account in refunds["account_id"].unique().to_list():
            got = refunds.filter(pl.col("account_id") == account)
            out = rows.filter(
                (pl.col("account_id") == account)
                & pl.col("tx_type").is_in(["atm_withdrawal", "p2p_transfer"])
                & ~pl.col("is_declined")
            )
            assert out.height >= 1 and out["timestamp"].min() > got["timestamp"].min()
            assert 0.5 * got["amount"].sum() <= out["amount"].sum() <= got["amount"].sum()
            atm = out.filter(pl.col("tx_type") == "atm_withdrawal")["amount"]
            assert (atm % 10 == 0).all()  # cash in round notes
            transfers = out.filter(pl.col("tx_type") == "p2p_transfer")
            assert transfers["counterparty_account_id"].null_count() == transfers.height
    rows = tx.group_by("episode_id").len()
    check = ds.episodes.join(rows, on="episode_id")
    assert (check["rows"] == check["len"]).all()


def test_caught_mules_are_dropped_and_the_rest_go_on():
    profile = load_profile("default")
    fraud = profile.fraud.model_copy(
        update={
            "aml_report_median_days": 2.0,
            "report_delay_sigma": 0.1,
            "never_reported_share": 0.0,
        }
    )
    profile = profile.model_copy(update={"fraud": fraud})
    ds = _run({"mules": 6, "campaign_days": 4.0}, episodes=3, profile=profile)
    tx = ds.transactions.filter(pl.col("fraud_type") == NAME)
    assert ds.episodes["interruptions"].sum() >= 1
    went_on = 0
    for ep in ds.episodes.iter_rows(named=True):
        rows = tx.filter(pl.col("episode_id") == ep["episode_id"])
        caught = rows.filter(pl.col("timestamp") < ep["reported_at"])["account_id"].to_list()
        after = rows.filter(pl.col("timestamp") > ep["reported_at"])
        late = after.filter(pl.col("account_id").is_in(caught))
        # a caught mule gets no more refunds; at most it wires out what it still holds
        assert set(late["tx_type"].to_list()) <= {"p2p_transfer"}
        assert late.filter(~pl.col("is_declined")).height <= late.height
        went_on += after.filter(
            (pl.col("tx_type") == "refund") & ~pl.col("account_id").is_in(caught)
        ).height
    assert went_on >= 1  # the other mules carry on
