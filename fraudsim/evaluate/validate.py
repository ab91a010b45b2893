"""Train on synthetic, test on real: score a fitted detector on a user's labelled table.

The table is read with `fraudsim.calibration.columns.read_source` (the column mapping of
`fraudsim calibrate`) and turned into a transactions-shaped frame the detectors accept:

- `account` (if mapped) -> `customer_id` = `account_id` (a stable integer per value);
  `counterparty` -> `counterparty_account_id`; `category` -> `merchant_id`;
  `channel` / `type` -> `channel` / `tx_type` only for values in the simulator's categories;
  `direction` -> `direction`; `label` -> `is_fraud`.
- Everything the table lacks stays null: cards, terminals, devices, reporting times. Features
  built from a null key are null (`build_features`), which the gradient-boosted model routes
  down its missing-value branches and the rules read as 0: the neutral values. Those features
  are listed as unavailable in the report.
- Entities for the alert budget: the account when mapped, else each transaction is its own
  entity (a table like the public credit-card one has no account column).

Metrics are those of a synthetic suite entry: PR-AUC, recall at the daily budget, and recall at
the *same alert rate* as the synthetic worlds (budget / entities per day, which differ between a
20,000-customer world and a real table), and the gap real minus synthetic (suite mean).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import polars.selectors as cs

from fraudsim.calibration.columns import parse_column_map, read_source
from fraudsim.core.codes import CHANNELS, TX_TYPES
from fraudsim.core.errors import ConfigError
from fraudsim.detection.features import build_features
from fraudsim.detection.metrics import pr_auc, pr_curve, recall_at_daily_budget


@dataclass
class RealTable:
    """A user's labelled table as transactions (for the detector) and as metric entities."""

    path: Path
    transactions: pl.DataFrame
    entities: pl.DataFrame
    """The same rows with `card_id` null and `account_id` the budget's entity."""
    has_accounts: bool


def _ids(series: pl.Series) -> pl.Series:
    """A stable Int64 id per distinct value (null stays null)."""
    return series.cast(pl.String).cast(pl.Categorical).to_physical().cast(pl.Int64)


def _in_categories(series: pl.Series, categories: tuple[str, ...]) -> pl.Series:
    text = series.cast(pl.String).str.to_lowercase()
    return text.replace_strict(
        {c: c for c in categories}, default=None, return_dtype=pl.String
    ).cast(pl.Enum(categories))


def read_real(
    path: str | Path, columns: dict[str, str] | str | None = None, time_origin: str | None = None
) -> RealTable:
    """Read a labelled real table for `--validate-on`.

    Args:
        path: CSV or Parquet file.
        columns: `{canonical: source column}` or the `timestamp=Time,amount=Amount,...` text.
        time_origin: Date the seconds of a seconds-since-start time column count from.

    Raises:
        ConfigError: One line naming the file: unreadable, a missing or unparsable column, or
            no label column (or no fraud / no legit row).
    """

    if isinstance(columns, str):
        columns = parse_column_map(columns)
    source = read_source(path, columns, time_origin)
    frame = source.frame
    if "label" not in frame.columns:
        raise ConfigError(
            f"{path}: --validate-on needs a label column (map one with --columns label=COLUMN)"
        )
    fraud = int(frame["label"].sum())
    if fraud == 0 or fraud == frame.height:
        raise ConfigError(
            f"{path}: column 'label' needs both fraud and legit rows (got {fraud} fraud of "
            f"{frame.height})"
        )
    n = frame.height
    null_int = pl.Series([None] * n, dtype=pl.Int64)
    account = _ids(frame["account"]) if "account" in frame.columns else null_int
    ts = frame["timestamp"]
    if ts.dtype == pl.Date:
        ts = ts.cast(pl.Datetime("us"))
    tx = pl.DataFrame(
        {
            "transaction_id": pl.int_range(n, eager=True).cast(pl.Int64),
            "timestamp": ts.cast(pl.Datetime("us")),
            "customer_id": account,
            "account_id": account,
            "card_id": null_int,
            "merchant_id": _ids(frame["category"]) if "category" in frame.columns else null_int,
            "terminal_id": null_int,
            "device_id": null_int,
            "counterparty_account_id": _ids(frame["counterparty"])
            if "counterparty" in frame.columns
            else null_int,
            "amount": frame["amount"].cast(pl.Float64),
            "channel": _in_categories(frame["channel"], CHANNELS)
            if "channel" in frame.columns
            else pl.Series([None] * n, dtype=pl.Enum(CHANNELS)),
            "tx_type": _in_categories(frame["type"], TX_TYPES),
            "direction": frame["direction"],
            "is_fraud": frame["label"],
            "fraud_type": frame.select(
                pl.when(pl.col("label")).then(pl.lit("real_fraud")).otherwise(None)
            ).to_series(),
            "episode_id": null_int,
            "is_declined": pl.Series([False] * n),
            "reported_at": pl.Series([None] * n, dtype=pl.Datetime("us")),
        }
    )
    entity = account if "account" in frame.columns else tx["transaction_id"]
    return RealTable(
        path=Path(path),
        transactions=tx,
        entities=tx.with_columns(card_id=null_int, account_id=entity),
        has_accounts="account" in frame.columns,
    )


def unavailable_features(
    real: pl.DataFrame, synthetic_columns: list[str] | None = None
) -> list[str]:
    """Feature columns entirely null on the real table (filled with neutral values)."""
    feats = build_features(real).select(cs.starts_with("f_"))
    names = synthetic_columns or feats.columns
    return [c for c in names if c in feats.columns and feats[c].null_count() == feats.height]


def evaluate_real(
    model: Any, detector: str, real: RealTable, budget: int, entries: list[dict]
) -> dict[str, Any]:
    """Score `model` on the real table; metrics, unavailable features and the synthetic gap."""
    score = np.asarray(model.score(real.transactions), dtype=np.float64)
    if score.shape != (real.transactions.height,) or not np.isfinite(score).all():
        raise ConfigError(
            f"detector {detector!r}: score must give one finite float per row of {real.path} "
            f"(got shape {score.shape})"
        )
    frame = real.entities
    labels = frame["is_fraud"].to_numpy()
    per_day = frame.group_by(pl.col("timestamp").dt.date()).agg(pl.col("account_id").n_unique())[
        "account_id"
    ]
    real_epd = float(per_day.mean())
    rates = [budget / e["entities_per_day"] for e in entries if e.get("entities_per_day")]
    rate = float(np.mean(rates)) if rates else None
    matched = max(1, round(rate * real_epd)) if rate else budget
    real_metrics = {
        "transactions": frame.height,
        "fraud_rows": int(labels.sum()),
        "pr_auc": pr_auc(labels, score),
        "recall_at_budget": recall_at_daily_budget(frame, score, budget=budget),
        "recall_at_matched_rate": recall_at_daily_budget(frame, score, budget=matched),
        "fraud_share": float(labels.mean()),
    }

    def mean(key: str) -> float | None:
        vals = [e[key] for e in entries if e.get(key) is not None]
        return float(np.mean(vals)) if vals else None

    synthetic = {
        "pr_auc": mean("pr_auc"),
        "recall_at_budget": mean("recall_at_budget"),
        "recall_at_matched_rate": mean("recall_at_budget"),
        "fraud_share": mean("fraud_share"),
    }
    gap = {
        k: (real_metrics[k] - v) if v is not None and real_metrics[k] is not None else None
        for k, v in synthetic.items()
    }
    trained = list(getattr(model, "features", []) or [])
    return {
        "path": str(real.path),
        "real": real_metrics,
        "synthetic": synthetic,
        "gap": gap,
        "alert_rate": rate,
        "matched_budget": matched,
        "real_entities_per_day": real_epd,
        "entity": "account" if real.has_accounts else "transaction (no account column)",
        "unavailable_features": unavailable_features(real.transactions, trained or None),
        "pr_curve": pr_curve(labels, score),
        "note": (
            "recall_at_matched_rate alerts the same share of the day's entities as the budget "
            "does in the synthetic worlds (mean over the suite); PR-AUC depends on the fraud "
            "share, which differs between the tables (see fraud_share)."
        ),
    }
