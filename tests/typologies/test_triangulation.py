"""triangulation.v1: storefront orders by real buyers, each filled within hours by a stolen card."""

import polars as pl

from fraudsim import simulate
from fraudsim.calibration import load_profile
from fraudsim.config.scenario import validate_scenario

NAME = "triangulation.v1"


def _run(params, episodes=3, seed=7, profile=None, **extra):
    entry = {"name": NAME, "params": params, "schedule": {"episodes": episodes, "end_day": 5}}
    config = validate_scenario(
        {
            "name": "triangulation_test",
            "seed": seed,
            "days": 10,
            "population": {"customers": 1500},
            "typologies": [entry],
            **extra,
        },
        "test",
    )
    ds = simulate(config, profile)
    ds.check_schema()
    return ds


def _split(ds, episode_id):
    """(orders at the storefront, fills at real merchants) of one episode.

    Fills use the episode's stolen cards (episodes.card_ids); orders use the buyers' own cards.
    """
    tx = ds.transactions
    stolen = ds.episodes.filter(pl.col("episode_id") == episode_id)["card_ids"][0].to_list()
    rows = tx.filter(pl.col("episode_id") == episode_id).sort("timestamp")
    orders = rows.filter(~pl.col("card_id").is_in(stolen))
    fills = rows.filter(pl.col("card_id").is_in(stolen))
    assert orders["merchant_id"].n_unique() == 1  # one storefront ...
    honest = tx.filter(pl.col("episode_id").is_null())
    shop = orders["merchant_id"][0]
    assert honest.filter(pl.col("merchant_id") == shop).height == 0  # ... nobody honest uses
    assert shop not in fills["merchant_id"].to_list()
    return orders, fills


def test_each_order_is_filled_by_a_stolen_card_within_hours():
    # No step-up in this world, so each order is filled by one purchase.
    ds = _run({"orders": 6}, bank={"sca_threshold": 10_000.0})
    tx = ds.transactions.filter(pl.col("fraud_type") == NAME)
    assert tx["is_fraud"].all() and set(tx["account_role"].to_list()) == {"victim"}
    owners = ds.cards.select("card_id", pl.col("customer_id").alias("owner"))
    assert ds.episodes.height == 3
    for episode_id in ds.episodes["episode_id"].to_list():
        orders, fills = _split(ds, episode_id)
        assert orders.height == 6 and orders["customer_id"].n_unique() == 6
        # Buyers pay with their own cards; fills use other people's cards, on one device.
        assert (
            orders.join(owners, on="card_id")
            .select(pl.col("owner") == pl.col("customer_id"))["owner"]
            .all()
        )
        assert not set(fills["customer_id"].to_list()) & set(orders["customer_id"].to_list())
        assert fills["device_id"].n_unique() == 1 and fills["merchant_id"].n_unique() <= 2
        assert set(fills["channel"].to_list()) == {"cnp"}
        used = [False] * fills.height
        authorised = ~pl.col("is_declined") | (pl.col("decline_reason") == "insufficient_funds")
        for order in orders.filter(authorised).iter_rows(named=True):
            match = None
            for j, fill in enumerate(fills.iter_rows(named=True)):
                hours = (fill["timestamp"] - order["timestamp"]).total_seconds() / 3600
                ratio = fill["amount"] / order["amount"]
                # the real price, a shelf price (its own .99/.50 ending), is about the order's
                if not used[j] and 0 < hours <= 12 and 0.9 <= ratio <= 1.3:
                    match = j
                    break
            assert match is not None, f"order {order['amount']} was not filled within hours"
            used[match] = True
    rows = tx.group_by("episode_id").len()
    check = ds.episodes.join(rows, on="episode_id")
    assert (check["rows"] == check["len"]).all()


def test_challenged_fills_move_to_another_merchant_then_split():
    # The default bank challenges what its exemptions do not cover: a challenged fill goes to
    # another real merchant of the kind first, and only then into uneven smaller orders.
    ds = _run({"orders": 8, "order_median": 60.0, "stolen_cards": 8}, episodes=4)
    threshold = ds.config.bank.sca_threshold
    assert ds.episodes["adaptations"].sum() >= 1
    moved, pieces = 0, []
    for episode_id in ds.episodes["episode_id"].to_list():
        _, fills = _split(ds, episode_id)
        fills = fills.sort("timestamp").with_row_index()
        for failed in fills.filter(
            (pl.col("decline_reason") == "step_up_failed") & (pl.col("amount") > threshold)
        ).iter_rows(named=True):
            retry = fills.filter(
                (pl.col("index") > failed["index"]) & (pl.col("amount") == failed["amount"])
            )
            if retry.height:  # the same basket tried again: elsewhere
                moved += 1
                assert retry["merchant_id"][0] != failed["merchant_id"]
        pieces += fills.filter(pl.col("amount") <= threshold)["amount"].to_list()
    assert moved >= 1
    if len(pieces) >= 5:  # uneven parts of baskets, not equal slices just under the limit
        near = sum(0.7 * threshold <= x <= 0.98 * threshold for x in pieces)
        assert near < 0.8 * len(pieces)


def test_report_blocks_stolen_cards_not_buyers_and_the_scheme_goes_on():
    profile = load_profile("default")
    fraud = profile.fraud.model_copy(
        update={
            "card_report_median_days": 2.0,
            "report_delay_sigma": 0.1,
            "never_reported_share": 0.0,
        }
    )
    profile = profile.model_copy(update={"fraud": fraud})
    ds = _run({"orders": 10, "stolen_cards": 6}, episodes=2, profile=profile)
    assert ds.episodes["interruptions"].sum() >= 1
    for ep in ds.episodes.iter_rows(named=True):
        orders, fills = _split(ds, ep["episode_id"])
        buyer_cards = orders["card_id"].to_list()
        assert not set(buyer_cards) & set(ep["card_ids"])  # buyers' cards are not compromised
        blocked = ds.transactions.filter(
            pl.col("card_id").is_in(buyer_cards) & (pl.col("decline_reason") == "card_blocked")
        )
        assert blocked.height == 0
        before = set(fills.filter(pl.col("timestamp") < ep["reported_at"])["card_id"].to_list())
        after = fills.filter(pl.col("timestamp") > ep["reported_at"])
        if after.height and before:
            # after the report, orders are filled with cards the report did not catch
            fresh = after.filter(~pl.col("card_id").is_in(list(before)))
            assert fresh.filter(~pl.col("is_declined")).height >= 1
