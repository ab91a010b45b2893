"""The fraud engine: independence of honest traffic, prevalence control, reports and blocks."""

import polars as pl
import pytest

from fraudsim import simulate
from fraudsim.config.scenario import validate_scenario
from fraudsim.core.errors import ConfigError

# transaction_id is not compared: ids are given after honest and fraud rows are merged, by rank
# in time order, so that no id reveals which stream produced a row.
KEY = [
    "timestamp",
    "customer_id",
    "account_id",
    "card_id",
    "merchant_id",
    "amount",
    "channel",
    "tx_type",
]


def _config(typologies, **extra):
    return validate_scenario(
        {
            "name": "fraud_test",
            "seed": 11,
            "days": 8,
            "population": {"customers": 1500},
            "typologies": typologies,
            **extra,
        },
        "test",
    )


def test_adding_a_typology_leaves_honest_rows_unchanged():
    """Honest rows come from their own seed streams: same ids, times, amounts, merchants.

    Card repayments are excluded: they pay the card's balance, which fraud on that card
    changes, as it would in life. Declines may differ for the same reason (a drained account).
    Victims are the exception from the moment their episode starts: the bank blocks a
    compromised card (its owner pays with another card or a replacement) and freezes a drained
    account for review, as banks do.
    """
    base = simulate(_config([])).transactions
    run = simulate(
        _config(
            [
                {"name": "card_testing.v1", "schedule": {"rate_per_day": 2.0}},
                {"name": "account_takeover.v1", "schedule": {"episodes": 4}},
            ]
        )
    )
    attacked = run.transactions
    assert attacked["is_fraud"].sum() > 0
    cards = run.episodes.select(pl.col("card_ids").alias("card_id"), "start").explode("card_id")
    accounts = run.episodes.select(pl.col("account_ids").alias("account_id"), "start")
    victims = (
        pl.concat(
            [
                cards.join(run.cards.select("card_id", "customer_id"), on="card_id"),
                accounts.explode("account_id").join(
                    run.accounts.select("account_id", "customer_id"), on="account_id"
                ),
            ],
            how="diagonal",
        )
        .group_by("customer_id")
        .agg(pl.col("start").min().alias("from"))
    )

    def honest(frame: pl.DataFrame) -> pl.DataFrame:
        rows = frame.filter(
            pl.col("episode_id").is_null() & (pl.col("tx_type") != "card_repayment")
        ).join(victims, on="customer_id", how="left")
        untouched = pl.col("from").is_null() | (pl.col("timestamp") < pl.col("from"))
        return rows.filter(untouched).select(KEY)

    assert honest(base).equals(honest(attacked))
    # and victims' honest life before their episode is the same too
    assert victims.height > 0


def test_target_share_scales_episode_counts():
    low = simulate(_config([{"name": "card_testing.v1"}]))
    high = simulate(_config([{"name": "card_testing.v1"}], fraud={"target_share": 0.02}))
    share = high.transactions["is_fraud"].mean()
    assert high.fraud_summary["oversampling_factor"] > 1
    assert 0.01 < share < 0.04
    assert share > low.transactions["is_fraud"].mean()


def test_reported_fraud_blocks_the_card_and_labels_report_time():
    ds = simulate(
        _config(
            [
                {
                    "name": "card_testing.v1",
                    "schedule": {"episodes": 3},
                    "params": {"cash_out_share": 1.0, "stale_share": 0.0},
                }
            ]
        )
    )
    fraud = ds.transactions.filter(pl.col("is_fraud"))
    reported = fraud.filter(pl.col("reported_at").is_not_null())
    assert reported.height > 0
    assert (reported["reported_at"] >= reported["timestamp"]).all()
    blocked = ds.transactions.filter(pl.col("decline_reason") == "card_blocked")
    if blocked.height:
        # every card-blocked row comes after that card's episode was reported or flagged
        assert ds.episodes["detected"].any()


def test_unknown_typology_names_the_available_ones():
    with pytest.raises(ConfigError, match=r"available: .*card_testing\.v1"):
        simulate(_config([{"name": "no_such_thing.v1"}]))


def test_bad_typology_params_give_a_one_line_error():
    with pytest.raises(ConfigError) as err:
        simulate(_config([{"name": "card_testing.v1", "params": {"cards": -5}}]))
    message = str(err.value)
    assert "typologies[0]" in message and "[cards]" in message and "\n" not in message
    with pytest.raises(ConfigError, match="allowed: "):
        simulate(_config([{"name": "card_testing.v1", "params": {"cardz": 5}}]))


def test_schedule_window_is_respected():
    ds = simulate(
        _config(
            [
                {
                    "name": "account_takeover.v1",
                    "schedule": {"start_day": 5, "end_day": 7, "episodes": 4},
                }
            ]
        )
    )
    starts = ds.episodes["start"]
    first_day = ds.transactions["timestamp"].min().date()
    days = [(s.date() - first_day).days for s in starts]
    assert all(5 <= d < 7 for d in days)


def test_transaction_ids_do_not_reveal_the_stream():
    """Ids are a keyed scramble of (day, rank in time order): decoding them with the seed's key
    gives a position in time, the same for honest and fraud rows."""
    import numpy as np

    from fraudsim.core.ids import scramble
    from fraudsim.core.rng import SeedStreams

    config = _config([{"name": "card_testing.v1", "schedule": {"rate_per_day": 3.0}}])
    tx = simulate(config).transactions
    assert tx["transaction_id"].n_unique() == tx.height
    # Invert the 63-bit scramble by brute force on the first day's positions.
    key = SeedStreams(config.seed).key("transaction_ids")
    first_day = tx.filter(pl.col("timestamp").dt.date() == tx["timestamp"].min().date())
    positions = np.arange(first_day.height, dtype=np.uint64)
    expected = scramble(positions, key, bits=63)
    assert (first_day["transaction_id"].to_numpy() == expected).all()
