"""synthetic_identity.v1: new customers on one shared device, nurtured, then cashed out."""

import polars as pl

from tests.helpers import run_world

NAME = "synthetic_identity.v1"
BASE = {
    "identities": 4,
    "devices": 1,
    "nurture_days": 20,
    "nurture_sigma": 0.0,
    "open_hours": 6,
    "credit_limit": 800.0,
}


def _run(**params):
    entry = {"name": NAME, "params": {**BASE, **params}, "schedule": {"episodes": 2, "end_day": 2}}
    # (reports would freeze some identities mid-way: keep the whole shape here)
    return run_world([entry], days=30, bank={"block_on_report": False})


def _common_checks(ds) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Labels, row counts, new customers only, shared devices; returns (rows, events)."""
    tx = ds.transactions.filter(pl.col("fraud_type") == NAME)
    ev = ds.events.filter(pl.col("fraud_type") == NAME)
    assert tx["is_fraud"].all() and tx["episode_id"].null_count() == 0
    rows = tx.group_by("episode_id").len()
    joined = ds.episodes.join(rows, on="episode_id")
    assert joined.height == 2 and (joined["rows"] == joined["len"]).all()
    synthetic = set(tx["customer_id"].to_list())
    assert len(synthetic) == 8
    # Brand-new customers: nothing honest ever happens on them.
    honest = ds.transactions.filter(~pl.col("is_fraud"))
    assert synthetic.isdisjoint(honest["customer_id"].to_list())
    assert synthetic.isdisjoint(ds.events.filter(~pl.col("is_fraud"))["customer_id"].to_list())
    for episode_id in ds.episodes["episode_id"].to_list():
        e = ev.filter(pl.col("episode_id") == episode_id)
        t = tx.filter(pl.col("episode_id") == episode_id)
        # several identities share one device
        users = (
            pl.concat([e.select("device_id", "customer_id"), t.select("device_id", "customer_id")])
            .drop_nulls()
            .group_by("device_id")
            .agg(pl.col("customer_id").n_unique())
        )
        assert users["customer_id"].max() == 4
        # each identity is active only after its opening (the first login)
        start = ds.episodes.filter(pl.col("episode_id") == episode_id)["start"][0]
        for cust in t["customer_id"].unique().to_list():
            first = e.filter(pl.col("customer_id") == cust).sort("timestamp")
            assert first["event_type"][0] == "login" and first["timestamp"][0] >= start
            assert (
                t.filter(pl.col("customer_id") == cust)["timestamp"].min() > first["timestamp"][0]
            )
    # plausible one by one (ages and incomes like newcomers', the income a little inflated),
    # inconsistent together (one device, shared phones)
    people = ds.customers.filter(pl.col("customer_id").is_in(list(synthetic)))
    everyone = ds.customers["annual_income"].median()
    assert people["annual_income"].median() < 2 * everyone
    assert people["income_band"].n_unique() > 1 and people["age"].n_unique() > 1
    return tx, ev


def test_bust_out_after_nurture():
    ds = _run(cash_out="bust_out", shared_phone_share=1.0)
    tx, ev = _common_checks(ds)
    assert set(tx["account_role"].cast(pl.String).unique().to_list()) == {"fraudster"}
    credit = ds.accounts.filter(pl.col("kind") == "credit")
    for cust in tx["customer_id"].unique().to_list():
        rows = (
            tx.filter(pl.col("customer_id") == cust)
            .filter(~pl.col("is_declined"))
            .sort("timestamp")
        )
        account = credit.filter(pl.col("customer_id") == cust)
        assert account.height == 1
        limit = -account["limit"][0]
        assert limit == 800 * 2.5  # the good record earned a limit raise
        card = rows.filter(pl.col("account_id") == account["account_id"][0])
        # owed on the card over time: purchases add, repayments (credits to it) subtract
        paid_in = rows.filter(pl.col("counterparty_account_id") == account["account_id"][0])
        moves = pl.concat(
            [
                card.select("timestamp", pl.col("amount")),
                paid_in.select("timestamp", -pl.col("amount")),
            ]
        ).sort("timestamp")
        owed = moves["amount"].cum_sum()
        crossed = moves.filter(owed > 0.3 * 800 + 1)
        assert crossed.height >= 1
        cash_out = crossed["timestamp"][0]
        opened = ev.filter(pl.col("customer_id") == cust)["timestamp"].min()
        assert (cash_out - opened).total_seconds() >= 15 * 86_400  # nurtured first
        before = rows.filter(pl.col("timestamp") < cash_out)
        assert (before["direction"] == "credit").any()  # a first deposit, pay-ins
        nurture_debits = before.filter(pl.col("direction") == "debit")
        assert nurture_debits.height >= 1 and nurture_debits["amount"].max() < 300
        assert owed[-1] >= 0.9 * limit  # then the card is maxed out
        spree = (moves["timestamp"].max() - cash_out).total_seconds() / 3600
        assert spree < 72
    # one phone number behind all the identities of an episode
    people = ds.customers.filter(pl.col("customer_id").is_in(tx["customer_id"].unique().to_list()))
    assert people["phone"].n_unique() == 2


def test_mule_identities_receive_and_forward():
    ds = _run(cash_out="mule")
    tx, ev = _common_checks(ds)
    assert set(tx["account_role"].cast(pl.String).unique().to_list()) == {"mule"}
    for cust in tx["customer_id"].unique().to_list():
        rows = tx.filter(pl.col("customer_id") == cust).sort("timestamp")
        # (the first deposit came from the identity's 'old bank' by online banking)
        proceeds = rows.filter(pl.col("tx_type") == "p2p_transfer").filter(
            (pl.col("direction") == "credit") & (pl.col("channel") == "incoming")
        )
        out = rows.filter(pl.col("tx_type") == "p2p_transfer").filter(
            pl.col("direction") == "debit"
        )
        assert proceeds.height >= 1 and out.height >= 1
        opened = ev.filter(pl.col("customer_id") == cust)["timestamp"].min()
        assert (proceeds["timestamp"].min() - opened).total_seconds() >= 15 * 86_400
        nurture = rows.filter(pl.col("timestamp") < proceeds["timestamp"].min())
        assert (nurture["direction"] == "credit").any()  # a first deposit, pay-ins
        assert out["counterparty_account_id"].null_count() == out.height  # out of the bank
        assert out["amount"].sum() >= 0.85 * proceeds["amount"].sum()
        hours = (out["timestamp"].max() - proceeds["timestamp"].max()).total_seconds() / 3600
        assert 0 < hours < 24
