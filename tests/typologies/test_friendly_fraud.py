"""friendly_fraud.v1: an owner's ordinary purchase, disputed weeks later; labelled legitimate."""

import polars as pl

from fraudsim import simulate
from fraudsim.calibration import load_profile
from fraudsim.config.scenario import validate_scenario

NAME = "friendly_fraud.v1"


def _run(params, episodes, end_day, seed=7, profile=None):
    """A 14-day world whose episodes start before `end_day` (so the purchase falls in the run)."""
    entry = {"name": NAME, "params": params, "schedule": {"episodes": episodes, "end_day": end_day}}
    config = validate_scenario(
        {
            "name": "friendly_fraud_test",
            "seed": seed,
            "days": 14,
            "population": {"customers": 1500},
            "typologies": [entry],
        },
        "test",
    )
    ds = simulate(config, profile)
    ds.check_schema()
    return ds


def test_friendly_fraud_is_a_disputed_own_purchase():
    ds = _run({"min_dispute_days": 7}, episodes=8, end_day=12)
    tx = ds.transactions.filter(pl.col("fraud_type") == NAME)
    buys = tx.filter(pl.col("tx_type") == "purchase")
    assert ds.episodes.height == 8 and buys.height == 8
    assert buys["episode_id"].n_unique() == 8  # one disputed purchase per episode
    # Ground truth is legitimate, yet the rows say a dispute followed.
    assert not tx["is_fraud"].any() and not ds.episodes["is_fraud"].any()
    assert set(tx["account_role"].unique().to_list()) == {"none"}
    assert tx["episode_id"].null_count() == 0 and tx["reported_at"].null_count() == 0
    days_to_dispute = (buys["reported_at"] - buys["timestamp"]).dt.total_seconds() / 86_400
    assert days_to_dispute.min() >= 7  # weeks after the purchase, not before it
    # The card is the buyer's own; an online purchase comes from the buyer's own device.
    own = buys.join(ds.cards.select("card_id", pl.col("customer_id").alias("owner")), on="card_id")
    assert own.height == 8 and (own["owner"] == own["customer_id"]).all()
    honest = pl.concat(
        [
            ds.transactions.filter(pl.col("episode_id").is_null()).select(
                "customer_id", "device_id"
            ),
            ds.events.filter(pl.col("episode_id").is_null()).select("customer_id", "device_id"),
        ]
    ).drop_nulls()
    online = buys.filter(pl.col("channel") == "cnp")
    seen = 0
    for row in online.iter_rows(named=True):
        users = set(honest.filter(pl.col("device_id") == row["device_id"])["customer_id"].to_list())
        assert users <= {row["customer_id"]}  # nobody else's device
        seen += users == {row["customer_id"]}
    assert online.height >= 4 and seen >= online.height / 2  # a device they use day to day
    # A dispute is not a fraud report: the card is never blocked.
    cards = buys["card_id"].to_list()
    blocked = ds.transactions.filter(
        pl.col("card_id").is_in(cards) & (pl.col("decline_reason") == "card_blocked")
    )
    assert blocked.height == 0
    rows = tx.group_by("episode_id").len()
    check = ds.episodes.join(rows, on="episode_id", how="left")
    assert (check["rows"] == check["len"]).all()


def test_friendly_fraud_chargeback_returns_the_amount():
    # A profile where disputes come fast, so the chargeback lands inside a short run.
    profile = load_profile("default")
    fraud = profile.fraud.model_copy(update={"dispute_median_days": 3.0, "report_delay_sigma": 0.1})
    profile = profile.model_copy(update={"fraud": fraud})
    ds = _run(
        {"min_dispute_days": 2, "chargeback_days": 0.5}, 5, end_day=4, seed=3, profile=profile
    )
    tx = ds.transactions.filter(pl.col("fraud_type") == NAME).sort("timestamp")
    refunds = tx.filter(pl.col("tx_type") == "refund")
    settled = tx.filter((pl.col("tx_type") == "purchase") & ~pl.col("is_declined"))
    assert refunds.height == settled.height >= 3
    # The engine's report process used the report time the episode pushed past the purchase.
    detected = ds.episodes.filter(pl.col("detected"))
    assert detected.height >= 3
    assert (detected["detected_at"] == detected["reported_at"]).all()
    for row in refunds.iter_rows(named=True):
        buy = settled.filter(pl.col("episode_id") == row["episode_id"]).row(0, named=True)
        assert row["direction"] == "credit" and row["card_id"] == buy["card_id"]
        assert row["merchant_id"] == buy["merchant_id"] and row["amount"] == buy["amount"]
        assert row["timestamp"] >= buy["reported_at"]  # the chargeback follows the dispute
        assert (row["timestamp"] - buy["timestamp"]).total_seconds() >= 2 * 86_400


def test_dispute_delays_spread_over_the_window():
    # Disputes come weeks after the purchase, most at 30-90 days, a tail towards the 120-day
    # network window: drawn, not piled at the window's end or at a fixed floor.
    ds = _run({"min_dispute_days": 10}, episodes=40, end_day=12)
    buys = ds.transactions.filter(
        (pl.col("fraud_type") == NAME) & (pl.col("tx_type") == "purchase")
    )
    days = ((buys["reported_at"] - buys["timestamp"]).dt.total_seconds() / 86_400).to_list()
    assert len(days) >= 30
    assert min(days) > 10 and max(days) < 120
    assert len({round(d, 3) for d in days}) == len(days)  # no two on the same bound
    assert sum(d > 119 for d in days) == 0 and sum(d < 11 for d in days) <= 1
    assert sum(30 <= d <= 90 for d in days) >= 0.55 * len(days)
    assert 30 <= sorted(days)[len(days) // 2] <= 70
