"""stolen_card.v1: a stolen card spent in the victim's region for a few hours: PIN-less taps
under the contactless limits, cash and chip-and-PIN purchases only when the PIN was seen."""

import polars as pl


def test_stolen_card_spree_shape(run_typology):
    ds = run_typology("stolen_card.v1", params={"pin_known_share": 0.0}, episodes=8)
    tx = ds.transactions
    fraud = tx.filter(pl.col("fraud_type") == "stolen_card.v1")
    stores = ds.merchants.filter(~pl.col("online") & (pl.col("category") != "atm"))
    home = ds.customers.select("customer_id", "region")
    centres = ds.customers.group_by("region").agg(pl.col("home_lat", "home_lon").mean())

    def nearest_regions(region: int, k: int = 4) -> list[int]:
        here = centres.filter(pl.col("region") == region)
        lat, lon = here["home_lat"][0], here["home_lon"][0]
        dist = (pl.col("home_lat") - lat) ** 2 + (pl.col("home_lon") - lon) ** 2
        return centres.sort(dist)["region"].head(k).to_list()

    assert ds.episodes.height == 8
    sprees, several, taps = 0, 0, []
    for episode_id in ds.episodes["episode_id"].to_list():
        rows = fraud.filter(pl.col("episode_id") == episode_id).sort("timestamp")
        if rows.height == 0:
            continue  # stolen on the last night, or blocked before the first shop opened
        # one physical card of one victim, in store only (no PIN: no cash), several stores
        assert rows["card_id"].n_unique() == 1 and rows["customer_id"].n_unique() == 1
        assert (rows["channel"] == "pos").all() and rows["terminal_id"].null_count() == 0
        if rows.height >= 3:
            sprees += 1
            several += rows["merchant_id"].n_unique() >= 2
        # within hours
        span = (rows["timestamp"].max() - rows["timestamp"].min()).total_seconds() / 3600
        assert span <= 8
        # PIN-less taps under the contactless limit (RTS Art. 11: EUR 50), spread below it
        assert (rows["amount"] <= 50).all()
        taps.extend(rows["amount"].to_list())
        # a terminal that asks for the PIN ends the spree: the thief walks off
        asked = rows.with_row_index().filter(pl.col("decline_reason") == "step_up_failed")
        if asked.height:
            assert int(asked["index"][0]) == rows.height - 1
        # blocked once reported: nothing goes through after the report
        reported = rows["reported_at"][0]
        if reported is not None:
            assert (reported - rows["timestamp"][0]).total_seconds() < 36 * 3600
            after = rows.filter(pl.col("timestamp") > reported)
            assert (~after["is_declined"]).sum() == 0
        # stores near the victim: the home region first, neighbours when a tiny world's region
        # runs out of shops (the three nearest; one more allowed for centres estimated from homes)
        region = home.filter(pl.col("customer_id") == rows["customer_id"][0])["region"][0]
        visited = stores.filter(pl.col("merchant_id").is_in(rows["merchant_id"].to_list()))
        assert set(visited["region"].to_list()) <= set(nearest_regions(region))
        if stores.filter(pl.col("region") == region).height:
            first = rows["merchant_id"][0]
            assert stores.filter(pl.col("merchant_id") == first)["region"][0] == region
    # several stores (a tiny world's region may run out of shops: some repeats)
    assert sprees >= 6 and several >= 0.75 * sprees
    # taps sized by what sells, spread under the limit rather than piled at it
    assert len(set(taps)) >= 0.8 * len(taps) and sum(t >= 45 for t in taps) < 0.5 * len(taps)
    # labels
    assert fraud["is_fraud"].all()
    assert set(fraud["account_role"].unique().to_list()) == {"victim"}
    assert ds.episodes["rows"].sum() == fraud.height
    # the victim's own earlier rows stay legit
    victims = fraud["card_id"].unique()
    own = tx.filter(pl.col("card_id").is_in(victims.to_list()) & pl.col("fraud_type").is_null())
    assert own.height > 0 and not own["is_fraud"].any()


def test_stolen_card_with_the_pin_takes_cash_and_buys_dear(run_typology):
    # The thief saw the PIN (shoulder surfing): cash at a machine near home, chip-and-PIN
    # purchases above the contactless limit, taps too.
    ds = run_typology("stolen_card.v1", params={"pin_known_share": 1.0}, episodes=6)
    fraud = ds.transactions.filter(pl.col("fraud_type") == "stolen_card.v1")
    atm = fraud.filter(pl.col("channel") == "atm")
    assert atm.height >= 3 and (atm["amount"] % 10 == 0).all()
    dear = fraud.filter((pl.col("channel") == "pos") & (pl.col("amount") > 50))
    assert dear.filter(~pl.col("is_declined")).height >= 3
    first = fraud.sort("timestamp").group_by("episode_id").agg(pl.col("channel").first())
    assert (first["channel"] == "atm").mean() >= 0.5  # cash first, before the card is missed


def test_stolen_card_block_ends_spree(run_typology):
    # A victim who notices almost at once: the report blocks the card and the spree stops early.
    ds = run_typology(
        "stolen_card.v1",
        params={"notice_hours": 0.2, "purchases": 20, "max_hours": 24},
        episodes=4,
    )
    eps = ds.episodes.filter(pl.col("reported_at").is_not_null())
    assert eps.height >= 1
    assert eps["status"].str.starts_with("stopped").all()
    assert (eps["rows"] < 22).all()
