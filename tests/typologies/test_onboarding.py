"""new_customer.v1: honest accounts opened mid-run, with a first deposit then ordinary use."""

import polars as pl

from tests.helpers import run_world


def test_new_customers_are_honest_late_starters():
    ds = run_world(
        [{"name": "new_customer.v1", "schedule": {"episodes": 4, "end_day": 5}}], days=14
    )
    rows = ds.transactions.filter(pl.col("fraud_type") == "new_customer.v1")
    assert rows.height > 4 and not rows["is_fraud"].any()
    assert (rows["pattern"] == "new_customer").all()
    assert set(rows["account_role"].cast(pl.String)) == {"none"}
    start = ds.transactions["timestamp"].min()
    shoppers = 0
    customers = rows["customer_id"].unique().to_list()
    for customer in customers:
        own = ds.transactions.filter(pl.col("customer_id") == customer).sort("timestamp")
        # their history starts mid-run, with money paid in before any card payment
        assert own["timestamp"][0] > start
        assert own["direction"][0] == "credit"
        shoppers += int((own["tx_type"] == "purchase").sum() >= 1)
    assert shoppers >= len(customers) / 2  # those opened near the end may not have shopped yet
    episodes = ds.episodes.join(rows.group_by("episode_id").len(), on="episode_id")
    assert (episodes["rows"] == episodes["len"]).all()
    assert not ds.episodes["is_fraud"].any()


def test_newcomers_live_an_ordinary_life_like_everyone():
    """Not only card purchases: pay, cash and transfers at the profile's rates; and newcomers
    look like the customers already there (ages, incomes)."""
    ds = run_world(
        [{"name": "new_customer.v1", "schedule": {"episodes": 40, "end_day": 3}}],
        customers=800,
        days=35,
    )
    rows = ds.transactions.filter(pl.col("fraud_type") == "new_customer.v1")
    kinds = set(rows["tx_type"].cast(pl.String).to_list())
    assert {"purchase", "atm_withdrawal", "p2p_transfer", "salary"} <= kinds
    paid = rows.filter(pl.col("tx_type") == "salary")["customer_id"].n_unique()
    assert paid >= 30  # (nearly) everyone is paid within a month
    newcomers = ds.customers.filter(pl.col("customer_id").is_in(rows["customer_id"].implode()))
    others = ds.customers.filter(~pl.col("customer_id").is_in(rows["customer_id"].implode()))
    assert abs(newcomers["age"].median() - others["age"].median()) < 10
    ratio = newcomers["annual_income"].median() / others["annual_income"].median()
    assert 0.7 < ratio < 1.4
    hours = rows.filter(pl.col("tx_type") == "purchase")["timestamp"].dt.hour()
    assert hours.n_unique() >= 18  # at honest hours, not in a window
