"""bin_attack.v1: neighbouring PANs of one BIN at one merchant, seconds apart, mostly declined."""

import polars as pl


def _fraud(ds):
    return ds.transactions.filter(pl.col("fraud_type") == "bin_attack.v1")


def test_bin_attack_walks_neighbouring_numbers(run_typology):
    ds = run_typology("bin_attack.v1", params={"cards": 40}, episodes=3, seed=1, customers=2000)
    fraud = _fraud(ds)
    cards = ds.cards.select("card_id", "card_number").with_columns(
        pl.col("card_number").str.slice(0, 6).alias("bin")
    )
    assert ds.episodes.height == 3
    for episode_id in ds.episodes["episode_id"].to_list():
        rows = fraud.filter(pl.col("episode_id") == episode_id).sort("timestamp")
        tried = rows.join(cards, on="card_id", how="left")
        # one BIN, one merchant, online
        assert tried["bin"].n_unique() == 1
        assert rows["merchant_id"].n_unique() == 1
        assert (rows["channel"] == "cnp").all()
        # the tried numbers are a contiguous run of the bank's sorted numbers in that BIN
        ranked = (
            cards.filter(pl.col("bin") == tried["bin"][0])
            .sort("card_number")
            .with_row_index("rank")
        )
        ranks = ranked.filter(pl.col("card_id").is_in(rows["card_id"].unique().to_list()))["rank"]
        assert ranks.len() == 40
        assert ranks.max() - ranks.min() + 1 == ranks.len()
        # ... walked in ascending order of card number
        first_seen = tried.group_by("card_id").agg(
            pl.col("timestamp").min(), pl.col("card_number").first()
        )
        assert first_seen.sort("timestamp")["card_number"].is_sorted()
        # bursts seconds apart, small amounts, mostly declined
        gaps = rows["timestamp"].diff().dt.total_seconds().drop_nulls()
        assert gaps.median() <= 10
        assert (rows["amount"] <= 3.0).all()
        assert rows["is_declined"].mean() >= 0.7
        assert (rows.filter(pl.col("is_declined"))["decline_reason"] == "rule").mean() > 0.9
    # labels
    assert fraud["is_fraud"].all()
    assert set(fraud["account_role"].unique().to_list()) == {"victim"}
    assert ds.episodes["rows"].sum() == fraud.height


def test_bin_attack_moves_on_when_merchant_steps_up(run_typology):
    # A step-up threshold below the smallest try: every try fails step-up, so the bot keeps
    # switching merchants and lowering its amounts.
    ds = run_typology(
        "bin_attack.v1",
        params={"cards": 10, "hit_rate": 1.0, "guesses_max": 1},
        episodes=1, seed=1,
        bank={"sca_threshold": 0.2},
    )
    rows = _fraud(ds).sort("timestamp")
    assert (rows["decline_reason"] == "step_up_failed").mean() > 0.8
    assert rows["merchant_id"].n_unique() >= 5
    assert rows["amount"][-1] < rows["amount"][0]
    assert ds.episodes["adaptations"][0] >= 5
