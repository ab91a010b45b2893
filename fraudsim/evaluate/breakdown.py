"""Whom a detector protects less: recall and friction by customer segment and by channel.

Everything is measured at the real daily alert budget (`metrics.daily_alerts`: the day's top
entities, all fraud competing). Per group:

- `fraud_entity_days`, `caught_entity_days`, `recall`: fraudulent entity-days (cards, else
  accounts) and those alerted. A customer segment groups an entity-day by its rows' customer
  (an entity belongs to one customer), so the groups of a segment sum to the totals. A channel
  groups (entity-day, channel) pairs of the fraud rows: an entity-day used over two channels
  counts in both, so channel counts sum to at least the total.
- `legit_rows`, `legit_alerted`, `legit_declined`: honest rows; those on an alerted entity-day
  (the customer is contacted or blocked that day); those that would be declined (the row's own
  score reaches the day's alert cutoff). `friction_alerted` / `friction_declined` are shares.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from fraudsim.detection.metrics import daily_alerts

SEGMENTS = ("age_band", "income_band", "region")
"""Customer columns (customers table) a report breaks recall and friction down by."""


def _scored(
    tx: pl.DataFrame, score: np.ndarray, budget: int, customers: pl.DataFrame | None
) -> pl.DataFrame:
    alerts = daily_alerts(tx, score, budget=budget)
    frame = pl.concat(
        [
            tx.select(
                "customer_id",
                channel=pl.col("channel").cast(pl.String),
                fraud=pl.col("is_fraud").fill_null(False),
            ),
            alerts.select("day", "entity_kind", "entity_id", "entity_alerted", "row_alerted"),
        ],
        how="horizontal",
    )
    if customers is not None:
        present = [c for c in SEGMENTS if c in customers.columns]
        seg = customers.select("customer_id", *[pl.col(c).cast(pl.String) for c in present])
        frame = frame.join(seg, on="customer_id", how="left", maintain_order="left")
    return frame


def _group(frame: pl.DataFrame, by: str, entity_keys: list[str]) -> pl.DataFrame:
    """Recall and friction per value of `by` (see the module docstring)."""
    fraud = (
        frame.filter(pl.col("fraud"))
        .group_by([*entity_keys, by])
        .agg(pl.col("entity_alerted").any())
        .group_by(by)
        .agg(
            fraud_entity_days=pl.len().cast(pl.Int64),
            caught_entity_days=pl.col("entity_alerted").sum().cast(pl.Int64),
        )
    )
    legit = (
        frame.filter(~pl.col("fraud"))
        .group_by(by)
        .agg(
            legit_rows=pl.len().cast(pl.Int64),
            legit_alerted=pl.col("entity_alerted").sum().cast(pl.Int64),
            legit_declined=pl.col("row_alerted").sum().cast(pl.Int64),
        )
    )
    return (
        legit.join(fraud, on=by, how="full", coalesce=True)
        .with_columns(pl.col(pl.Int64).fill_null(0))
        .select(
            pl.col(by).fill_null("unknown").alias("group"),
            "fraud_entity_days",
            "caught_entity_days",
            recall=pl.when(pl.col("fraud_entity_days") > 0).then(
                pl.col("caught_entity_days") / pl.col("fraud_entity_days")
            ),
            legit_rows="legit_rows",
            legit_alerted="legit_alerted",
            legit_declined="legit_declined",
            friction_alerted=pl.col("legit_alerted") / pl.col("legit_rows"),
            friction_declined=pl.col("legit_declined") / pl.col("legit_rows"),
        )
        .sort("group")
    )


def breakdowns(
    tx: pl.DataFrame, score: np.ndarray, budget: int, customers: pl.DataFrame | None = None
) -> dict[str, list[dict]]:
    """Recall and friction per customer segment (needs `customers`) and per channel.

    Returns:
        `{"channel": rows, "age_band": rows, ...}`, each row a dict of `_group`'s columns.
    """
    frame = _scored(tx, score, budget, customers)
    keys = ["day", "entity_kind", "entity_id"]
    out = {"channel": _group(frame, "channel", keys).to_dicts()}
    for column in SEGMENTS:
        if column in frame.columns:
            out[column] = _group(frame, column, keys).to_dicts()
    return out


def pool(per_entry: list[dict[str, list[dict]]]) -> dict[str, list[dict]]:
    """Sum the breakdowns of several entries group by group (recall and friction recomputed)."""
    counts = (
        "fraud_entity_days",
        "caught_entity_days",
        "legit_rows",
        "legit_alerted",
        "legit_declined",
    )
    out: dict[str, dict[str, dict]] = {}
    for item in per_entry:
        for name, rows in item.items():
            for row in rows:
                acc = out.setdefault(name, {}).setdefault(
                    str(row["group"]), {"group": str(row["group"]), **dict.fromkeys(counts, 0)}
                )
                for c in counts:
                    acc[c] += row[c] or 0
    pooled: dict[str, list[dict]] = {}
    for name, groups in out.items():
        rows = []
        for key in sorted(groups, key=lambda k: (not k.isdigit(), int(k) if k.isdigit() else 0, k)):
            g = groups[key]
            fed, legit = g["fraud_entity_days"], g["legit_rows"]
            rows.append(
                {
                    **g,
                    "recall": g["caught_entity_days"] / fed if fed else None,
                    "friction_alerted": g["legit_alerted"] / legit if legit else None,
                    "friction_declined": g["legit_declined"] / legit if legit else None,
                }
            )
        pooled[name] = rows
    return pooled
