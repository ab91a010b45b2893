"""bin_attack.v1: neighbouring PANs of one BIN at one merchant, seconds apart, mostly declined;
the numbers found are cashed out later by carders (another device, the ring's shops)."""

import polars as pl

from fraudsim import simulate
from fraudsim.config.scenario import validate_scenario


def _run(params: dict, episodes: int, seed: int = 7, **extra):
    """A 14-day world of 2000 customers whose attacks all start on day 0 (time to unfold)."""
    config = validate_scenario(
        {
            "name": "bin_attack_test",
            "seed": seed,
            "days": 14,
            "population": {"customers": 2000},
            "typologies": [
                {
                    "name": "bin_attack.v1",
                    "params": params,
                    "schedule": {"episodes": episodes, "end_day": 1},
                }
            ],
            **extra,
        },
        "test",
    )
    dataset = simulate(config)
    dataset.check_schema()
    return dataset


def _fraud(ds):
    return ds.transactions.filter(pl.col("fraud_type") == "bin_attack.v1")


def _walk(rows):
    """The bot's tries (its own device, the episode's first row's), without the cash-outs."""
    rows = rows.sort("timestamp")
    return rows.filter(pl.col("device_id") == rows["device_id"][0])


def test_bin_attack_walks_neighbouring_numbers(run_typology):
    ds = run_typology("bin_attack.v1", params={"cards": 40}, episodes=3, customers=2000)
    fraud = _fraud(ds)
    cards = ds.cards.select("card_id", "card_number").with_columns(
        pl.col("card_number").str.slice(0, 6).alias("bin")
    )
    assert ds.episodes.height == 3
    for episode_id in ds.episodes["episode_id"].to_list():
        rows = _walk(fraud.filter(pl.col("episode_id") == episode_id))
        tried = rows.join(cards, on="card_id", how="left")
        # one BIN, one merchant (another only after a merchant asked for step-up), online
        assert tried["bin"].n_unique() == 1
        switches = (rows["merchant_id"] != rows["merchant_id"].shift(1)).arg_true()
        for i in switches.to_list():
            assert rows["decline_reason"][i - 1] == "step_up_failed"
        assert rows["merchant_id"].value_counts()["count"].max() >= 0.5 * rows.height
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
        # declined for wrong card data (or because an earlier attack's report blocked the card)
        reasons = rows.filter(pl.col("is_declined"))["decline_reason"]
        assert set(reasons.to_list()) <= {"rule", "card_blocked", "step_up_failed"}
        assert (reasons == "rule").sum() > 0.8 * (reasons != "card_blocked").sum()
    # labels
    assert fraud["is_fraud"].all()
    assert set(fraud["account_role"].unique().to_list()) == {"victim"}
    assert ds.episodes["rows"].sum() == fraud.height


def test_bin_attack_adapts_to_step_up(run_typology):
    # A step-up threshold inside the bot's amount range: after the first step-up decline the
    # bot moves to another merchant and keeps its tries well under the threshold.
    ds = run_typology(
        "bin_attack.v1",
        params={"cards": 30, "hit_rate": 0.5, "amount_min": 0.5, "amount_max": 3.0},
        episodes=1,
        bank={"sca_threshold": 2.0},
    )
    rows = _walk(_fraud(ds)).with_row_index()
    failed = rows.filter(pl.col("decline_reason") == "step_up_failed")
    assert failed.height >= 1
    first = int(failed["index"][0])
    before, after = rows.slice(0, first + 1), rows.slice(first + 1)
    assert after.height > 0
    assert (after["amount"] <= 1.0).all()
    assert (after["decline_reason"] != "step_up_failed").all()
    assert set(after["merchant_id"].to_list()).isdisjoint(before["merchant_id"].to_list())
    assert ds.episodes["adaptations"][0] >= 1


def test_bin_attack_returning_bot_meets_merchant_step_up():
    # A bot pausing for hours between bursts spans midnight; the merchant reviews its day of
    # declines, switches on step-up, and the bot moves to another merchant.
    ds = _run(
        {"cards": 300, "burst_size": 60, "pause_minutes": 300},
        episodes=1,
        bank={"block_on_report": False},  # no early report cutting the night short
    )
    rows = _walk(_fraud(ds)).with_row_index()
    assert rows["timestamp"].dt.date().n_unique() >= 2
    failed = rows.filter(pl.col("decline_reason") == "step_up_failed")
    assert failed.height >= 1
    first = int(failed["index"][0])
    assert rows["merchant_id"][first + 1] != rows["merchant_id"][first]


def test_bin_attack_survives_a_report():
    # A slow bot (long pauses) is still walking when the first victims report: the report
    # blocks every number tried so far at once; the bot does not notice and walks on.
    ds = _run({"cards": 120, "guesses_max": 1, "burst_size": 8, "pause_minutes": 1200}, 10)
    fraud = _fraud(ds)
    reported_mid_attack = 0
    for ep in ds.episodes.iter_rows(named=True):
        rows = fraud.filter(pl.col("episode_id") == ep["episode_id"])
        last = rows["timestamp"].max()
        if ep["reported_at"] is None or ep["reported_at"] >= last:
            continue
        reported_mid_attack += 1
        before = rows.filter(pl.col("timestamp") < ep["reported_at"])
        after = rows.filter(pl.col("timestamp") > ep["reported_at"])
        assert before["card_id"].n_unique() > 5  # the report blocked many cards at once ...
        assert after["card_id"].n_unique() > 0  # ... and the walk went on with new numbers
        assert not ep["status"].startswith("stopped")
    assert reported_mid_attack >= 1


def test_bin_attack_found_numbers_are_cashed_out_by_carders(run_typology):
    # Many hits: the numbers found are sold and used days later, at larger amounts, from the
    # carders' device, a few purchases a card a day (Fraud Detection Handbook: ~3).
    ds = run_typology(
        "bin_attack.v1", params={"cards": 30, "hit_rate": 0.6, "cash_out_share": 1.0}, episodes=2
    )
    fraud = _fraud(ds)
    cashed = 0
    for episode_id in ds.episodes["episode_id"].to_list():
        rows = fraud.filter(pl.col("episode_id") == episode_id).sort("timestamp")
        walk = _walk(rows)
        later = rows.join(walk.select("transaction_id"), on="transaction_id", how="anti")
        if later.height == 0:
            continue
        cashed += 1
        found = walk.filter(~pl.col("is_declined"))["card_id"].unique()
        assert later["card_id"].is_in(found.implode()).all()  # only numbers the bot found
        assert later["device_id"].n_unique() == 1 and later["device_id"][0] != walk["device_id"][0]
        assert later["timestamp"].min() > walk.filter(~pl.col("is_declined"))["timestamp"].min()
        assert later["amount"].median() > walk["amount"].max()
    assert cashed >= 1
