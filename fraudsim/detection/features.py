"""Leakage-safe features for fraud detectors, built from an exported transactions table.

`build_features` turns the `transactions` table (README, "Output schema") into one row of
features per transaction, in the input order. Every feature column is named `f_*`; the label and
meta columns `transaction_id`, `timestamp`, `is_fraud`, `fraud_type`, `episode_id` and
`reported_at` are passed through untouched (those present in the input) and are never read to
build a feature, nor are `account_role`, `pattern`, `is_declined` or `decline_reason`.

Temporal rule: a row's features use only rows *strictly before* its `timestamp`. Rows at the
same instant never see each other (a batch scored at one instant cannot use itself), so every
row of a tie gets the same history. A window of length `w` ending at row time `t` covers
`[t - w, t)`: a row exactly `w` before counts, the row's own instant does not. All rows count
as history, declined attempts included (an attempt is known when it happens).

Labels are used only as the bank would know them: a prior row `j` counts as known fraud for a
row at `t` when `timestamp_j < t` and `reported_at_j <= t`.
"""

from __future__ import annotations

import polars as pl

from fraudsim.core.codes import CHANNELS, TX_TYPES

WINDOWS: dict[str, str] = {"1h": "1h", "1d": "1d", "7d": "7d", "30d": "30d"}
"""Window suffix -> polars duration of the per-card and per-customer rolling windows."""

PASSTHROUGH = ("transaction_id", "timestamp", "is_fraud", "fraud_type", "episode_id", "reported_at")
"""Label and meta columns copied to the output when present; never used as features."""

REQUIRED = (
    "timestamp",
    "customer_id",
    "account_id",
    "card_id",
    "merchant_id",
    "terminal_id",
    "device_id",
    "counterparty_account_id",
    "amount",
    "channel",
    "tx_type",
    "direction",
)
"""Transaction columns the features are built from."""

NIGHT_HOURS = (0, 5)
"""Inclusive range of local hours flagged by `f_is_night`."""

EARTH_RADIUS_KM = 6371.0088
_TS = "timestamp"
_ROW = "__row"


def build_features(
    transactions: pl.DataFrame,
    customers: pl.DataFrame | None = None,
    merchants: pl.DataFrame | None = None,
    as_of_labels: bool = True,
) -> pl.DataFrame:
    """Build the leakage-safe feature set, one row per transaction in the input order.

    Features (windows `W` = 1h, 1d, 7d, 30d over `[t - W, t)`; "prior" = strictly before `t`):

    - `f_amount`, `f_is_debit`, `f_is_cnp`, `f_hour`, `f_weekday` (1 = Monday), `f_is_night`
      (local hour 0-5, in the time zone of `timestamp`), `f_channel_code`, `f_tx_type_code`
      (stable codes: positions in the schema's enum categories);
    - `f_card_cnt_W`, `f_card_sum_W` (null without a card), `f_cust_cnt_W`, `f_cust_sum_W`:
      count and amount sum of prior rows of the card / customer in the window;
    - `f_cust_prior_cnt`, `f_amount_to_cust_mean`: the customer's prior row count and this
      amount over the mean prior amount (null without history);
    - `f_secs_since_card_prev`, `f_secs_since_cust_prev`: seconds since the previous prior row
      of the card / customer (null if none);
    - `f_new_merchant` (customer, merchant), `f_new_payee` (account, counterparty account),
      `f_new_device` (customer, device): true when no prior row has the pair, null when the row
      has no merchant / counterparty / device;
    - `f_dist_home_km`: haversine distance from the customer's home to a physical merchant
      (needs `customers` and `merchants`; null for online merchants or without coordinates);
    - with `as_of_labels`: `f_term_prior_cnt`, `f_term_known_fraud_cnt`,
      `f_term_known_fraud_share` and the same three for the merchant (`f_merch_*`): prior rows
      at the same terminal / merchant, those among them already reported as fraud by `t`
      (`reported_at <= t`), and their share (null without prior rows).

    Args:
        transactions: Exported transactions (at least `REQUIRED`, plus `reported_at` when
            `as_of_labels`); any row order.
        customers: Customers table with `customer_id`, `home_lat`, `home_lon`.
        merchants: Merchants table with `merchant_id`, `lat`, `lon`, `online`.
        as_of_labels: Build the terminal / merchant risk features from `reported_at`.

    Returns:
        The passthrough columns present in `transactions`, then the `f_*` feature columns.

    Raises:
        ValueError: If a required column is missing.
    """
    needed = list(REQUIRED) + (["reported_at"] if as_of_labels else [])
    missing = [c for c in needed if c not in transactions.columns]
    if missing:
        raise ValueError(f"transactions lack column(s) needed for features: {missing}")

    df = transactions.with_row_index(_ROW).sort([_TS, _ROW])
    df = df.with_columns(_basic_features())
    df = _entity_history(df, "card", ["card_id"])
    df = _entity_history(df, "cust", ["customer_id"])
    df = df.with_columns(
        f_amount_to_cust_mean=pl.when(pl.col("f_cust_prior_cnt") > 0).then(
            pl.col("amount") * pl.col("f_cust_prior_cnt") / pl.col("__cust_prior_sum")
        )
    )
    for name, keys in (
        ("f_new_merchant", ["customer_id", "merchant_id"]),
        ("f_new_payee", ["account_id", "counterparty_account_id"]),
        ("f_new_device", ["customer_id", "device_id"]),
    ):
        df = _with_prior_count(df, keys, "__n").with_columns((pl.col("__n") == 0).alias(name))
    df = _distance_from_home(df, customers, merchants)
    if as_of_labels:
        df = _known_fraud(df, "terminal_id", "f_term")
        df = _known_fraud(df, "merchant_id", "f_merch")

    features = [c for c in df.columns if c.startswith("f_")]
    keep = [c for c in PASSTHROUGH if c in transactions.columns]
    return df.sort(_ROW).select(keep + features)  # drops the `__*` helper columns


def _basic_features() -> list[pl.Expr]:
    """Row-level features that need no history."""
    hour = pl.col(_TS).dt.hour()
    return [
        pl.col("amount").cast(pl.Float64).alias("f_amount"),
        (pl.col("direction").cast(pl.String) == "debit").alias("f_is_debit"),
        (pl.col("channel").cast(pl.String) == "cnp").alias("f_is_cnp"),
        hour.cast(pl.Int8).alias("f_hour"),
        pl.col(_TS).dt.weekday().cast(pl.Int8).alias("f_weekday"),
        hour.is_between(*NIGHT_HOURS).alias("f_is_night"),
        _code("channel", CHANNELS).alias("f_channel_code"),
        _code("tx_type", TX_TYPES).alias("f_tx_type_code"),
    ]


def _code(column: str, categories: tuple[str, ...]) -> pl.Expr:
    """Stable integer code of a categorical column: its position in the schema's categories."""
    return pl.col(column).cast(pl.String).cast(pl.Enum(categories)).to_physical().cast(pl.Int16)


def _with_prior_count(df: pl.DataFrame, keys: list[str], name: str) -> pl.DataFrame:
    """Add `name`: rows of the same key strictly before this row's instant, null without key.

    Args:
        df: Time-sorted frame (so a key's rows are in time order).
        keys: Key columns.
        name: Output column.

    Returns:
        `df` with the count; every row of a same-instant tie gets the count of its first row.
    """
    present = pl.all_horizontal(pl.col(k).is_not_null() for k in keys)
    rank = pl.int_range(pl.len(), dtype=pl.Int64).over(keys)
    return df.with_columns(rank.alias(name)).with_columns(
        pl.when(present).then(pl.col(name).first().over([*keys, _TS])).alias(name)
    )


def _entity_history(df: pl.DataFrame, name: str, keys: list[str]) -> pl.DataFrame:
    """Window counts and sums, prior count/sum and time since previous row for one entity.

    Args:
        df: Time-sorted frame.
        name: Feature name part, e.g. `card`.
        keys: Entity key columns; rows with a null key get null features.

    Returns:
        `df` with `f_{name}_cnt_W`, `f_{name}_sum_W`, `f_{name}_prior_cnt`,
        `f_secs_since_{name}_prev` and the helper `__{name}_prior_sum`.
    """
    present = pl.all_horizontal(pl.col(k).is_not_null() for k in keys)
    one = pl.col(_TS).is_not_null().cast(pl.Int64)
    exprs: list[pl.Expr] = []
    for suffix, window in WINDOWS.items():
        cnt = one.rolling_sum_by(_TS, window, closed="left").over(keys)
        total = pl.col("amount").rolling_sum_by(_TS, window, closed="left").over(keys)
        exprs.append(pl.when(present).then(cnt).alias(f"f_{name}_cnt_{suffix}"))
        # An empty window is exactly 0, not a rounding residue of the running sum.
        exprs.append(
            pl.when(present)
            .then(pl.when(cnt > 0).then(total).otherwise(0.0))
            .alias(f"f_{name}_sum_{suffix}")
        )
    prior_sum = pl.col("amount").cum_sum().shift(1, fill_value=0.0).over(keys)
    prev = pl.col(_TS).shift(1).over(keys)
    df = _with_prior_count(df, keys, f"f_{name}_prior_cnt").with_columns(
        *exprs,
        pl.when(present).then(prior_sum).alias(f"__{name}_prior_sum"),
        pl.when(present).then(prev).alias("__prev"),
    )
    # Rows at one instant share the history of the first of them: the same prior sum and the
    # same previous instant (strictly earlier, never a tie partner).
    return df.with_columns(
        pl.col(f"__{name}_prior_sum").first().over([*keys, _TS]),
        (
            (pl.col(_TS) - pl.col("__prev").first().over([*keys, _TS])).dt.total_microseconds()
            / 1e6
        ).alias(f"f_secs_since_{name}_prev"),
    ).drop("__prev")


def _haversine_km(lat1: pl.Expr, lon1: pl.Expr, lat2: pl.Expr, lon2: pl.Expr) -> pl.Expr:
    """Great-circle distance in km between two points given in degrees."""
    p1, p2 = lat1.radians(), lat2.radians()
    dlat, dlon = p2 - p1, (lon2 - lon1).radians()
    a = (dlat / 2).sin() ** 2 + p1.cos() * p2.cos() * (dlon / 2).sin() ** 2
    return 2 * EARTH_RADIUS_KM * a.sqrt().clip(upper_bound=1.0).arcsin()


def _distance_from_home(
    df: pl.DataFrame, customers: pl.DataFrame | None, merchants: pl.DataFrame | None
) -> pl.DataFrame:
    """Add `f_dist_home_km` (null unless both tables are given and the merchant is physical)."""
    if customers is None or merchants is None:
        return df.with_columns(f_dist_home_km=pl.lit(None, dtype=pl.Float64))
    homes = customers.select("customer_id", __hlat="home_lat", __hlon="home_lon")
    shops = merchants.select(
        "merchant_id",
        __mlat=pl.when(~pl.col("online").fill_null(False)).then(pl.col("lat")),
        __mlon=pl.when(~pl.col("online").fill_null(False)).then(pl.col("lon")),
    )
    df = df.join(homes, on="customer_id", how="left", maintain_order="left").join(
        shops, on="merchant_id", how="left", maintain_order="left"
    )
    dist = _haversine_km(pl.col("__hlat"), pl.col("__hlon"), pl.col("__mlat"), pl.col("__mlon"))
    return df.with_columns(f_dist_home_km=dist).drop("__hlat", "__hlon", "__mlat", "__mlon")


def _known_fraud(df: pl.DataFrame, key: str, prefix: str) -> pl.DataFrame:
    """Prior rows at the same `key` and those already reported as fraud at this row's time.

    A row `j` counts for a row at `t` when `timestamp_j < t` and `reported_at_j <= t`, i.e. from
    `known_at_j = max(reported_at_j, timestamp_j + one tick)`; the count of `known_at_j <= t` is
    read with a backward as-of join on the time-sorted frame.

    Args:
        df: Time-sorted frame.
        key: `terminal_id` or `merchant_id`.
        prefix: Feature name prefix, e.g. `f_term`.

    Returns:
        `df` with `{prefix}_prior_cnt`, `{prefix}_known_fraud_cnt`, `{prefix}_known_fraud_share`.
    """
    unit = df.schema[_TS].time_unit  # type: ignore[attr-defined]
    tick = pl.duration(
        **{{"ns": "nanoseconds", "us": "microseconds", "ms": "milliseconds"}[unit]: 1}
    )
    reported = pl.col("reported_at").cast(df.schema[_TS])
    known = (
        df.filter(pl.col(key).is_not_null() & pl.col("reported_at").is_not_null())
        .select(key, __known_at=pl.max_horizontal(reported, pl.col(_TS) + tick))
        .sort("__known_at")
        .with_columns(__known=pl.int_range(1, pl.len() + 1, dtype=pl.Int64).over(key))
        .group_by(key, "__known_at")
        .agg(pl.col("__known").max())
        .sort("__known_at")
    )
    rows = df.filter(pl.col(key).is_not_null()).select(_ROW, key, _TS)
    counts = rows.join_asof(
        known,
        left_on=_TS,
        right_on="__known_at",
        by=key,
        strategy="backward",
        check_sortedness=False,  # both sides are sorted by time above
    ).select(_ROW, "__known")
    df = df.join(counts, on=_ROW, how="left", maintain_order="left")
    df = _with_prior_count(df, [key], f"{prefix}_prior_cnt")
    prior, hits = pl.col(f"{prefix}_prior_cnt"), pl.col("__known").fill_null(0)
    return df.with_columns(
        pl.when(prior.is_not_null()).then(hits).alias(f"{prefix}_known_fraud_cnt"),
        pl.when(prior > 0).then(hits / prior).alias(f"{prefix}_known_fraud_share"),
    ).drop("__known")
