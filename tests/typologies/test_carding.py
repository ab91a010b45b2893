"""typologies/carding.py: card-fraud rings cash out at a few persistent shops, favouring shops
that never ask for strong authentication, at amounts spread like real fraud (no pile at a
limit), a few purchases per card a day."""

import math

import numpy as np
import polars as pl

from fraudsim.typologies.carding import truncated_lognormal

CASH_OUT_TYPES = ["card_testing.v1", "cnp_stolen_credentials.v1"]


def test_truncated_lognormal_cuts_the_tail_without_piling_at_the_bound():
    rng = np.random.default_rng(1)
    draws = np.array([truncated_lognormal(rng, math.log(100), 1.0, 30.0) for _ in range(4000)])
    assert draws.max() <= 30.0 and draws.min() > 0
    # a pile would put a large share right under the bound; a cut tail puts what the
    # lognormal density does there (~7% of the kept mass in the last euro)
    assert ((draws > 29.0) & (draws <= 30.0)).mean() < 0.12
    low = np.array(
        [truncated_lognormal(rng, math.log(10), 0.5, math.inf, 12.0) for _ in range(500)]
    )
    assert low.min() >= 12.0


def test_rings_cash_out_at_a_few_persistent_shops(run_typology):
    # One ring of four shops: every episode's cash-outs go to that list (or the shops that
    # replaced the ones it gave up), whatever the card or the day.
    ds = run_typology(
        "cnp_stolen_credentials.v1",
        params={"rings": 1, "ring_shops": 4, "first_use_days": 0.5},
        episodes=12,
        days=14,
        customers=2000,
    )
    fraud = ds.transactions.filter(pl.col("fraud_type") == "cnp_stolen_credentials.v1")
    assert fraud["episode_id"].n_unique() >= 8
    shops = fraud["merchant_id"].value_counts().sort("count", descending=True)
    assert shops.height <= 4 + 4  # the list, and a few replacements
    assert shops["count"].head(4).sum() >= 0.75 * fraud.height
    # the resale categories of the profile
    categories = ds.merchants.filter(pl.col("merchant_id").is_in(shops["merchant_id"].implode()))
    resale = {"electronics", "digital_goods", "travel", "general_retail", "apparel"}
    assert set(categories["category"].to_list()) <= resale


def test_cash_outs_are_shelf_prices_of_their_shop(run_typology):
    # Fraudsters buy goods at real shops: their tickets carry the shops' price endings, as
    # honest tickets at those shops do (no random-cents shortcut).
    ds = run_typology(
        "cnp_stolen_credentials.v1", params={"first_use_days": 0.5}, episodes=15, days=14
    )
    tx = ds.transactions.filter(pl.col("channel") == "cnp")
    fraud = tx.filter(pl.col("fraud_type") == "cnp_stolen_credentials.v1")
    honest = tx.filter(
        pl.col("episode_id").is_null()
        & pl.col("merchant_id").is_in(fraud["merchant_id"].unique().implode())
    )

    def ending_99(frame: pl.DataFrame) -> float:
        cents = (frame["amount"] * 100).round(0).cast(pl.Int64) % 100
        return float((cents == 99).mean())

    assert fraud.height >= 20 and honest.height >= 100
    assert abs(ending_99(fraud) - ending_99(honest)) < 0.2


def test_card_testing_bots_return_to_their_test_shops(run_typology):
    # One ring: its bots test at the same two shops in every episode (a tested shop's fraud
    # rate is a real signal), and carders cash the cards out at the ring's shops, a few a day.
    ds = run_typology(
        "card_testing.v1",
        params={"rings": 1, "merchants": 2, "cards": 15, "stale_share": 0.3},
        episodes=5,
        days=10,
    )
    fraud = ds.transactions.filter(pl.col("fraud_type") == "card_testing.v1").sort("timestamp")
    # the bot's tries come first, from its own device; the carders use another one
    bots = fraud.group_by("episode_id").agg(pl.col("device_id").first().alias("bot"))
    fraud = fraud.join(bots, on="episode_id")
    tests = fraud.filter(pl.col("device_id") == pl.col("bot"))
    assert (tests["amount"] <= 2.0).all()
    per_episode = tests.group_by("episode_id").agg(pl.col("merchant_id").unique())
    shops = set().union(*(set(m) for m in per_episode["merchant_id"].to_list()))
    assert len(shops) <= 2 + 2  # two test shops (a replacement after a step-up at most twice)
    cash = fraud.filter(pl.col("device_id") != pl.col("bot"))
    assert cash.height > 0 and cash["merchant_id"].n_unique() <= 3 * 4  # the ring's list
    per_day = cash.group_by("card_id", pl.col("timestamp").dt.date()).len()["len"]
    assert 1.5 <= per_day.mean() <= 5.0
