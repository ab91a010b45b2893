"""One-threshold rules and gradient-boosted models, fitted on train days and scored on test days."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np
import polars as pl
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import average_precision_score, roc_auc_score
from threadpoolctl import threadpool_limits  # a dependency of scikit-learn

MIN_SUPPORT = 5  # fraud rows a rule must catch on train, so a rule is not one lucky row
PRECISE = 0.9  # the precision a "precise" rule must reach on train
MIN_TYPOLOGY_ROWS = 5  # test fraud rows of a typology below which its metrics are not reported
MAX_CATEGORIES = 250  # HistGradientBoosting codes categories in at most 255 bins
MODEL_HONEST = 50_000  # honest training rows a model sees (all fraud rows are kept): speed
# HistGradientBoosting's OpenMP threads spin-wait: on cores shared with other work a fit ran
# 10x slower with all cores than with one. Half the cores keeps most of the speed-up safely.
THREADS = max(1, (os.cpu_count() or 1) // 2)
OPS = (">=", "<=", "==", "is null")


@dataclass
class Column:
    """A feature of the sampled rows: float values (categories coded, NaN = null)."""

    name: str
    kind: str  # "raw" or "derived"
    values: np.ndarray
    labels: list[str] | None = None  # category of each code, for coded columns


@dataclass
class Sample:
    """The rows the rules and models see: all fraud rows, a sample of honest ones, weighted so
    every metric is at the run's real prevalence (a sampled honest row stands for 1/fraction)."""

    y: np.ndarray  # is_fraud
    weight: np.ndarray
    train: np.ndarray  # row falls in the train days
    typology: np.ndarray  # fraud_type of the fraud rows ("" otherwise)
    customer: np.ndarray  # customer_id of the row


def encode(frame: pl.DataFrame, kinds: dict[str, str]) -> list[Column]:
    """Columns of `frame` as floats; strings, enums and booleans become category codes."""
    out = []
    for name in frame.columns:
        s = frame[name]
        if s.dtype.is_numeric():
            out.append(Column(name, kinds[name], s.cast(pl.Float64).fill_null(np.nan).to_numpy()))
            continue
        text = s.cast(pl.String)
        labels = text.drop_nulls().unique().sort().to_list()
        # dense rank follows the same lexical order as the sorted labels: code i is labels[i]
        code = text.rank("dense").cast(pl.Float64).fill_null(np.nan).to_numpy() - 1
        out.append(Column(name, kinds[name], code, labels))
    return out


def _sample(y: np.ndarray, train: np.ndarray, cap: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Row indices (all fraud rows, a uniform sample of honest ones) and weights that restore
    the real prevalence within each of train and test."""
    rng = np.random.default_rng(seed)
    honest = ~y
    frac = min(1.0, cap / max(int(honest.sum()), 1))
    keep = y | (honest & (rng.random(len(y)) < frac))
    weight = np.ones(len(y))
    for part in (train, ~train):
        kept = int((keep & honest & part).sum())
        if kept:
            weight[honest & part] = (honest & part).sum() / kept
    idx = np.flatnonzero(keep)
    return idx, weight[idx]


def sample_rows(
    raw: pl.DataFrame,
    derived: pl.DataFrame,
    frame: pl.DataFrame,
    train: np.ndarray,
    seed: int,
    cap: int,
) -> tuple[Sample, list[Column], list[Column]]:
    """The sample of a table's rows, and its raw and derived feature columns."""
    y = frame["is_fraud"].fill_null(False).to_numpy()
    idx, weight = _sample(y, train, cap, seed)
    typ = frame["fraud_type"] if "fraud_type" in frame.columns else pl.Series([None] * len(y))
    typ = typ.cast(pl.String).fill_null("").to_numpy()
    customer = frame["customer_id"].fill_null(-1).to_numpy()
    sample = Sample(y[idx], weight, train[idx], typ[idx], customer[idx])
    kinds = {c: "raw" for c in raw.columns} | {c: "derived" for c in derived.columns}
    take = pl.Series(idx)
    return sample, encode(raw[take], kinds), encode(derived[take], kinds)


def _describe(col: Column, op: str, value: float) -> tuple[str, object]:
    """Readable rule text and the threshold as reported (a label for a category)."""
    if op == "is null":
        return f"{col.name} is null", None
    shown: object = col.labels[int(value)] if col.labels is not None else float(value)
    text = shown if isinstance(shown, str) else f"{value:.6g}"
    return f"{col.name} {op} {text}", shown


def _mask(x: np.ndarray, op: str, value: float) -> np.ndarray:
    if op == "is null":
        return np.isnan(x)
    with np.errstate(invalid="ignore"):  # NaN never satisfies a comparison
        return x >= value if op == ">=" else x <= value if op == "<=" else x == value


def _candidates(col: Column, s: Sample) -> list[tuple[str, float, str]]:
    """On train: the rule with the best F1 and the precise rule (train precision >= 0.9) with the
    most recall, among rules catching at least MIN_SUPPORT fraud rows."""
    x, y, w = col.values[s.train], s.y[s.train], s.weight[s.train]
    fraud_w = float((w * y).sum())
    null = np.isnan(x)
    u, inv = np.unique(x[~null], return_inverse=True)
    fw = np.bincount(inv, weights=(w * y)[~null], minlength=len(u))
    hw = np.bincount(inv, weights=(w * ~y)[~null], minlength=len(u))
    fn = np.bincount(inv, weights=y[~null].astype(np.float64), minlength=len(u))
    parts = [(2, u, fw, hw, fn)]  # op index into OPS, value, fraud weight, honest weight, rows
    if col.labels is None:
        rev = [np.cumsum(a[::-1])[::-1] for a in (fw, hw, fn)]
        parts += [(0, u, *rev), (1, u, np.cumsum(fw), np.cumsum(hw), np.cumsum(fn))]
    if null.any():
        nulls = [np.array([float(a[null].sum())]) for a in (w * y, w * ~y, y.astype(np.float64))]
        parts.append((3, np.array([np.nan]), *nulls))
    op = np.concatenate([np.full(len(p[1]), p[0]) for p in parts])
    val, tp, fp, nf = (np.concatenate([p[i] for p in parts]) for i in range(1, 5))
    ok = nf >= MIN_SUPPORT
    if not ok.any() or fraud_w <= 0:
        return []
    prec = tp / np.maximum(tp + fp, 1e-12)
    rec = tp / fraud_w
    f1 = 2 * prec * rec / np.maximum(prec + rec, 1e-12)
    picks = [("f1", int(np.argmax(np.where(ok, f1, -1))))]
    precise = ok & (prec >= PRECISE)
    if precise.any():
        picks.append(("precise", int(np.argmax(np.where(precise, rec + 1e-9 * prec, -1)))))
    return [(OPS[op[i]], float(val[i]), objective) for objective, i in picks]


def _score(mask: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[float, float, int]:
    """Weighted precision and recall of a flagged mask, and fraud rows caught."""
    tp = float((w * (mask & y)).sum())
    flagged = float((w * mask).sum())
    positives = float((w * y).sum())
    prec = tp / flagged if flagged > 0 else math.nan
    rec = tp / positives if positives > 0 else math.nan
    return prec, rec, int((mask & y).sum())


def find_rules(columns: list[Column], s: Sample, table: str) -> tuple[list[dict], list[np.ndarray]]:
    """Best one-threshold rules per feature, chosen on train and scored on test; with each
    rule's test mask (for the per-typology view)."""
    test = ~s.train
    rules, masks = [], []
    for col in columns:
        seen = set()
        for op, value, objective in _candidates(col, s):
            if (op, value) in seen:
                continue
            seen.add((op, value))
            text, shown = _describe(col, op, value)
            tr_p, tr_r, _ = _score(
                _mask(col.values[s.train], op, value), s.y[s.train], s.weight[s.train]
            )
            mask = _mask(col.values[test], op, value)
            p, r, caught = _score(mask, s.y[test], s.weight[test])
            customers = len(np.unique(s.customer[test][mask & s.y[test]]))
            f1 = 2 * p * r / (p + r) if p + r > 0 else 0.0  # NaN p: nothing flagged, 0
            rules.append(
                {
                    "table": table,
                    "feature": col.name,
                    "kind": col.kind,
                    "rule": text,
                    "op": op,
                    "threshold": shown,
                    "objective": objective,
                    "train_precision": tr_p,
                    "train_recall": tr_r,
                    "test_precision": p,
                    "test_recall": r,
                    "test_f1": f1,
                    "test_fraud_caught": caught,
                    "test_customers_caught": customers,
                }
            )
            masks.append(mask)
    order = sorted(range(len(rules)), key=lambda i: -rules[i]["test_f1"])
    return [rules[i] for i in order], [masks[i] for i in order]


def _metrics(y: np.ndarray, score: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    if y.all() or not y.any():
        return math.nan, math.nan
    return (
        float(roc_auc_score(y, score, sample_weight=w)),
        float(average_precision_score(y, score, sample_weight=w)),
    )


def fit_model(columns: list[Column], s: Sample, seed: int) -> tuple[dict, np.ndarray]:
    """HistGradientBoosting on train days; ROC AUC and AP on test days; test scores."""
    # A column without two distinct values on train teaches nothing (and an all-missing one
    # breaks the binner).
    columns = [c for c in columns if len(np.unique(c.values[s.train])) > 1]
    x = np.column_stack([c.values for c in columns]).astype(np.float32)
    cats = np.array([c.labels is not None and len(c.labels) <= MAX_CATEGORIES for c in columns])
    # Fraud rows come in a few dozen episodes: an unregularised model memorises them through
    # id-like values (one victim's income, one mule's balance) and fails on later episodes
    # (test AUC 0.70 instead of 0.999 on an account-fraud run). Small, damped trees and no
    # early stopping (its random validation split stopped one fit after 11 trees) keep the
    # raw / raw+derived comparison about the data.
    model = HistGradientBoostingClassifier(
        max_iter=100,
        learning_rate=0.05,
        max_leaf_nodes=15,
        min_samples_leaf=50,
        l2_regularization=1.0,
        categorical_features=cats if cats.any() else None,
        early_stopping=False,
        random_state=seed,
    )
    # Ranking metrics do not need the training prevalence to be real, so fewer honest rows
    # cost little accuracy and save most of the fitting time on big runs.
    rows = np.flatnonzero(s.train)
    honest = rows[~s.y[rows]]
    if len(honest) > MODEL_HONEST:
        dropped = np.random.default_rng(seed).choice(honest, len(honest) - MODEL_HONEST, False)
        rows = np.setdiff1d(rows, dropped)
    test = ~s.train
    with threadpool_limits(limits=THREADS, user_api="openmp"):
        model.fit(x[rows], s.y[rows])
        score = model.predict_proba(x[test])[:, 1]
    auc, ap = _metrics(s.y[test], score, s.weight[test])
    info = {
        "features": [c.name for c in columns],
        "roc_auc": auc,
        "average_precision": ap,
        "iterations": int(model.n_iter_),
        "train_rows": len(rows),
        "test_rows": int(test.sum()),
        "test_fraud_rows": int(s.y[test].sum()),
    }
    return info, score


def per_typology(
    s: Sample, scores: dict[str, np.ndarray], rules: list[dict], masks: list[np.ndarray]
) -> list[dict]:
    """Each typology's test fraud rows against every honest test row: model AUC/AP and the
    rule (of those found) with the best F1 on it."""
    test = ~s.train
    y, w, typ = s.y[test], s.weight[test], s.typology[test]
    honest = ~y
    out = []
    for name in sorted(set(typ[y].tolist())):
        rows = y & (typ == name)
        entry: dict = {"typology": name, "test_fraud_rows": int(rows.sum())}
        if rows.sum() < MIN_TYPOLOGY_ROWS:
            entry["note"] = f"too few test fraud rows ({int(rows.sum())})"
            out.append(entry)
            continue
        keep = honest | rows
        for label, score in scores.items():
            auc, ap = _metrics(y[keep], score[keep], w[keep])
            entry[f"{label}_roc_auc"], entry[f"{label}_average_precision"] = auc, ap
        best, best_f1 = None, 0.0
        for rule, mask in zip(rules, masks, strict=True):
            if rule["table"] != "transactions":
                continue
            p, r, _ = _score(mask[keep], rows[keep], w[keep])
            f1 = 2 * p * r / (p + r) if p + r > 0 else 0.0
            if f1 > best_f1:
                best, best_f1 = (rule["rule"], p, r), f1
        if best is not None:
            entry["best_rule"], entry["best_rule_precision"], entry["best_rule_recall"] = best
        out.append(entry)
    return out
