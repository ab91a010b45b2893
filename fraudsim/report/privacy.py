"""Privacy against the source a profile was calibrated from: distance to closest record (DCR).

Each synthetic record's distance to its nearest source record is compared with each source
record's distance to its nearest other source record, on standardised common features. A
synthetic set that copies the source has DCRs near 0 (below the source's own spacing) and
exact matches.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from fraudsim.calibration.compare import honest_rows
from fraudsim.core.errors import ConfigError

SAMPLE = 20_000
PERCENTILES = (1, 5, 25, 50, 75, 95)


def _features(frame: pl.DataFrame, has_time: bool, types: list[str]) -> np.ndarray:
    """log amount, day of month, weekday, hour (when the source has times), one-hot type."""
    stamp = pl.col("timestamp")
    cols = [
        pl.col("amount").abs().log1p().alias("log_amount"),
        stamp.dt.day().cast(pl.Float64).alias("day"),
        stamp.dt.weekday().cast(pl.Float64).alias("weekday"),
    ]
    if has_time:
        cols.append(stamp.dt.hour().cast(pl.Float64).alias("hour"))
    numeric = frame.select(cols).to_numpy().astype(float)
    kind = frame["type"].cast(pl.String).to_numpy() if "type" in frame.columns else None
    onehot = (
        np.stack([kind == t for t in types], axis=1).astype(float)
        if kind is not None and types
        else np.zeros((len(frame), 0))
    )
    return np.hstack([numeric, onehot])


def _sample(frame: pl.DataFrame, n: int, seed: int) -> pl.DataFrame:
    return frame.sample(n, seed=seed) if frame.height > n else frame


def dcr(
    source: pl.DataFrame, synthetic: pl.DataFrame, has_time: bool, seed: int = 0
) -> dict[str, Any]:
    """DCR percentiles (synthetic -> source, source -> other source) and exact matches."""
    try:
        from sklearn.neighbors import NearestNeighbors
    except ImportError:  # pragma: no cover - scikit-learn is a dependency
        raise ConfigError(
            "fraudsim report --against needs scikit-learn (pip install scikit-learn)"
        ) from None
    if source.height < 2 or synthetic.height == 0:
        raise ConfigError("privacy check: the source and the run need rows to compare")
    types = (
        sorted(set(source["type"].cast(pl.String).drop_nulls().to_list()))
        if "type" in source.columns
        else []
    )
    src = _sample(source, SAMPLE, seed)
    syn = _sample(synthetic, SAMPLE, seed + 1)
    a, b = _features(src, has_time, types), _features(syn, has_time, types)
    mean, sd = a.mean(axis=0), a.std(axis=0)
    sd[sd == 0] = 1.0
    a, b = (a - mean) / sd, (b - mean) / sd
    index = NearestNeighbors(n_neighbors=2).fit(a)
    to_source = index.kneighbors(b, n_neighbors=1)[0][:, 0]
    within = index.kneighbors(a, n_neighbors=2)[0][:, 1]
    # Exact matches on the raw values (amount to the cent, timestamp, type), over all rows.
    keys = ["timestamp", "amount"] + (["type"] if "type" in source.columns else [])

    def _key(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.select(
            pl.col("timestamp").cast(pl.Datetime("us")),
            pl.col("amount").abs().round(2),
            *([pl.col("type").cast(pl.String)] if "type" in keys else []),
        )

    exact = _key(synthetic).join(_key(source).unique(), on=keys, how="semi").height
    return {
        "features": ["log amount", "day of month", "weekday"]
        + (["hour"] if has_time else [])
        + [f"type={t}" for t in types],
        "source_rows": source.height,
        "synthetic_rows": synthetic.height,
        "sampled": {"source": src.height, "synthetic": syn.height},
        "synthetic_to_source": {f"p{p}": float(np.percentile(to_source, p)) for p in PERCENTILES},
        "source_to_source": {f"p{p}": float(np.percentile(within, p)) for p in PERCENTILES},
        "share_closer_than_source_p5": float((to_source < np.percentile(within, 5)).mean()),
        "exact_matches": int(exact),
        "exact_match_keys": keys,
        "passed": exact == 0,
        "note": "features standardised with the source's mean and sd; nearest neighbours on "
        f"samples of at most {SAMPLE:,} rows each; exact matches over all rows",
    }


def privacy(run_transactions: pl.LazyFrame, source: Any, profile: Any) -> dict[str, Any]:
    """DCR of the run's honest rows against a SourceTable (from fraudsim.calibration.columns)."""
    try:
        synthetic = honest_rows(run_transactions, profile)
    except (ImportError, ConfigError):
        # A profile not derived from data: compare on the simulator's own types.
        synthetic = (
            run_transactions.filter(~pl.col("is_fraud"))
            .select(
                pl.col("timestamp").dt.replace_time_zone(None),
                "amount",
                pl.col("tx_type").cast(pl.String).alias("type"),
            )
            .collect()
        )
    src = source.frame
    if "type" not in src.columns:
        synthetic = synthetic.drop("type", strict=False)
    return dcr(src, synthetic, source.has_time)
