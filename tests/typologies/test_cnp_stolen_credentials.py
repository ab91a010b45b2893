"""cnp_stolen_credentials.v1: leaked card used online on a few days amid the owner's own
spending, a few purchases a day at inflated amounts, at shops its ring knows take them
unchallenged; a shop that challenges is asked only for small tickets afterwards."""

import polars as pl

from fraudsim import Dataset, simulate
from fraudsim.config.scenario import validate_scenario

NAME = "cnp_stolen_credentials.v1"


def _run(params: dict | None = None, **bank: float) -> Dataset:
    """10 episodes starting in the first 3 days of a 14-day world, each used over ~10 days."""
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
                    "params": params or {"days": 10},
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
    # a few purchases a day, minutes to an hour apart (Fraud Detection Handbook: ~3 per
    # compromised card a day), on one or more days
    per_day = fraud.group_by("card_id", pl.col("timestamp").dt.date()).len()["len"]
    assert 2.0 <= per_day.mean() <= 5.0
    assert sorted(gaps)[len(gaps) // 2] < 3 * 3_600 and max(gaps) > 12 * 3_600
    assert fraud["is_fraud"].all() and fraud["episode_id"].null_count() == 0
    assert set(fraud["account_role"].unique().to_list()) == {"victim"}
    assert ds.episodes["rows"].sum() == fraud.height


def test_cnp_stolen_credentials_adapts_to_step_up():
    # Default bank: PSD2 exemptions, challenges the fraudster cannot answer. One ring, so the
    # shops' histories are the ring's: after a few challenges at a shop (an exemption is the
    # issuer's call) the ring asks it for small tickets only (the low-value exemption).
    ds = _run(params={"days": 10, "rings": 1, "otp_share": 0.0})
    fraud = ds.transactions.filter(pl.col("fraud_type") == NAME).sort("timestamp")
    challenged = 0
    for _, rows in fraud.group_by("merchant_id"):
        rows = rows.sort("timestamp").with_row_index()
        failed = rows.filter(pl.col("decline_reason") == "step_up_failed")
        if failed.height < 3:
            continue
        challenged += 1
        later = rows.filter(pl.col("index") > failed["index"][2])
        if later.height:  # the next try there is a small ticket (it may be dropped later)
            assert later["amount"][0] <= 30.0
    assert challenged >= 1
    assert ds.episodes["adaptations"].sum() >= challenged
    # not every ticket sits just under the limit: cash-outs go where nobody asks
    accepted = fraud.filter(~pl.col("is_declined"))["amount"]
    assert accepted.is_between(18.0, 30.0).mean() < 0.5
    assert ds.episodes["rows"].sum() == fraud.height
