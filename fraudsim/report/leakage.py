"""Leakage audit: how well each exported column alone separates fraud from legit, plus id-format
and balance checks. A column that separates too well is a label shortcut a detector would learn
instead of behaviour."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from fraudsim.report.run import RunData

FLAG_AUC = 0.95
# Ground-truth columns: they are the label (or derived from it), not features.
LABEL_COLUMNS = ("is_fraud", "fraud_type", "episode_id", "account_role", "pattern", "reported_at")
NUMERIC = (pl.Float32, pl.Float64, pl.Int8, pl.Int16, pl.Int32, pl.Int64, pl.UInt32, pl.UInt64)
LEGIT_SAMPLE = 200_000
FOLDS = 5
SMOOTHING = 20.0  # prior weight of the target encoding (rows)


def _auc(score: np.ndarray, y: np.ndarray) -> float:
    """Rank ROC AUC (ties count half)."""
    from scipy.stats import rankdata

    pos = y.sum()
    neg = len(y) - pos
    if pos == 0 or neg == 0:
        return float("nan")
    ranks = rankdata(score)
    return float((ranks[y].sum() - pos * (pos + 1) / 2) / (pos * neg))


def _target_encoded(values: pl.Series, y: np.ndarray, seed: int = 0) -> np.ndarray:
    """Out-of-fold mean label per category (smoothed to the prior): an id seen only in fraud
    rows scores high only if it recurs across folds, so ids do not score by memorisation."""
    fold = np.random.default_rng(seed).integers(0, FOLDS, len(y))
    frame = pl.DataFrame({"v": values.cast(pl.String).fill_null("<null>"), "y": y, "f": fold})
    prior = float(y.mean())
    total = frame.group_by("v").agg(pl.col("y").sum().alias("s"), pl.len().alias("n"))
    per_fold = frame.group_by("v", "f").agg(pl.col("y").sum().alias("sf"), pl.len().alias("nf"))
    enc = (
        frame.with_row_index("i")
        .join(total, on="v", how="left")
        .join(per_fold, on=["v", "f"], how="left")
        .sort("i")
        .select(
            (
                (pl.col("s") - pl.col("sf") + SMOOTHING * prior)
                / (pl.col("n") - pl.col("nf") + SMOOTHING)
            ).alias("e")
        )
    )
    return enc["e"].to_numpy()


def sample_rows(run: RunData, legit: int = LEGIT_SAMPLE, seed: int = 0) -> tuple[pl.DataFrame, str]:
    """All fraud rows and a uniform sample of at most `legit` legit rows."""
    lazy = run.transactions()
    fraud = lazy.filter(pl.col("is_fraud")).collect()
    n_legit = lazy.filter(~pl.col("is_fraud")).select(pl.len()).collect().item()
    rows = lazy.filter(~pl.col("is_fraud"))
    if n_legit > legit:
        # A keyed hash of the transaction id picks a reproducible uniform sample.
        rows = rows.filter(pl.col("transaction_id").hash(seed) % n_legit < legit)
    legit_rows = rows.collect()
    note = (
        f"all {fraud.height:,} fraud rows and {legit_rows.height:,} of {n_legit:,} legit rows "
        "(stratified sample; AUC does not depend on the class ratio)"
    )
    return pl.concat([fraud, legit_rows]), note


def audit_frame(frame: pl.DataFrame, seed: int = 0) -> dict[str, Any]:
    """Single-feature AUC of every non-label column of a transactions frame with `is_fraud`."""
    y = frame["is_fraud"].to_numpy().astype(bool)
    columns = []
    for name, dtype in frame.schema.items():
        if name in LABEL_COLUMNS:
            continue
        col = frame[name]
        categorical = name.endswith("_id") or not (dtype in NUMERIC or dtype.is_temporal())
        if categorical:
            score = _target_encoded(col, y, seed)
            method = "out-of-fold target encoding"
        else:
            values = col.cast(pl.Int64) if dtype.is_temporal() else col
            arr = values.cast(pl.Float64).to_numpy()
            score = np.where(
                np.isnan(arr), np.nanmin(arr) - 1 if (~np.isnan(arr)).any() else 0, arr
            )
            method = "rank"
        auc = _auc(score, y)
        best = max(auc, 1 - auc) if np.isfinite(auc) else None
        columns.append(
            {
                "column": name,
                "auc": best,
                "direction": None if best is None else ("higher" if auc >= 0.5 else "lower"),
                "method": method,
                "distinct": int(col.n_unique()),
                "flagged": bool(best is not None and best > FLAG_AUC),
            }
        )
    columns.sort(key=lambda c: -(c["auc"] or 0))
    return {
        "columns": columns,
        "flagged": [c["column"] for c in columns if c["flagged"]],
        "threshold": FLAG_AUC,
        "excluded": list(LABEL_COLUMNS),
        "excluded_note": "label columns (the ground truth and what is derived from it) are not "
        "features and are left out",
        "fraud_rows": int(y.sum()),
        "rows": len(y),
    }


def _luhn_ok(pans: pl.Series) -> int:
    digits = np.array([list(map(int, p)) for p in pans.to_list() if p and p.isdigit()], dtype=int)
    if digits.size == 0:
        return 0
    rev = digits[:, ::-1].copy()
    doubled = rev[:, 1::2] * 2
    rev[:, 1::2] = np.where(doubled > 9, doubled - 9, doubled)
    return int((rev.sum(axis=1) % 10 == 0).sum())


def _iban_ok(iban: str) -> bool:
    text = iban.replace(" ", "")
    moved = text[4:] + text[:4]
    number = "".join(str(int(ch, 36)) for ch in moved)
    return int(number) % 97 == 1


def id_checks(run: RunData) -> list[dict[str, Any]]:
    cards = run.table("cards")["card_number"]
    ibans = run.table("accounts")["iban"]
    counts = (
        run.transactions()
        .select(pl.len().alias("n"), pl.col("transaction_id").n_unique().alias("u"))
        .collect()
    )
    n, unique = int(counts["n"][0]), int(counts["u"][0])
    luhn = _luhn_ok(cards)
    iban_ok = sum(_iban_ok(i) for i in ibans.to_list())
    return [
        {
            "check": "card numbers pass Luhn",
            "ok": luhn,
            "total": len(cards),
            "passed": luhn == len(cards),
        },
        {
            "check": "IBANs pass mod-97",
            "ok": iban_ok,
            "total": len(ibans),
            "passed": iban_ok == len(ibans),
        },
        {"check": "transaction ids unique", "ok": unique, "total": n, "passed": unique == n},
        {
            "check": "card numbers unique",
            "ok": int(cards.n_unique()),
            "total": len(cards),
            "passed": cards.n_unique() == len(cards),
        },
    ]


def balance_checks(run: RunData) -> list[dict[str, Any]]:
    """closing = opening + accepted movements, per account; no balance below its limit."""
    accepted = run.transactions().filter(~pl.col("is_declined"))
    own = accepted.group_by("account_id").agg(
        pl.when(pl.col("direction") == "credit")
        .then(pl.col("amount"))
        .otherwise(-pl.col("amount"))
        .sum()
        .alias("moved")
    )
    incoming = (
        accepted.filter(pl.col("counterparty_account_id").is_not_null())
        .group_by(pl.col("counterparty_account_id").alias("account_id"))
        .agg(pl.col("amount").sum().alias("received"))
    )
    acc = (
        run.table("accounts")
        .lazy()
        .join(own, on="account_id", how="left")
        .join(incoming, on="account_id", how="left")
        .with_columns(
            (
                pl.col("opening_balance")
                + pl.col("moved").fill_null(0)
                + pl.col("received").fill_null(0)
                - pl.col("closing_balance")
            )
            .abs()
            .alias("gap")
        )
        .collect()
    )
    off = int((acc["gap"] > 0.011).sum())
    below = int((acc["closing_balance"] < acc["limit"] - 0.005).sum())
    return [
        {
            "check": "closing balance = opening + accepted movements",
            "ok": acc.height - off,
            "total": acc.height,
            "passed": off == 0,
            "max_gap": float(acc["gap"].max() or 0.0),
        },
        {
            "check": "closing balance not below the limit",
            "ok": acc.height - below,
            "total": acc.height,
            "passed": below == 0,
        },
    ]


def leakage(run: RunData, legit: int = LEGIT_SAMPLE) -> dict[str, Any]:
    frame, note = sample_rows(run, legit)
    if frame["is_fraud"].sum() == 0:
        audit: dict[str, Any] = {
            "columns": [],
            "flagged": [],
            "threshold": FLAG_AUC,
            "excluded": list(LABEL_COLUMNS),
            "note": "no fraud rows in this run: nothing to separate",
        }
    else:
        audit = audit_frame(frame)
        audit["note"] = note
    audit["id_checks"] = id_checks(run)
    audit["balance_checks"] = balance_checks(run)
    return audit
