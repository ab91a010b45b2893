"""Simulated honest traffic against the source table a profile was derived from.

Distances: two-sample KS of amounts per source type; L1 of weekday and day-of-month shapes
(factors fitted jointly on rows per date, so calendars of different years and lengths compare;
the last day of a month counts as day 31) and of the hour shape when both have times; relative
error of rows per account and month.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from fraudsim.calibration.columns import SourceTable
from fraudsim.calibration.fromdata import DAYS_PER_MONTH, day_index, fit_calendar
from fraudsim.calibration.profile import Profile
from fraudsim.core.errors import ConfigError

KS_TOLERANCE = 0.10
MIN_ROWS = 30  # fewer rows on either side: the distance is not reported as pass/fail


def ks_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov statistic (largest gap between the empirical CDFs)."""
    a, b = np.sort(a), np.sort(b)
    grid = np.concatenate([a, b])
    cdf_a = np.searchsorted(a, grid, side="right") / len(a)
    cdf_b = np.searchsorted(b, grid, side="right") / len(b)
    return float(np.max(np.abs(cdf_a - cdf_b)))


def _calendar_shapes(frame: pl.DataFrame) -> dict[str, np.ndarray]:
    """Weekday and day-of-month shapes (sum 1) of the factors fitted jointly on rows per date
    (see fit_calendar), so that calendars of different years and lengths compare; hour shape."""
    dates = frame["timestamp"].dt.date()
    first, last = dates.min(), dates.max()
    days = pl.select(pl.date_range(first, last, "1d").alias("d"))["d"]
    weekday = (days.dt.weekday() - 1).to_numpy()
    slot = pl.select(day_index(pl.lit(days))).to_series().to_numpy() - 1
    rows_weekday = np.bincount((dates.dt.weekday() - 1).to_numpy(), minlength=7)
    rows_slot = np.bincount(
        pl.select(day_index(pl.lit(dates))).to_series().to_numpy() - 1, minlength=31
    )
    w, d = (np.asarray(x) for x in fit_calendar(rows_weekday, rows_slot, weekday, slot))
    hours = np.bincount(frame["timestamp"].dt.hour().to_numpy(), minlength=24).astype(np.float64)
    return {
        "weekday": w / w.sum(),
        "day_of_month": d / d.sum(),
        "hour": hours / max(hours.sum(), 1),
    }


def _activity(frame: pl.DataFrame) -> float:
    """Rows per account and 30.44 days, over each account's span from first to last row."""
    spans = frame.group_by("account").agg(
        pl.len().alias("n"),
        ((pl.col("timestamp").max() - pl.col("timestamp").min()).dt.total_days() + 1).alias("d"),
    )
    return float(spans["n"].sum() / max(spans["d"].sum(), 1) * DAYS_PER_MONTH)


def honest_rows(transactions: pl.LazyFrame | pl.DataFrame, profile: Profile) -> pl.DataFrame:
    """Honest simulated rows in the source's terms: timestamp (local), amount, account, type."""
    if profile.empirical is None:
        raise ConfigError("profile has no [empirical] section: it was not derived from data")
    lazy = transactions.lazy()
    mapping = pl.DataFrame(
        {
            "tx_type": [t.tx_type for t in profile.empirical.types],
            "channel": [t.channel for t in profile.empirical.types],
            "direction": [t.direction for t in profile.empirical.types],
            "type": [t.name for t in profile.empirical.types],
        }
    )
    frame = (
        lazy.filter(
            ~pl.col("is_fraud") & pl.col("fraud_type").is_null() & pl.col("pattern").is_null()
        )
        .select(
            pl.col("timestamp").dt.replace_time_zone(None),
            "amount",
            pl.col("account_id").cast(pl.String).alias("account"),
            pl.col("tx_type").cast(pl.String),
            pl.col("channel").cast(pl.String),
            pl.col("direction").cast(pl.String),
        )
        .collect()
    )
    return frame.join(mapping, on=["tx_type", "channel", "direction"], how="inner").select(
        "timestamp", "amount", "account", "type"
    )


def _row(metric: str, what: str, value: float, tolerance: float, **extra: Any) -> dict[str, Any]:
    return {
        "metric": metric,
        "what": what,
        "value": round(float(value), 5),
        "tolerance": tolerance,
        "pass": bool(value <= tolerance),
        **extra,
    }


def compare_to_source(
    transactions: pl.LazyFrame | pl.DataFrame, source: SourceTable, profile: Profile
) -> list[dict[str, Any]]:
    """Distances between a run's honest rows and the source table, each with pass/fail.

    Rows: {metric, what, value, tolerance, pass, source_rows, simulated_rows}. KS rows for
    types with fewer than MIN_ROWS rows on either side carry `pass: None`.
    """
    sim = honest_rows(transactions, profile)
    src = source.frame
    shape_tol = profile.tolerances.shape_l1
    results: list[dict[str, Any]] = []
    for kind in profile.empirical.types if profile.empirical else []:
        a = src.filter(pl.col("type") == kind.name)["amount"].to_numpy()
        b = sim.filter(pl.col("type") == kind.name)["amount"].to_numpy()
        if len(a) == 0 or len(b) == 0:
            continue
        row = _row(
            "ks_amount",
            kind.name,
            ks_distance(a, b),
            KS_TOLERANCE,
            source_rows=len(a),
            simulated_rows=len(b),
        )
        if min(len(a), len(b)) < MIN_ROWS:
            row["pass"] = None
        results.append(row)
    if sim.height == 0:
        return results
    s_shapes, m_shapes = _calendar_shapes(src), _calendar_shapes(sim)
    names = ["weekday", "day_of_month"] + (["hour"] if source.has_time else [])
    for name in names:
        l1 = float(np.abs(s_shapes[name] - m_shapes[name]).sum())
        results.append(
            _row(
                f"l1_{name}",
                "all types",
                l1,
                shape_tol,
                source_rows=src.height,
                simulated_rows=sim.height,
            )
        )
    if source.has_accounts:
        a, b = _activity(src), _activity(sim)
        results.append(
            _row(
                "activity_per_account_month",
                f"source {a:.3f}, simulated {b:.3f}",
                abs(b - a) / max(a, 1e-9),
                profile.tolerances.relative,
                source_rows=src.height,
                simulated_rows=sim.height,
            )
        )
    return results
