"""app_scam.v1: new payee on the victim's own device, then payments (trust first), forwarded."""

import polars as pl
import pytest

NO_BLOCK = {"bank": {"block_on_report": False}}


def _victim_payments(tx: pl.DataFrame) -> pl.DataFrame:
    return tx.filter(
        (pl.col("account_role") == "victim")
        & (pl.col("tx_type") == "p2p_transfer")
        & pl.col("counterparty_account_id").is_not_null()
    ).sort("timestamp")


def _check_labels(ds, name: str) -> pl.DataFrame:
    tx = ds.transactions.filter(pl.col("episode_id").is_not_null())
    assert tx["is_fraud"].all()
    assert set(tx["fraud_type"].unique().to_list()) == {name}
    assert set(tx["account_role"].cast(pl.String).unique().to_list()) <= {
        "victim",
        "mule",
        "fraudster",
    }
    rows = tx.group_by("episode_id").len()
    joined = ds.episodes.join(rows, on="episode_id", how="left").with_columns(
        pl.col("len").fill_null(0)
    )
    assert (joined["rows"] == joined["len"]).all()
    return tx


@pytest.mark.parametrize("variant", ["impersonation", "invoice", "purchase"])
def test_new_payee_on_own_device_precedes_payments(run_typology, variant):
    ds = run_typology("app_scam.v1", params={"variant": variant}, episodes=4, **NO_BLOCK)
    tx = _check_labels(ds, "app_scam.v1")
    events = ds.events.filter(pl.col("fraud_type") == "app_scam.v1")
    honest_tx = ds.transactions.filter(~pl.col("is_fraud"))
    honest_ev = ds.events.filter(~pl.col("is_fraud"))
    seen_honest_device = completed = 0
    for episode_id in ds.episodes["episode_id"].to_list():
        rows = tx.filter(pl.col("episode_id") == episode_id)
        pays = _victim_payments(rows)
        assert pays.height >= 1
        victim = pays["customer_id"].unique().to_list()
        assert len(victim) == 1
        device = pays["device_id"].unique().to_list()
        assert len(device) == 1 and device[0] is not None  # one device for every payment
        ev = events.filter(pl.col("episode_id") == episode_id)
        payee = ev.filter(pl.col("event_type") == "new_payee")
        assert payee.height >= 1
        assert payee["customer_id"][0] == victim[0] and payee["device_id"][0] == device[0]
        assert payee["timestamp"].min() <= pays["timestamp"].min()
        # The victim's own device: nobody else ever uses it, and (below) it is one victims
        # also use for their honest banking (customers may have a second device).
        users = set(
            ds.transactions.filter(pl.col("device_id") == device[0])["customer_id"].to_list()
        ) | set(ds.events.filter(pl.col("device_id") == device[0])["customer_id"].to_list())
        assert users == {victim[0]}
        own = set(
            honest_tx.filter(pl.col("customer_id") == victim[0])["device_id"].drop_nulls()
        ) | set(honest_ev.filter(pl.col("customer_id") == victim[0])["device_id"].drop_nulls())
        seen_honest_device += device[0] in own
        # One payee, who forwards nearly all of it out of the bank within hours.
        payees = pays["counterparty_account_id"].unique().to_list()
        assert len(payees) == 1
        out = rows.filter(pl.col("account_id") == payees[0])
        assert out["account_role"].cast(pl.String).is_in(["mule", "fraudster"]).all()
        assert out["counterparty_account_id"].null_count() == out.height
        status = ds.episodes.filter(pl.col("episode_id") == episode_id)["status"][0]
        if status == "completed":  # (not cut short by the end of the run)
            completed += 1
            # the payee keeps a cut (a mule's commission, often 5-20%) and sends the rest on
            sent = out.filter(pl.col("direction") == "debit")
            assert 0.7 * pays["amount"].sum() <= sent["amount"].sum() <= pays["amount"].sum()
            lag = (out["timestamp"].max() - pays["timestamp"].max()).total_seconds() / 3600
            assert 0 < lag < 24
    assert seen_honest_device >= 1 and completed >= 2


def test_romance_trust_payments_then_large_ones(run_typology):
    ds = run_typology(
        "app_scam.v1",
        params={"variant": "romance", "span_hours": 96, "older_share": 1.0},
        episodes=4,
        days=10,
        **NO_BLOCK,
    )
    tx = _check_labels(ds, "app_scam.v1")
    ages = dict(ds.customers.select("customer_id", "age").iter_rows())
    for episode_id in ds.episodes["episode_id"].to_list():
        pays = _victim_payments(tx.filter(pl.col("episode_id") == episode_id))
        if pays.height < 4:
            continue  # started too late in the window to get past the trust payments
        amounts = pays["amount"].to_list()
        trust, large = amounts[:2], amounts[2:]
        assert max(trust) < sorted(large)[len(large) // 2]
        assert max(trust) < 0.5 * max(large)
        hours = (pays["timestamp"].max() - pays["timestamp"].min()).total_seconds() / 3600
        assert hours > 12  # over days, not minutes
        assert ages[pays["customer_id"][0]] >= 61  # older victims for romance
    assert ds.episodes.filter(pl.col("rows") >= 8).height >= 2


def test_investment_fake_returns_and_payable_amounts(run_typology):
    ds = run_typology(
        "app_scam.v1",
        params={"variant": "investment", "span_hours": 72},
        episodes=4,
        days=10,
        **NO_BLOCK,
    )
    tx = _check_labels(ds, "app_scam.v1")
    accounts = ds.accounts.select("account_id", "opening_balance", "limit")
    returns = paid = declined = 0
    for episode_id in ds.episodes["episode_id"].to_list():
        rows = tx.filter(pl.col("episode_id") == episode_id)
        pays = _victim_payments(rows)
        if pays.height == 0:
            continue
        victim_account = pays["account_id"][0]
        # 'profits' paid back to the victim by the payee, between trust and large payments
        back = rows.filter(pl.col("counterparty_account_id") == victim_account).filter(
            pl.col("account_role") != "victim"
        )
        returns += back.height
        if back.height and pays.height >= 4:
            assert pays["timestamp"][1] < back["timestamp"][0] < pays["timestamp"][2]
            assert back["amount"].sum() < pays["amount"][:2].sum()
        # the loss is scaled to what the victim has, so that it stays payable
        paid += pays.height
        declined += int(pays["is_declined"].sum())
        assert victim_account in accounts["account_id"].to_list()
    assert returns >= 1
    assert declined <= 0.1 * paid


def test_report_stops_the_scam(run_typology):
    # a purchase scam paid in instalments over days: the victim's report (median 3 days)
    # usually comes before the last one
    ds = run_typology(
        "app_scam.v1",
        params={"variant": "purchase", "payments": 6, "span_hours": 240},
        episodes=6,
        days=14,
    )
    tx = _check_labels(ds, "app_scam.v1")
    stopped = 0
    for ep in ds.episodes.filter(pl.col("detected_at").is_not_null()).iter_rows(named=True):
        pays = _victim_payments(tx.filter(pl.col("episode_id") == ep["episode_id"]))
        after = pays.filter(pl.col("timestamp") >= ep["detected_at"])
        # once reported, the victim's account is frozen: nothing more goes out
        assert (after["is_declined"]).all()
        stopped += ep["status"].startswith("stopped")
    assert stopped >= 1
