"""cnp_stolen_credentials.v1: leaked card used online over days amid the owner's own spending,
at inflated amounts; under step-up it splits purchases below the threshold."""

import polars as pl

from fraudsim import Dataset, simulate
from fraudsim.config.scenario import validate_scenario

NAME = "cnp_stolen_credentials.v1"


def _run(**bank: float) -> Dataset:
    """10 episodes starting in the first 3 days of a 14-day world, each spread over 10 days."""
    config = validate_scenario(
        {
            "name": "cnp_stolen_credentials_test",
            "seed": 7,
            "days": 14,
            "population": {"customers": 2000},
            "bank": bank,
            "typologies": [
                {
                    "name": NAME,
                    "params": {"days": 10},
                    "schedule": {"episodes": 10, "end_day": 3},
                }
            ],
        },
        "test",
    )
    dataset = simulate(config)
    dataset.check_schema()
    return dataset


def test_cnp_stolen_credentials_interleaved_and_inflated():
    # A step-up threshold above every ticket: the fraudster's own amounts show unadapted.
    ds = _run(sca_threshold=5000.0)
    tx = ds.transactions
    fraud = tx.filter(pl.col("fraud_type") == NAME)
    assert ds.episodes.height == 10
    used, interleaved, ratios, gaps = 0, 0, [], []
    for ep in ds.episodes.iter_rows(named=True):
        rows = fraud.filter(pl.col("episode_id") == ep["episode_id"]).sort("timestamp")
        if rows.height == 0:
            continue  # the owner reported the card before it was used
        used += 1
        assert rows["card_id"].n_unique() == 1
        assert (rows["channel"] == "cnp").all() and rows["terminal_id"].is_null().all()
        # bought from a new device, never the owner's
        own_devices = tx.filter(
            (pl.col("customer_id") == rows["customer_id"][0]) & ~pl.col("is_fraud")
        )["device_id"].drop_nulls()
        assert not rows["device_id"].is_in(own_devices.to_list()).any()
        honest = tx.filter((pl.col("card_id") == rows["card_id"][0]) & ~pl.col("is_fraud"))
        end = ep["end"] or tx["timestamp"].max()  # episodes may outlive the world
        during = honest.filter(pl.col("timestamp").is_between(ep["start"], end))
        interleaved += during.height > 0
        if honest.height >= 3:
            ratios.append(rows["amount"].median() / honest["amount"].median())
        gaps += rows["timestamp"].diff().dt.total_seconds().drop_nulls().to_list()
    # the owner keeps using the card: honest rows fall inside the fraud period of many episodes
    assert used >= 6 and interleaved >= 0.6 * used
    # inflated above the owner's usual ticket (honest medians of a few rows are noisy)
    assert len(ratios) >= 5
    assert sum(r > 1 for r in ratios) >= 0.75 * len(ratios)
    assert sorted(ratios)[len(ratios) // 2] >= 2.5
    # spread over days, not a burst
    assert sorted(gaps)[len(gaps) // 2] > 6 * 3_600
    assert fraud["is_fraud"].all() and fraud["episode_id"].null_count() == 0
    assert set(fraud["account_role"].unique().to_list()) == {"victim"}
    assert ds.episodes["rows"].sum() == fraud.height


def test_cnp_stolen_credentials_adapts_to_step_up():
    ds = _run()  # default bank: step-up above 30
    fraud = ds.transactions.filter(pl.col("fraud_type") == NAME)
    adapted = 0
    for episode_id in ds.episodes["episode_id"].to_list():
        rows = fraud.filter(pl.col("episode_id") == episode_id).sort("timestamp")
        failed = rows.with_row_index().filter(pl.col("decline_reason") == "step_up_failed")
        if failed.height == 0:
            continue
        adapted += 1
        after = rows.slice(int(failed["index"][0]) + 1)
        # after the first step-up decline every try stays under the threshold ...
        assert (after["amount"] <= 30.0).all()
        # ... and goes through step-up
        assert (after["decline_reason"] != "step_up_failed").all()
        # a purchase worth more than the threshold is split into pieces minutes apart
        gaps = after["timestamp"].diff().dt.total_seconds().drop_nulls()
        if after.height >= 3:
            assert gaps.min() < 3_600
    assert adapted >= 6
    assert ds.episodes["adaptations"].sum() >= adapted
    assert ds.episodes["rows"].sum() == fraud.height
