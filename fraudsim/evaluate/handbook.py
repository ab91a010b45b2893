"""A peer's baseline on a run: the ULB Fraud Detection Handbook's features, split and models.

Le Borgne et al., *Reproducible Machine Learning for Credit Card Fraud Detection - Practical
Handbook* (ULB / Worldline), chapters 3-5: per transaction, the amount, weekend and night flags,
the customer's number of transactions and mean amount over 1, 7 and 30 days (the current one
included), and the terminal's number of transactions and fraud risk over 1, 7 and 30 days ending
a 7-day delay before the transaction (labels are known a week late). Train on 7 days, leave 7
days out (the delay), test on the next 7; cards known to be compromised before the test week
are left out of it. The published figures on real Worldline e-commerce data sit beside ours in the
README.

Our mapping: `customer_id` is the Handbook's customer, `merchant_id` its terminal (an online
purchase has no terminal), and the rows are the run's online card purchases (attempts, declined
included: the bank scores each authorisation).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from fraudsim.core.errors import FraudsimError

WINDOWS_DAYS = (1, 7, 30)
DELAY_DAYS = 7
FEATURES = (
    "amount",
    "during_weekend",
    "during_night",
    *(f"customer_nb_tx_{w}d" for w in WINDOWS_DAYS),
    *(f"customer_avg_amount_{w}d" for w in WINDOWS_DAYS),
    *(f"terminal_nb_tx_{w}d" for w in WINDOWS_DAYS),
    *(f"terminal_risk_{w}d" for w in WINDOWS_DAYS),
)
# Published figures for comparison: the Handbook's chapter 3 "Real-world data" (Worldline
# e-commerce transactions, Belgium 2018, ~400,000 a day, ~0.25% fraud, ~3 fraud transactions per
# compromised card a day): ROC AUC 0.79-0.90 over its five models, average precision ~0.035, and
# a card precision@100 of 0.15 for logistic regression, the best model on that metric.
PUBLISHED = {
    "real Worldline e-commerce (~0.25% fraud)": {
        "auc": (0.79, 0.90),
        "ap": (0.035, 0.035),
        "cp@100": 0.15,
    },
}


@dataclass
class HandbookResult:
    """Per model: ROC AUC, average precision and card precision at 100 on the test week."""

    rows: dict[str, int]
    fraud_share: dict[str, float]
    models: dict[str, dict[str, float]] = field(default_factory=dict)
    train_start: dt.date | None = None


def online_purchases(run_dir: Path) -> pl.DataFrame:
    """The run's online card purchases, with the columns the Handbook's features need."""
    path = Path(run_dir) / "transactions.parquet"
    if not path.exists():
        raise FraudsimError(f"{path}: no transactions (is {run_dir} a fraudsim run directory?)")
    source = path / "*.parquet" if path.is_dir() else path
    return (
        pl.scan_parquet(source)
        .filter((pl.col("channel") == "cnp") & (pl.col("tx_type") == "purchase"))
        .select("timestamp", "customer_id", "merchant_id", "amount", "is_fraud")
        .sort("timestamp")
        .collect()
    )


def handbook_features(tx: pl.DataFrame) -> pl.DataFrame:
    """The Handbook's 15 features for each row of `tx` (sorted by time), plus its label and day."""
    tx = tx.sort("timestamp").with_columns(
        pl.col("timestamp").dt.replace_time_zone(None).alias("ts"),
        pl.col("is_fraud").cast(pl.Int64).alias("fraud"),
        pl.lit(1, pl.Int64).alias("one"),
    )
    out = tx.with_columns(
        (pl.col("ts").dt.weekday() >= 6).cast(pl.Int8).alias("during_weekend"),
        (pl.col("ts").dt.hour() <= 6).cast(pl.Int8).alias("during_night"),
        pl.col("ts").dt.date().alias("day"),
    )
    for w in WINDOWS_DAYS:
        # the customer's own window, current transaction included (as in the Handbook)
        out = out.with_columns(
            pl.col("amount")
            .rolling_mean_by("ts", window_size=f"{w}d")
            .over("customer_id")
            .alias(f"customer_avg_amount_{w}d"),
            pl.col("one")
            .rolling_sum_by("ts", window_size=f"{w}d")
            .over("customer_id")
            .alias(f"customer_nb_tx_{w}d"),
        )
    # Terminal counts over (t - delay - w, t - delay]: a window of delay + w minus one of delay.
    for name, col in (("nb_tx", pl.col("one")), ("nb_fraud", pl.col("fraud"))):
        out = out.with_columns(
            col.rolling_sum_by("ts", window_size=f"{DELAY_DAYS}d")
            .over("merchant_id")
            .alias(f"_{name}_delay")
        )
        for w in WINDOWS_DAYS:
            out = out.with_columns(
                (
                    col.rolling_sum_by("ts", window_size=f"{DELAY_DAYS + w}d").over("merchant_id")
                    - pl.col(f"_{name}_delay")
                ).alias(f"_{name}_{w}d")
            )
    for w in WINDOWS_DAYS:
        nb = pl.col(f"_nb_tx_{w}d")
        out = out.with_columns(
            nb.alias(f"terminal_nb_tx_{w}d"),
            pl.when(nb > 0)
            .then(pl.col(f"_nb_fraud_{w}d") / nb)
            .otherwise(0.0)
            .alias(f"terminal_risk_{w}d"),
        )
    return out.select("ts", "day", "customer_id", *FEATURES, "fraud")


def split(
    features: pl.DataFrame, start: dt.date, days: int = 7, delay: int = DELAY_DAYS
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Train on [start, start+days), test on [start+days+delay, +days); customers known to be
    defrauded in the training week are left out of the test week (the Handbook's rule)."""
    train_end = start + dt.timedelta(days=days)
    test_start = train_end + dt.timedelta(days=delay)
    test_end = test_start + dt.timedelta(days=days)
    train = features.filter((pl.col("day") >= start) & (pl.col("day") < train_end))
    known = train.filter(pl.col("fraud") == 1)["customer_id"].unique()
    test = features.filter(
        (pl.col("day") >= test_start)
        & (pl.col("day") < test_end)
        & ~pl.col("customer_id").is_in(known.implode())
    )
    return train, test


def card_precision_top_k(test: pl.DataFrame, scores: np.ndarray, k: int = 100) -> float:
    """Mean over test days of the share of truly compromised customers among the k customers
    with the highest score that day (the Handbook's CP@k)."""
    frame = test.select("day", "customer_id", "fraud").with_columns(pl.Series("score", scores))
    per_day = frame.group_by("day", "customer_id").agg(pl.max("score"), pl.max("fraud"))
    shares = []
    for (_,), day in per_day.partition_by("day", as_dict=True).items():
        top = day.sort("score", descending=True).head(k)
        shares.append(float(top["fraud"].sum()) / k)
    return float(np.mean(shares)) if shares else float("nan")


def handbook_baseline(run_dir: Path, start: dt.date | None = None, seed: int = 0) -> HandbookResult:
    """Run the Handbook's baseline on a run directory: logistic regression, a random forest and
    gradient boosting (sklearn's histogram GBM standing in for XGBoost) on the 7+7+7 split.

    `start` defaults to the earliest day that leaves 30 days of history before the test week
    when the run is long enough, else the first day with a full 21 days after it.
    """
    tx = online_purchases(run_dir)
    if tx.height == 0:
        raise FraudsimError(f"{run_dir}: no online card purchases to evaluate")
    features = handbook_features(tx)
    first, last = features["day"].min(), features["day"].max()
    if start is None:
        latest = last - dt.timedelta(days=20)
        start = min(first + dt.timedelta(days=16), latest) if latest >= first else first
    train, test = split(features, start)
    result = HandbookResult(
        rows={"train": train.height, "test": test.height},
        fraud_share={
            "train": float(train["fraud"].mean() or 0.0),
            "test": float(test["fraud"].mean() or 0.0),
        },
        train_start=start,
    )
    if train["fraud"].sum() < 2 or test["fraud"].sum() < 2 or test["fraud"].min() == 1:
        raise FraudsimError(
            f"{run_dir}: too few fraud rows for the 7+7+7 protocol from {start} "
            f"(train {train['fraud'].sum()}, test {test['fraud'].sum()}); run more days or "
            "customers"
        )
    x_train, y_train = train.select(FEATURES).to_numpy(), train["fraud"].to_numpy()
    x_test, y_test = test.select(FEATURES).to_numpy(), test["fraud"].to_numpy()
    models = {
        "logistic regression": make_pipeline(
            StandardScaler(), LogisticRegression(max_iter=1000, random_state=seed)
        ),
        "random forest": RandomForestClassifier(
            n_estimators=100, max_depth=20, n_jobs=-1, random_state=seed
        ),
        "gradient boosting": HistGradientBoostingClassifier(random_state=seed),
    }
    for name, model in models.items():
        model.fit(x_train, y_train)
        scores = model.predict_proba(x_test)[:, 1]
        result.models[name] = {
            "auc": float(roc_auc_score(y_test, scores)),
            "ap": float(average_precision_score(y_test, scores)),
            "cp@100": card_precision_top_k(test, scores),
        }
    return result


def markdown_table(result: HandbookResult, label: str) -> str:
    """The README's table: our run next to the published figures."""
    lines = [
        "| data | model | ROC AUC | average precision | CP@100 |",
        "|---|---|---|---|---|",
    ]
    for name, m in result.models.items():
        lines.append(f"| {label} | {name} | {m['auc']:.3f} | {m['ap']:.3f} | {m['cp@100']:.3f} |")
    for data, figures in PUBLISHED.items():
        auc, ap = figures["auc"], figures["ap"]
        ap_text = f"{ap[0]:.3f}" if ap[0] == ap[1] else f"{ap[0]:.2f}-{ap[1]:.2f}"
        lines.append(
            f"| {data} | published | {auc[0]:.2f}-{auc[1]:.2f} | {ap_text} | "
            f"{figures['cp@100']:.2f} (logistic regression) |"
        )
    return "\n".join(lines)
