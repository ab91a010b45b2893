"""compromised_terminal.v1: cards used at one shop during a window are defrauded days later
elsewhere (online at a ring's shops, or cash at ATMs, mostly far away); their honest rows at the
shop stay legit."""

import polars as pl

from fraudsim import Dataset, simulate
from fraudsim.config.scenario import validate_scenario

NAME = "compromised_terminal.v1"
WINDOW_DAYS = 3


def _run(params: dict, episodes: int = 3, seed: int = 7, **extra: dict) -> Dataset:
    """Compromises starting in the first 3 days of a 14-day world (time to cash out)."""
    config = validate_scenario(
        {
            "name": "compromised_terminal_test",
            "seed": seed,
            "days": 14,
            "population": {"customers": 1500},
            **extra,
            "typologies": [
                {
                    "name": NAME,
                    "params": {"window_days": WINDOW_DAYS, **params},
                    "schedule": {"episodes": episodes, "end_day": 3},
                }
            ],
        },
        "test",
    )
    dataset = simulate(config)
    dataset.check_schema()
    return dataset


def _window_start(visits: pl.DataFrame):
    """Start of a WINDOW_DAYS interval holding a visit of every card, or None."""
    cards = visits["card_id"].n_unique()
    for start in visits["timestamp"].sort().to_list():
        inside = visits.filter(
            (pl.col("timestamp") >= start)
            & ((pl.col("timestamp") - start).dt.total_seconds() <= WINDOW_DAYS * 86_400)
        )
        if inside["card_id"].n_unique() == cards:
            return start
    return None


def test_compromised_terminal_defrauds_cards_seen_at_one_shop():
    ds = _run({"delay_days": 2.0, "cnp_share": 0.7})
    tx = ds.transactions
    fraud = tx.filter(pl.col("fraud_type") == NAME)
    honest = tx.filter(~pl.col("is_fraud") & pl.col("card_id").is_not_null())
    shops = ds.merchants.filter(~pl.col("online"))
    home = ds.customers.select("customer_id", pl.col("region").alias("home_region"))
    assert ds.episodes.height == 3
    cashed_out, atm_rows = 0, []
    for ep in ds.episodes.iter_rows(named=True):
        rows = fraud.filter(pl.col("episode_id") == ep["episode_id"])
        if rows.height == 0:
            continue  # a late cash-out may fall after the end of the world
        cashed_out += 1
        first_fraud = rows.group_by("card_id").agg(pl.col("timestamp").min().alias("first"))
        # physical shops where each defrauded card paid honestly before its first fraud
        visits = (
            honest.join(first_fraud, on="card_id")
            .filter(pl.col("timestamp") < pl.col("first"))
            .filter(pl.col("merchant_id").is_in(shops["merchant_id"].to_list()))
        )
        common = None
        for _, v in visits.group_by("card_id"):
            merchants = set(v["merchant_id"].to_list())
            common = merchants if common is None else common & merchants
        assert common, "every defrauded card was used at one common shop before the fraud"
        assert visits["card_id"].n_unique() == first_fraud.height
        # the shop's genuine rows stay legit, and the fraud happens elsewhere
        at_shop = tx.filter(pl.col("merchant_id").is_in(list(common)))
        assert not at_shop["is_fraud"].any()
        # for one common shop, a visit of every card falls inside one collection window, and
        # the cash-out comes later
        windows = [_window_start(visits.filter(pl.col("merchant_id") == m)) for m in common]
        assert any(w is not None for w in windows)
        assert (rows["timestamp"].min() - ep["start"]).total_seconds() > WINDOW_DAYS * 86_400
        # mostly online; card-present only as cash at ATMs
        assert set(rows["channel"].unique().to_list()) <= {"cnp", "atm"}
        atm = rows.filter(pl.col("channel") == "atm").join(home, on="customer_id")
        atm_rows.append(
            atm.join(
                ds.merchants.select("merchant_id", pl.col("region").alias("atm_region")),
                on="merchant_id",
            )
        )
    assert cashed_out >= 2 and fraud["card_id"].n_unique() >= 5
    # cloned cards are cashed mostly away from the holder's home region, some at home (EBA/ECB
    # 2024: 71% of card fraud value is cross-border)
    atm = pl.concat(atm_rows)
    assert atm.height >= 5
    away = atm.group_by("card_id").agg((pl.col("atm_region") != pl.col("home_region")).all())
    assert away["atm_region"].mean() >= 0.5
    online_cards = fraud.group_by("card_id").agg((pl.col("channel") == "cnp").all())["channel"]
    assert online_cards.mean() >= 0.5  # cnp_share = 0.7 of the cards
    assert fraud["is_fraud"].all()
    assert set(fraud["account_role"].unique().to_list()) == {"victim"}
    assert ds.episodes["rows"].sum() == fraud.height


def test_compromised_terminal_cards_are_used_a_few_times_a_day_at_ring_shops():
    # Online only: each defrauded card is used in sprees of a few purchases a day (Fraud
    # Detection Handbook, real data: ~3 per compromised card a day) at a small set of shops.
    # An issuer outside PSD2 that challenges only above 200: the rings' cash-outs go up to
    # what they believe a shop takes unchallenged, and a shop that challenges is asked for
    # less afterwards.
    ds = _run({"cnp_share": 1.0, "max_cards": 15}, episodes=2, bank={"sca_threshold": 200.0})
    fraud = ds.transactions.filter(pl.col("fraud_type") == NAME)
    assert fraud.height >= 10 and (fraud["channel"] == "cnp").all()
    per_day = fraud.group_by("card_id", pl.col("timestamp").dt.date()).len()["len"]
    assert 1.8 <= per_day.mean() <= 5.0
    assert fraud["merchant_id"].n_unique() <= 3 * 4 + 6  # the rings' lists, and replacements
    accepted = fraud.filter(~pl.col("is_declined"))
    assert (accepted["amount"] > 30.0).mean() >= 0.5  # cash-outs, not small goods
    assert (accepted["amount"] <= 200.0).all()
    # a shop that challenged a ticket is asked only for smaller ones afterwards
    for _, rows in fraud.group_by("episode_id"):
        rows = rows.sort("timestamp").with_row_index()
        failed = rows.filter(pl.col("decline_reason") == "step_up_failed")
        for row in failed.iter_rows(named=True):
            later = rows.filter(
                (pl.col("index") > row["index"]) & (pl.col("merchant_id") == row["merchant_id"])
            )
            assert (later["amount"] <= 200.0).all()
