"""account_takeover.v1: new-device login, then new payee, then the balance drained to mules."""

import polars as pl


def test_ato_sequence(run_typology):
    ds = run_typology("account_takeover.v1", params={"sim_swap_share": 1.0}, episodes=3)
    events = ds.events.filter(pl.col("fraud_type") == "account_takeover.v1")
    tx = ds.transactions.filter(pl.col("fraud_type") == "account_takeover.v1")
    assert ds.episodes.height == 3
    for episode_id in ds.episodes["episode_id"].to_list():
        ev = events.filter(pl.col("episode_id") == episode_id).sort("timestamp")
        rows = tx.filter(pl.col("episode_id") == episode_id).sort("timestamp")
        kinds = ev["event_type"].cast(pl.String).to_list()
        assert kinds[0] == "login" and "new_payee" in kinds and "phone_change" in kinds
        login = ev["timestamp"][0]
        first_payee = ev.filter(pl.col("event_type") == "new_payee")["timestamp"].min()
        drains = rows.filter(pl.col("account_role") == "victim")
        if drains.height:
            assert login <= first_payee <= drains["timestamp"].min()
            # the login came from a device the victim never used before
            assert (
                ev["device_id"][0]
                not in ds.transactions.filter(~pl.col("is_fraud"))["device_id"]
                .drop_nulls()
                .to_list()
            )
            # drained within hours, to mule accounts that forward it on
            span = (drains["timestamp"].max() - login).total_seconds() / 3600
            assert span < 48
            mules = set(drains["counterparty_account_id"].to_list())
            forwards = rows.filter(pl.col("account_role") == "mule")
            assert set(forwards["account_id"].to_list()) <= mules
