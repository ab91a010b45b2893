"""bust_out.v1: weeks of small repaid spending, a limit raise, then a burst to the limit."""

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


def test_bust_out_nurtures_raises_the_limit_and_maxes_out():
    ds = _run({"credit_limit": 1000.0, "limit_raise_factor": 3.0})
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
        # The limit raise is asked for in a login; it splits nurture from burst.
        login = ds.events.filter(
            (pl.col("episode_id") == ep["episode_id"]) & (pl.col("event_type") == "login")
        )["timestamp"][0]
        card = rows.filter(pl.col("card_id").is_not_null() & ~pl.col("is_declined"))
        nurture = card.filter(pl.col("timestamp") < login)
        burst = card.filter(pl.col("timestamp") > login)
        repaid = rows.filter(pl.col("tx_type") == "card_repayment")
        # Nurture: small purchases over days, repaid in full from checking.
        nurture_days = (login - rows["timestamp"][0]).total_seconds() / 86_400
        assert nurture_days >= 5 and nurture.height >= 10
        assert nurture["amount"].median() < 60
        assert repaid.height >= 2 and (repaid["timestamp"] < login).all()
        assert set(repaid["counterparty_account_id"].to_list()) == {credit["account_id"]}
        assert (repaid["account_id"] == checking["account_id"]).all()
        assert repaid["amount"].sum() >= 0.8 * nurture["amount"].sum()
        assert rows.filter(pl.col("tx_type") == "salary").height >= 2
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
        assert credit["closing_balance"] <= 0.85 * credit["limit"]
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


def test_bust_out_uses_real_days_when_the_run_is_long_enough():
    ds = _run({"nurture_days": 10, "burst_days": 1, "repay_every_days": 5}, episodes=1, days=20)
    tx = ds.transactions.filter(pl.col("fraud_type") == NAME).sort("timestamp")
    login = ds.events.filter(pl.col("fraud_type") == NAME)["timestamp"][0]
    nurture_days = (login - ds.episodes["start"][0]).total_seconds() / 86_400
    assert 8.5 <= nurture_days <= 12  # not compressed: ten days of good behaviour
    assert tx.filter(pl.col("tx_type") == "card_repayment").height == 2
