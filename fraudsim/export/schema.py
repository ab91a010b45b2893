"""The one schema: every exported table and column with its dtype and meaning.

The exporter, the dataset card, the README table and the tests all read this module.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from fraudsim.core.codes import (  # noqa: F401  (re-exported: the schema names them)
    ACCOUNT_KINDS,
    CARD_KINDS,
    CARD_PRODUCTS,
    CHANNELS,
    DECLINE_REASONS,
    DIRECTIONS,
    EVENT_TYPES,
    INCOME_BANDS,
    INTERNAL_TRANSFER_TYPES,
    ROLES,
    SEGMENTS,
    TX_TYPES,
)


@dataclass(frozen=True)
class Column:
    name: str
    dtype: pl.DataType | type[pl.DataType]
    meaning: str
    nullable: bool = False


def _ts(tz: str) -> pl.Datetime:
    return pl.Datetime("us", tz)


def transaction_columns(tz: str = "UTC") -> list[Column]:
    """Columns of transactions.parquet, in order."""
    return [
        Column("transaction_id", pl.Int64, "unique id; random-looking, carries no order or label"),
        Column("timestamp", _ts(tz), "when the transaction was attempted (time-zone aware)"),
        Column("customer_id", pl.Int64, "customer owning `account_id`"),
        Column("account_id", pl.Int64, "account debited (direction=debit) or credited (credit)"),
        Column("card_id", pl.Int64, "card used; null for transfers and credits", True),
        Column("merchant_id", pl.Int64, "merchant, ATM or biller; null for transfers", True),
        Column("terminal_id", pl.Int64, "card-present terminal or ATM; null otherwise", True),
        Column("device_id", pl.Int64, "customer device for online payments and banking", True),
        Column(
            "counterparty_account_id",
            pl.Int64,
            "account credited by an internal transfer; null otherwise",
            True,
        ),
        Column("amount", pl.Float64, "amount in major units of `currency`, always positive"),
        Column("currency", pl.String, "ISO 4217 code"),
        Column("channel", pl.Enum(CHANNELS), "pos = card present, cnp = card not present, ..."),
        Column("mcc", pl.Int16, "merchant category code (ISO 18245); null without merchant", True),
        Column("tx_type", pl.Enum(TX_TYPES), "what the movement is"),
        Column("direction", pl.Enum(DIRECTIONS), "debit or credit of `account_id`"),
        Column(
            "is_fraud",
            pl.Boolean,
            "ground truth: caused by fraud or laundering (false for look-alikes and friendly "
            "fraud, which carry fraud_type or pattern)",
        ),
        Column("fraud_type", pl.String, "typology registry name (e.g. card_testing.v1)", True),
        Column("episode_id", pl.Int64, "the episode that caused the row", True),
        Column("account_role", pl.Enum(ROLES), "role of `account_id` in the episode"),
        Column("pattern", pl.String, "legitimate look-alike pattern name (camouflage)", True),
        Column("is_declined", pl.Boolean, "declined rows move no money"),
        Column("decline_reason", pl.Enum(DECLINE_REASONS), "why a row was declined"),
        Column("reported_at", _ts(tz), "when the bank learns the row is fraud; null = never", True),
    ]


CUSTOMER_COLUMNS = [
    Column("customer_id", pl.Int64, "unique id"),
    Column("first_name", pl.String, "fake, from Faker's word tables"),
    Column("last_name", pl.String, "fake, from Faker's word tables"),
    Column("email", pl.String, "fake, reserved example domains only"),
    Column("phone", pl.String, "fictitious number"),
    Column("street_address", pl.String, "fake"),
    Column("city", pl.String, "home region's city (fake)"),
    Column("region", pl.Int16, "home region index"),
    Column("home_lat", pl.Float64, "home latitude (synthetic country)"),
    Column("home_lon", pl.Float64, "home longitude"),
    Column("age", pl.Int16, "age in years at the scenario start"),
    Column("age_band", pl.String, "profile age band"),
    Column("sex", pl.String, "F or M"),
    Column("annual_income", pl.Float64, "net annual income, major units"),
    Column("income_band", pl.Enum(INCOME_BANDS), "income quartile"),
    Column("segment", pl.Enum(SEGMENTS), "employed, student or retired"),
]

ACCOUNT_COLUMNS = [
    Column("account_id", pl.Int64, "unique id"),
    Column("customer_id", pl.Int64, "owner"),
    Column("kind", pl.Enum(ACCOUNT_KINDS), "checking, savings or credit (card account)"),
    Column("iban", pl.String, "fictitious but well-formed IBAN"),
    Column("opening_balance", pl.Float64, "balance at the scenario start, major units"),
    Column(
        "closing_balance",
        pl.Float64,
        "balance at the end: opening plus the account's accepted movements",
    ),
    Column("limit", pl.Float64, "lowest allowed balance (overdraft or credit limit), <= 0"),
]

CARD_COLUMNS = [
    Column("card_id", pl.Int64, "unique id"),
    Column("customer_id", pl.Int64, "cardholder"),
    Column("account_id", pl.Int64, "account the card draws on"),
    Column("kind", pl.Enum(CARD_KINDS), "debit or credit"),
    Column("product", pl.Enum(CARD_PRODUCTS), "card product"),
    Column("card_number", pl.String, "fictitious 16-digit PAN, Luhn-valid"),
    Column("expiry", pl.String, "MM/YY"),
]

MERCHANT_COLUMNS = [
    Column("merchant_id", pl.Int64, "unique id"),
    Column("name", pl.String, "fake trading name"),
    Column("category", pl.String, "category name"),
    Column("mcc", pl.Int16, "merchant category code"),
    Column("online", pl.Boolean, "sells online only (no terminals)"),
    Column("region", pl.Int16, "region index; null for online merchants", True),
    Column("lat", pl.Float64, "latitude; null for online merchants", True),
    Column("lon", pl.Float64, "longitude; null for online merchants", True),
    Column("terminals", pl.Int16, "number of card terminals"),
]

DAILY_STATS_COLUMNS = [
    Column("day", pl.Int32, "day index from the scenario start"),
    Column("date", pl.Date, "calendar date"),
    Column("transactions", pl.Int64, "rows attempted that day"),
    Column("declined", pl.Int64, "rows declined"),
    Column("fraud_transactions", pl.Int64, "fraud rows"),
    Column("volume", pl.Float64, "accepted amount, major units"),
    Column("mean_checking_balance", pl.Float64, "end-of-day mean checking balance"),
    Column("blocked_cards", pl.Int64, "cards blocked so far"),
]


def event_columns(tz: str = "UTC") -> list[Column]:
    """Columns of events.parquet (non-payment events), in order."""
    return [
        Column("event_id", pl.Int64, "unique id"),
        Column("timestamp", _ts(tz), "when the event happened"),
        Column("customer_id", pl.Int64, "customer whose profile or session it is"),
        Column("account_id", pl.Int64, "account concerned", True),
        Column("device_id", pl.Int64, "device used (a new id for a new device)", True),
        Column("event_type", pl.Enum(EVENT_TYPES), "login, device_change, password_reset, ..."),
        Column("is_fraud", pl.Boolean, "ground truth: part of a fraud episode"),
        Column("fraud_type", pl.String, "typology registry name", True),
        Column("episode_id", pl.Int64, "the episode that caused it", True),
        Column("pattern", pl.String, "legitimate look-alike pattern name", True),
    ]


def episode_columns(tz: str = "UTC") -> list[Column]:
    """Columns of episodes.parquet: one row per episode."""
    return [
        Column("episode_id", pl.Int64, "unique id, as in transactions.episode_id"),
        Column("typology", pl.String, "registry name, e.g. card_testing.v1"),
        Column("label", pl.String, "variant label from the scenario", True),
        Column("is_fraud", pl.Boolean, "false for legitimate look-alikes and friendly fraud"),
        Column("pattern", pl.String, "look-alike pattern name", True),
        Column("fraudster_id", pl.Int64, "Mesa agent id of the fraudster or ring", True),
        Column("victim_customer_ids", pl.List(pl.Int64), "customers defrauded"),
        Column("account_ids", pl.List(pl.Int64), "accounts used (victims', mules')"),
        Column("card_ids", pl.List(pl.Int64), "cards used"),
        Column("start", _ts(tz), "episode start"),
        Column("end", _ts(tz), "episode end; null if still running at the end", True),
        Column("rows", pl.Int64, "transactions caused"),
        Column("amount_attempted", pl.Float64, "sum of attempted amounts, major units"),
        Column(
            "amount_stolen",
            pl.Float64,
            "loss, major units: victims' accepted debits; without victims, money entering "
            "the scheme (refunds, proceeds) and credit drawn",
        ),
        Column("declines", pl.Int64, "declined attempts"),
        Column("interruptions", pl.Int64, "times the bank blocked it mid-way"),
        Column("adaptations", pl.Int64, "times the fraudster adapted and went on"),
        Column("detected", pl.Boolean, "the bank learnt of it before the end of the run"),
        Column("detected_at", _ts(tz), "when (report or rule)", True),
        Column("detected_by", pl.String, "report, velocity, detector ...", True),
        Column("reported_at", _ts(tz), "when the victim's report arrives; null = never", True),
        Column("status", pl.String, "completed, stopped: cause, or running"),
    ]


def tables(tz: str = "UTC") -> dict[str, list[Column]]:
    """Every exported table and its columns."""
    return {
        "transactions": transaction_columns(tz),
        "customers": CUSTOMER_COLUMNS,
        "accounts": ACCOUNT_COLUMNS,
        "cards": CARD_COLUMNS,
        "merchants": MERCHANT_COLUMNS,
        "events": event_columns(tz),
        "episodes": episode_columns(tz),
        "daily_stats": DAILY_STATS_COLUMNS,
    }


def polars_schema(columns: list[Column]) -> dict[str, pl.DataType]:
    return {c.name: c.dtype for c in columns}  # type: ignore[misc]


def check_frame(name: str, frame: pl.DataFrame, columns: list[Column]) -> None:
    """Raise if a frame's columns, order or dtypes differ from the schema."""
    expected = [(c.name, c.dtype) for c in columns]
    got = list(frame.schema.items())
    if [n for n, _ in expected] != [n for n, _ in got]:
        raise AssertionError(
            f"{name}: columns {[n for n, _ in got]} != schema {[n for n, _ in expected]}"
        )
    for (n, want), (_, have) in zip(expected, got, strict=True):
        if have != want:
            raise AssertionError(f"{name}.{n}: dtype {have} != schema {want}")
        if not next(c for c in columns if c.name == n).nullable and frame[n].null_count():
            raise AssertionError(f"{name}.{n}: nulls in a non-nullable column")
