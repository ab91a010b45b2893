"""bust_out.v1: weeks of ordinary repaid spending (or an existing customer's own record), a
limit raise, then a burst to the limit."""

import polars as pl

from fraudsim import simulate
from fraudsim.config.scenario import validate_scenario

NAME = "bust_out.v1"


def _run(params, episodes=2, seed=7, days=14):
    entry = {"name": NAME, "params": params, "schedule": {"episodes": episodes, "end_day": 2}}
    config = validate_scenario(
        {
            "name": "bust_out_test",
            "seed": seed,
            "days": days,
            "population": {"customers": 1500},
            "typologies": [entry],
        },
        "test",
    )
    ds = simulate(config)
    ds.check_schema()
    return ds


NEW = {"existing_share": 0.0, "nurture_days": 35, "nurture_sigma": 0.0}


def test_bust_out_nurtures_raises_the_limit_and_maxes_out():
    params = {**NEW, "credit_limit": 1000.0, "limit_raise_factor": 3.0, "burst_days": 0.8}
    ds = _run(params, days=60)
    tx = ds.transactions.filter(pl.col("fraud_type") == NAME)
    assert tx["is_fraud"].all() and set(tx["account_role"].to_list()) == {"fraudster"}
    honest = ds.transactions.filter(pl.col("episode_id").is_null())
    assert ds.episodes.height == 2
    for ep in ds.episodes.iter_rows(named=True):
        rows = tx.filter(pl.col("episode_id") == ep["episode_id"]).sort("timestamp")
        customer = rows["customer_id"][0]
        assert (rows["customer_id"] == customer).all()
        assert customer not in honest["customer_id"].to_list()  # a new customer
        accounts = ds.accounts.filter(pl.col("customer_id") == customer)
        credit = accounts.filter(pl.col("kind") == "credit").row(0, named=True)
        checking = accounts.filter(pl.col("kind") == "checking").row(0, named=True)
        # The limit raise is asked for in a login (the last; the first opened the account); it
        # splits nurture from burst.
        login = ds.events.filter(
            (pl.col("episode_id") == ep["episode_id"]) & (pl.col("event_type") == "login")
        )["timestamp"].max()
        card = rows.filter(pl.col("card_id").is_not_null() & ~pl.col("is_declined"))
        nurture = card.filter(pl.col("timestamp") < login)
        burst = card.filter(pl.col("timestamp") > login)
        repaid = rows.filter(pl.col("tx_type") == "card_repayment")
        # Nurture: weeks of everyday purchases at honest rates and tickets, the card repaid in
        # full each month from checking, pay arriving monthly (not a round figure).
        nurture_days = (login - rows["timestamp"][0]).total_seconds() / 86_400
        assert nurture_days >= 30 and nurture.height >= 10
        assert nurture["amount"].median() < 60
        assert repaid.height >= 1 and (repaid["timestamp"] < login).all()
        assert set(repaid["counterparty_account_id"].to_list()) == {credit["account_id"]}
        assert (repaid["account_id"] == checking["account_id"]).all()
        on_card = nurture.filter(pl.col("account_id") == credit["account_id"])
        assert repaid["amount"].sum() <= on_card["amount"].sum() + 0.01
        salary = rows.filter(pl.col("tx_type") == "salary")
        assert salary.height >= 1 and (salary["amount"] % 100 != 0).all()
        # Burst: within hours, far above the nurture pace and amounts, above the old limit.
        burst_hours = (burst["timestamp"].max() - burst["timestamp"].min()).total_seconds() / 3600
        assert burst_hours <= 24
        nurture_rate = nurture["amount"].sum() / (nurture_days * 24)
        assert burst["amount"].sum() / max(burst_hours, 1) > 20 * nurture_rate
        assert burst["amount"].mean() > 3 * nurture["amount"].mean()
        assert burst["amount"].sum() > 1000.0  # only possible with the raised limit
        assert "atm_withdrawal" in burst["tx_type"].to_list()  # cash advances too
        # The card ends near its (raised) limit and is never repaid; checking is emptied.
        assert credit["limit"] == -3000.0
        # (some online payments fail their challenge, as honest ones do)
        assert credit["closing_balance"] <= 0.7 * credit["limit"]
        after = rows.filter(pl.col("timestamp") > login)
        assert "card_repayment" not in after["tx_type"].to_list()
        out = after.filter(
            (pl.col("tx_type") == "p2p_transfer") & pl.col("counterparty_account_id").is_null()
        )
        assert out.height == 1 and out["timestamp"][0] >= burst["timestamp"].max()
        assert 0 < checking["closing_balance"] < 50
        # Written off weeks after the burst.
        assert (ep["reported_at"] - burst["timestamp"].max()).total_seconds() > 14 * 86_400
    rows = tx.group_by("episode_id").len()
    check = ds.episodes.join(rows, on="episode_id")
    assert (check["rows"] == check["len"]).all()


def test_bust_out_nurtures_for_months_when_the_run_is_long_enough():
    ds = _run({**NEW, "nurture_days": 60, "burst_days": 1}, episodes=1, days=120)
    tx = ds.transactions.filter(pl.col("fraud_type") == NAME).sort("timestamp")
    login = ds.events.filter(pl.col("fraud_type") == NAME)["timestamp"].max()
    nurture_days = (login - ds.episodes["start"][0]).total_seconds() / 86_400
    assert 60 <= nurture_days <= 63  # two months of good behaviour, then the raise
    assert tx.filter(pl.col("tx_type") == "card_repayment").height >= 2
    assert tx.filter(pl.col("tx_type") == "salary").height >= 2


def test_nurture_period_is_drawn_and_cut_to_the_run():
    ds = _run({"existing_share": 0.0, "nurture_days": 60}, episodes=6, days=40)
    tx = ds.transactions.filter(pl.col("fraud_type") == NAME)
    logins = (
        ds.events.filter(pl.col("fraud_type") == NAME)
        .group_by("episode_id")
        .agg(pl.col("timestamp").max().alias("raise"))
    )
    spans = ds.episodes.join(logins, on="episode_id").select(
        ((pl.col("raise") - pl.col("start")).dt.total_seconds() / 86_400).alias("days")
    )["days"]
    assert spans.n_unique() == spans.len()  # drawn, not one length
    assert spans.min() >= 10 and spans.max() <= 39  # weeks, within the run
    assert tx.filter(pl.col("tx_type") == "purchase")["amount"].n_unique() > 20


def test_existing_customer_busts_out_after_their_own_history():
    ds = _run({"existing_share": 1.0, "limit_raise_factor": 2.0}, episodes=2, days=14)
    tx = ds.transactions.filter(pl.col("fraud_type") == NAME)
    assert tx["is_fraud"].all() and set(tx["account_role"].to_list()) == {"fraudster"}
    for ep in ds.episodes.iter_rows(named=True):
        rows = tx.filter(pl.col("episode_id") == ep["episode_id"])
        customer = rows["customer_id"][0]
        # a customer of the bank from the start, with an honest record before the bust
        assert customer in ds.customers["customer_id"][:1500].to_list()
        honest = ds.transactions.filter(
            (pl.col("customer_id") == customer) & pl.col("episode_id").is_null()
        )
        assert honest.filter(pl.col("timestamp") < rows["timestamp"].min()).height >= 1
        credit = ds.accounts.filter(
            (pl.col("customer_id") == customer) & (pl.col("kind") == "credit")
        )
        card_rows = rows.filter(pl.col("account_id") == credit["account_id"][0])
        assert card_rows.height >= 5 and "atm_withdrawal" in card_rows["tx_type"].to_list()
