"""large_transfer.v1: honest transfers of thousands, paid from the payer's own funds."""

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
