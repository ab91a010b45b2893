"""card_testing.v1: many tiny online amounts on many cards at few merchants within minutes."""

import polars as pl


def test_card_testing_shape(run_typology):
    ds = run_typology(
        "card_testing.v1", params={"cards": 30, "merchants": 2, "cash_out_share": 0}, episodes=2
    )
    fraud = ds.transactions.filter(pl.col("fraud_type") == "card_testing.v1")
    assert fraud.height >= 50
    per_episode = fraud.group_by("episode_id").agg(
        pl.col("card_id").n_unique().alias("cards"),
        pl.col("merchant_id").n_unique().alias("merchants"),
        (pl.col("timestamp").max() - pl.col("timestamp").min()).dt.total_minutes().alias("minutes"),
        (pl.col("amount") <= 2.0).mean().alias("tiny"),
        (pl.col("channel") == "cnp").mean().alias("online"),
        pl.col("is_declined").mean().alias("declined"),
    )
    for row in per_episode.iter_rows(named=True):
        assert row["cards"] >= 25  # many cards
        assert row["merchants"] <= 3  # few merchants (one switch after step-up allowed)
        assert row["minutes"] <= 60  # within minutes
        assert row["tiny"] == 1.0  # tiny amounts
        assert row["online"] == 1.0
        assert row["declined"] >= 0.3  # high decline rate
    assert fraud["is_fraud"].all() and fraud["episode_id"].null_count() == 0


def test_card_testing_rows_are_labelled_victims(run_typology):
    ds = run_typology("card_testing.v1", episodes=1)
    fraud = ds.transactions.filter(pl.col("is_fraud"))
    assert set(fraud["account_role"].unique().to_list()) == {"victim"}
    episodes = ds.episodes
    assert episodes.height == 1
    assert episodes["rows"][0] == fraud.height
