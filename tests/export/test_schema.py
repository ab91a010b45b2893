"""The exported tables against the one schema, plus the baseline's content invariants."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from fraudsim.api import simulate
from fraudsim.config.scenario import ScenarioConfig, validate_scenario
from fraudsim.dataset import TABLES, Dataset
from fraudsim.export import schema

REQUIRED = [
    "transaction_id",
    "timestamp",
    "customer_id",
    "account_id",
    "card_id",
    "merchant_id",
    "counterparty_account_id",
    "amount",
    "currency",
    "channel",
    "mcc",
    "tx_type",
    "is_fraud",
    "fraud_type",
    "episode_id",
    "is_declined",
    "reported_at",
]


def _minor(values: pl.Series | pl.Expr) -> pl.Expr | pl.Series:
    return (values * 100).round(0).cast(pl.Int64)


def test_check_schema_passes(dataset: Dataset) -> None:
    dataset.check_schema()
    assert set(dataset.tables) == set(TABLES)


def test_check_schema_catches_a_wrong_dtype(dataset: Dataset) -> None:
    broken = Dataset(
        dataset.config,
        dataset.profile,
        {
            **dataset.tables,
            "accounts": dataset.accounts.with_columns(pl.col("limit").cast(pl.Int64)),
        },
    )
    with pytest.raises(AssertionError, match="limit"):
        broken.check_schema()


def test_transaction_columns_exactly_schema(dataset: Dataset, tiny_config: ScenarioConfig) -> None:
    expected = [c.name for c in schema.transaction_columns(tiny_config.timezone)]
    assert dataset.transactions.columns == expected
    assert len(expected) == len(set(expected))


def test_required_issue_columns_present_in_order(dataset: Dataset) -> None:
    columns = dataset.transactions.columns
    assert set(REQUIRED) <= set(columns)
    positions = [columns.index(name) for name in REQUIRED]
    assert positions == sorted(positions)


@pytest.mark.parametrize("table", [t for t in TABLES if t != "transactions"])
def test_entity_tables_exactly_schema(
    dataset: Dataset, table: str, tiny_config: ScenarioConfig
) -> None:
    expected = [(c.name, c.dtype) for c in schema.tables(tiny_config.timezone)[table]]
    assert list(dataset.tables[table].schema.items()) == expected


def test_timestamps_timezone_aware(dataset: Dataset, tiny_config: ScenarioConfig) -> None:
    for column in ("timestamp", "reported_at"):
        dtype = dataset.transactions.schema[column]
        assert isinstance(dtype, pl.Datetime)
        assert dtype.time_zone == tiny_config.timezone


def test_timestamps_in_scenario_zone() -> None:
    """A non-UTC scenario exports timestamps in its own zone (Tokyo has no DST)."""
    cfg = ScenarioConfig(
        name="tokyo",
        seed=3,
        days=2,
        timezone="Asia/Tokyo",
        start_date=dt.date(2025, 5, 5),
        population={"customers": 200},  # type: ignore[arg-type]
    )
    ds = simulate(cfg)
    ds.check_schema()
    ts = ds.transactions["timestamp"]
    assert ts.dtype == pl.Datetime("us", "Asia/Tokyo")
    # Local dates are the scenario's days.
    assert set(ts.dt.date().unique().to_list()) <= {dt.date(2025, 5, 5), dt.date(2025, 5, 6)}
    # Salaries are paid in the 02:00-05:00 local window.
    hours = ds.transactions.filter(pl.col("tx_type") == "salary")["timestamp"].dt.hour()
    assert hours.len() == 0 or hours.is_between(2, 4).all()


def test_dst_zone_rows_stay_on_their_local_day() -> None:
    cfg = ScenarioConfig(
        name="berlin",
        seed=3,
        days=6,
        timezone="Europe/Berlin",
        start_date=dt.date(2025, 3, 27),
        population={"customers": 300},  # type: ignore[arg-type]
    )
    tx = simulate(cfg).transactions
    window = {cfg.start_date + dt.timedelta(days=i) for i in range(cfg.days)}
    assert set(tx["timestamp"].dt.date().unique().to_list()) <= window
    hours = tx.filter(pl.col("tx_type").is_in(["salary", "pension"]))["timestamp"].dt.hour()
    assert hours.is_between(2, 4).all()


def _berlin(start: str, days: int) -> Dataset:
    cfg = validate_scenario(
        {
            "name": "berlin",
            "seed": 3,
            "days": days,
            "timezone": "Europe/Berlin",
            "start_date": start,
            "population": {"customers": 300},
        },
        "test",
    )
    return simulate(cfg)


def _rows_per_local_date(ds: Dataset) -> dict[dt.date, int]:
    counts = ds.transactions.group_by(pl.col("timestamp").dt.date().alias("date")).len()
    return dict(zip(counts["date"].to_list(), counts["len"].to_list(), strict=True))


def test_dst_autumn_day_rows_stay_on_their_local_day() -> None:
    """Across the 25-hour day (2025-10-26 in Berlin) every day's rows keep their local date."""
    ds = _berlin("2025-10-25", 3)
    stats = dict(
        zip(ds.daily_stats["date"].to_list(), ds.daily_stats["transactions"].to_list(), strict=True)
    )
    assert _rows_per_local_date(ds) == stats
    assert ds.transactions["timestamp"].is_sorted()


def test_dst_spring_day_rows_stay_on_their_local_day() -> None:
    ds = _berlin("2025-03-29", 3)
    stats = dict(
        zip(ds.daily_stats["date"].to_list(), ds.daily_stats["transactions"].to_list(), strict=True)
    )
    assert _rows_per_local_date(ds) == stats
    assert ds.transactions["timestamp"].is_sorted()


def test_no_fraud_in_the_baseline(dataset: Dataset) -> None:
    tx = dataset.transactions
    assert not tx["is_fraud"].any()
    for column in ("fraud_type", "episode_id", "reported_at", "pattern"):
        assert tx[column].null_count() == tx.height, column
    assert (tx["account_role"] == "none").all()
    assert int(dataset.daily_stats["fraud_transactions"].sum()) == 0
    assert dataset.episodes.height == 0
    assert not dataset.events["is_fraud"].any()
    assert dataset.events["episode_id"].null_count() == dataset.events.height


def test_transaction_ids_unique(dataset: Dataset) -> None:
    assert dataset.transactions["transaction_id"].n_unique() == dataset.transactions.height


def test_timestamps_sorted_and_inside_window(dataset: Dataset, tiny_config: ScenarioConfig) -> None:
    ts = dataset.transactions["timestamp"]
    assert ts.is_sorted()
    start = dt.datetime.combine(tiny_config.start_date, dt.time(), dt.UTC)
    end = start + dt.timedelta(days=tiny_config.days)
    assert ts.min() >= start
    assert ts.max() < end


def test_every_day_has_rows(dataset: Dataset, tiny_config: ScenarioConfig) -> None:
    dates = dataset.transactions["timestamp"].dt.date().unique().sort().to_list()
    assert dates == [tiny_config.start_date + dt.timedelta(days=i) for i in range(tiny_config.days)]
    assert dataset.daily_stats["date"].to_list() == dates


def test_amounts_positive_and_in_cents(dataset: Dataset) -> None:
    amount = dataset.transactions["amount"]
    assert (amount > 0).all()
    assert ((amount * 100 - (amount * 100).round(0)).abs() < 1e-6).all()


def test_currency_is_profiles(dataset: Dataset) -> None:
    assert dataset.transactions["currency"].unique().to_list() == [dataset.profile.meta.currency]


def test_nullable_ids_follow_channel(dataset: Dataset) -> None:
    tx = dataset.transactions
    purchases = tx.filter(pl.col("tx_type") == "purchase")
    assert purchases["card_id"].null_count() == 0
    assert purchases["merchant_id"].null_count() == 0
    assert purchases["mcc"].null_count() == 0
    pos = purchases.filter(pl.col("channel") == "pos")
    cnp = purchases.filter(pl.col("channel") == "cnp")
    assert pos["terminal_id"].null_count() == 0 and pos["device_id"].null_count() == pos.height
    assert cnp["device_id"].null_count() == 0 and cnp["terminal_id"].null_count() == cnp.height
    internal = (
        pl.col("tx_type").is_in(list(schema.INTERNAL_TRANSFER_TYPES))
        & (pl.col("direction") == "debit")
        & pl.col("counterparty_account_id").is_not_null()
    )
    # only person-to-person payments may leave the bank (no counterparty account)
    leaving = tx.filter(
        pl.col("tx_type").is_in(list(schema.INTERNAL_TRANSFER_TYPES))
        & (pl.col("direction") == "debit")
        & pl.col("counterparty_account_id").is_null()
    )
    assert set(leaving["tx_type"].cast(pl.String)) <= {"p2p_transfer"}
    transfers = tx.filter(internal)
    assert transfers.height > 0
    assert transfers["counterparty_account_id"].null_count() == 0
    assert transfers["card_id"].null_count() == transfers.height
    # Transfers received from other banks are credits without a counterparty account here.
    others = tx.filter(~internal)
    assert others["counterparty_account_id"].null_count() == others.height
    incoming = tx.filter((pl.col("tx_type") == "p2p_transfer") & (pl.col("direction") == "credit"))
    assert incoming.height > 0


def test_income_rows_are_credits(dataset: Dataset) -> None:
    tx = dataset.transactions
    income = tx.filter(pl.col("tx_type").is_in(["salary", "pension"]))
    assert income.height > 0
    assert (income["direction"] == "credit").all()
    credits = ["salary", "pension", "refund", "cash_deposit"]
    assert (tx.filter(pl.col("tx_type") == "refund")["direction"] == "credit").all()
    # p2p transfers are debits, or credits when they come from another bank
    rest = tx.filter(~pl.col("tx_type").is_in([*credits, "p2p_transfer"]))
    assert (rest["direction"] == "debit").all()


def test_foreign_keys_resolve(dataset: Dataset) -> None:
    tx = dataset.transactions
    accounts = set(dataset.accounts["account_id"].to_list())
    assert set(tx["account_id"].unique().to_list()) <= accounts
    assert set(tx["counterparty_account_id"].drop_nulls().unique().to_list()) <= accounts
    assert set(tx["customer_id"].unique().to_list()) <= set(
        dataset.customers["customer_id"].to_list()
    )
    assert set(tx["card_id"].drop_nulls().unique().to_list()) <= set(
        dataset.cards["card_id"].to_list()
    )
    assert set(tx["merchant_id"].drop_nulls().unique().to_list()) <= set(
        dataset.merchants["merchant_id"].to_list()
    )
    # The account debited or credited belongs to the row's customer.
    owner = tx.join(
        dataset.accounts.select("account_id", pl.col("customer_id").alias("owner")), on="account_id"
    )
    assert (owner["owner"] == owner["customer_id"]).all()
    # Rows with a merchant carry that merchant's MCC.
    with_mcc = tx.drop_nulls("merchant_id").join(
        dataset.merchants.select("merchant_id", pl.col("mcc").alias("merchant_mcc")),
        on="merchant_id",
    )
    assert (with_mcc["mcc"] == with_mcc["merchant_mcc"]).all()


def test_entity_ids_unique(dataset: Dataset) -> None:
    for table, key in (
        ("customers", "customer_id"),
        ("accounts", "account_id"),
        ("cards", "card_id"),
        ("merchants", "merchant_id"),
    ):
        frame = dataset.tables[table]
        assert frame[key].n_unique() == frame.height, table


def test_declines_have_reasons(dataset: Dataset) -> None:
    tx = dataset.transactions
    declined = tx.filter(pl.col("is_declined"))
    assert declined.height > 0, "a 14-day world should see some declines"
    assert (declined["decline_reason"] != "none").all()
    assert (tx.filter(~pl.col("is_declined"))["decline_reason"] == "none").all()
    # Nothing is blocked or frozen without fraud; honest rows fail for funds or bank controls.
    reasons = set(declined["decline_reason"].cast(pl.String).unique().to_list())
    assert "insufficient_funds" in reasons
    assert reasons <= {"insufficient_funds", "step_up_failed", "rule"}
    assert (declined["direction"] == "debit").all()
    assert int(dataset.daily_stats["blocked_cards"].max()) == 0


def test_step_up_only_on_card_payments(dataset: Dataset) -> None:
    # Strong customer authentication: online challenges (above or, once the low-value
    # exemption runs out, below the threshold) and PINs in store and at cash machines.
    step_up = dataset.transactions.filter(pl.col("decline_reason") == "step_up_failed")
    assert step_up["channel"].is_in(["cnp", "pos", "atm"]).all()
    assert (step_up["direction"] == "debit").all() and step_up["card_id"].null_count() == 0
    rule = dataset.transactions.filter(pl.col("decline_reason") == "rule")
    assert rule["card_id"].null_count() == 0


def test_closing_balance_is_opening_plus_accepted_movements(dataset: Dataset) -> None:
    tx = dataset.transactions.filter(~pl.col("is_declined"))
    signed = pl.when(pl.col("direction") == "credit").then(1).otherwise(-1) * _minor(
        pl.col("amount")
    )
    own = tx.group_by("account_id").agg(signed.sum().alias("own"))
    incoming = (
        tx.drop_nulls("counterparty_account_id")
        .group_by(pl.col("counterparty_account_id").alias("account_id"))
        .agg(_minor(pl.col("amount")).sum().alias("incoming"))
    )
    acc = (
        dataset.accounts.join(own, on="account_id", how="left")
        .join(incoming, on="account_id", how="left")
        .with_columns(pl.col("own").fill_null(0), pl.col("incoming").fill_null(0))
    )
    expected = _minor(acc["opening_balance"]) + acc["own"] + acc["incoming"]
    mismatch = acc.filter(expected != _minor(acc["closing_balance"]))
    assert mismatch.height == 0, mismatch.head()
    # Something actually moved: most accounts saw accepted rows.
    assert (acc["own"] != 0).sum() > acc.height / 2


def test_closing_balance_never_below_limit(dataset: Dataset) -> None:
    acc = dataset.accounts
    assert (acc["limit"] <= 0).all()
    assert (acc["closing_balance"] >= acc["limit"]).all()
    assert (acc.filter(pl.col("kind") == "savings")["limit"] == 0).all()
    # A credit card ends above zero only when refunds overpaid it.
    refunded = set(dataset.transactions.filter(pl.col("tx_type") == "refund")["account_id"])
    positive = acc.filter((pl.col("kind") == "credit") & (pl.col("closing_balance") > 0))
    assert set(positive["account_id"]) <= refunded


def test_running_balances_never_below_limit(dataset: Dataset) -> None:
    """Replayed in time order, no accepted debit takes an account below its limit."""
    tx = dataset.transactions.filter(~pl.col("is_declined"))
    sign = pl.when(pl.col("direction") == "credit").then(1).otherwise(-1)
    postings = pl.concat(
        [
            tx.select(
                "account_id",
                "timestamp",
                (sign * _minor(pl.col("amount"))).alias("delta"),
                (pl.col("direction") == "debit").alias("is_debit"),
            ),
            tx.drop_nulls("counterparty_account_id").select(
                pl.col("counterparty_account_id").alias("account_id"),
                "timestamp",
                _minor(pl.col("amount")).alias("delta"),
                pl.lit(False).alias("is_debit"),
            ),
        ]
    )
    running = (
        postings.sort("account_id", "timestamp", "is_debit")
        .with_columns(pl.col("delta").cum_sum().over("account_id").alias("cum"))
        .join(
            dataset.accounts.select(
                "account_id",
                _minor(pl.col("opening_balance")).alias("open"),
                _minor(pl.col("limit")).alias("floor"),
            ),
            on="account_id",
        )
    )
    low = running.filter(pl.col("is_debit") & (pl.col("open") + pl.col("cum") < pl.col("floor")))
    assert low.height == 0, low.head()


def test_cards_draw_on_own_accounts(dataset: Dataset) -> None:
    joined = dataset.cards.join(
        dataset.accounts.select(
            "account_id", pl.col("customer_id").alias("owner"), pl.col("kind").alias("acc_kind")
        ),
        on="account_id",
    )
    assert joined.height == dataset.cards.height
    assert (joined["owner"] == joined["customer_id"]).all()
    credit = joined.filter(pl.col("kind") == "credit")
    assert (credit["acc_kind"] == "credit").all()
    assert (joined.filter(pl.col("kind") == "debit")["acc_kind"] == "checking").all()


def test_merchants_online_have_no_location(dataset: Dataset) -> None:
    m = dataset.merchants
    online = m.filter(pl.col("online"))
    assert online["region"].null_count() == online.height
    assert online["lat"].null_count() == online.height
    physical = m.filter(~pl.col("online"))
    assert physical["lat"].null_count() == 0
    assert (physical["terminals"] >= 1).all()


def test_to_pandas_roundtrip(dataset: Dataset) -> None:
    frame = dataset.to_pandas("accounts")
    assert list(frame.columns) == dataset.accounts.columns
    assert len(frame) == dataset.accounts.height
    assert np.isclose(frame["closing_balance"].sum(), dataset.accounts["closing_balance"].sum())
