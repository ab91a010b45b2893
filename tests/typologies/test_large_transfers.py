"""large_transfer.v1: honest transfers of thousands, paid from the payer's own funds, typed
as people type prices, in uneven instalments, often to a payee added for it."""

import polars as pl


def test_large_transfers_are_honest_and_large(run_typology):
    ds = run_typology("large_transfer.v1", episodes=6, days=14)
    rows = ds.transactions.filter(pl.col("fraud_type") == "large_transfer.v1")
    assert rows.height >= 6 and not rows["is_fraud"].any()
    assert (rows["pattern"] == "large_transfer").all()
    assert (rows["tx_type"] == "p2p_transfer").all() and (rows["direction"] == "debit").all()
    honest_p2p = ds.transactions.filter(
        (pl.col("tx_type") == "p2p_transfer") & pl.col("episode_id").is_null()
    )
    assert rows["amount"].median() > 20 * honest_p2p["amount"].median()
    # paid by one customer per episode, from their own account and device
    per_episode = rows.group_by("episode_id").agg(pl.col("account_id").n_unique().alias("n"))
    assert (per_episode["n"] == 1).all()
    episodes = ds.episodes.join(rows.group_by("episode_id").len(), on="episode_id")
    assert (episodes["rows"] == episodes["len"]).all()


def test_prices_instalments_and_new_payees_vary(run_typology):
    ds = run_typology("large_transfer.v1", episodes=40, days=30, customers=1000)
    rows = ds.transactions.filter(pl.col("fraud_type") == "large_transfer.v1")
    # Round prices are common, but not all sums are round.
    round_share = (rows["amount"] % 100 == 0).mean()
    assert 0.2 < round_share < 0.95
    # Instalments of one payment differ (a deposit and the balance), never equal pieces.
    split = rows.group_by("episode_id").agg(n=pl.len(), distinct=pl.col("amount").n_unique())
    several = split.filter(pl.col("n") > 1)
    assert several.height >= 3 and (several["distinct"] > 1).mean() > 0.8
    # Most are paid to a payee added for it, shortly before; some to a known one.
    payees = ds.events.filter(
        (pl.col("fraud_type") == "large_transfer.v1") & (pl.col("event_type") == "new_payee")
    )
    share = payees["episode_id"].n_unique() / rows["episode_id"].n_unique()
    assert 0.4 < share < 0.95
    first = rows.group_by("episode_id").agg(pl.col("timestamp").min().alias("paid"))
    joined = payees.join(first, on="episode_id")
    assert (joined["timestamp"] <= joined["paid"]).all()
