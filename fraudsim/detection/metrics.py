"""Detector metrics on a scored transactions table (numpy and polars only).

`frame` is an exported `transactions` table and `score` one float per row of it, in its order
(higher = more suspicious). Definitions:

- **Entity**: the card (`card_id`); a row without a card (transfers, credits) falls back to its
  account (`account_id`), so that non-card typologies (account takeover, scams) are measured too.
  A card and an account never collide: the entity is the pair (kind, id).
- **Day**: the calendar date of `timestamp` in its own time zone.
- **Daily alerts** (`daily_alerts`): each day the bank investigates `budget` entities - those
  with the highest maximum row score that day (card precision@k in the sense of the Fraud
  Detection Handbook). Ties are broken by (kind, id), deterministically and independently of
  the labels. The day's cutoff is the lowest maximum score among the alerted entities; a row is
  *alerted* when its entity is alerted that day and its score reaches the cutoff (the moment
  the alert would fire), so every alerted entity-day has at least one alerted row.
- **Fraudulent entity-day**: an entity with at least one `is_fraud` row that day.
- `recall_at_daily_budget`: alerted fraudulent entity-days / fraudulent entity-days, over all
  days pooled.
- `per_typology_recall`: the same, per `fraud_type` (an entity-day counts for every typology
  of its fraud rows), with that typology's PR-AUC against all legit rows.
- `time_to_first_alert`: per episode (its `is_fraud` rows), seconds from its first row to its
  first alerted row (null if never), and the accepted fraud amount strictly before that alert.
- `pr_auc`: average precision, `sum_n (R_n - R_{n-1}) P_n` over the distinct score thresholds
  (tied scores enter together), as scikit-learn's `average_precision_score`.
- `pr_curve`: the precision / recall pairs behind `pr_auc`, thinned for a plot.
"""

from __future__ import annotations

import numpy as np
import polars as pl

DEFAULT_BUDGET = 100
"""Entities alerted per day."""

_KEYS = ["__day", "__kind", "__key"]


def pr_auc(y: np.ndarray | pl.Series | list[bool], score: np.ndarray | pl.Series) -> float:
    """Average precision of `score` for binary labels `y` (NaN when `y` has no positive).

    Args:
        y: Labels, truthy = fraud.
        score: One finite score per label; higher = more suspicious.

    Raises:
        ValueError: On different lengths or a non-finite score.
    """
    labels = np.asarray(y).astype(bool)
    s = np.asarray(score, dtype=np.float64)
    if labels.shape != s.shape or labels.ndim != 1:
        raise ValueError(f"y and score need one value per row (got {labels.shape}, {s.shape})")
    if not np.isfinite(s).all():
        raise ValueError("score has NaN or infinite values")
    positives = int(labels.sum())
    if positives == 0:
        return float("nan")
    order = np.argsort(-s, kind="mergesort")
    s, labels = s[order], labels[order]
    last = np.r_[np.flatnonzero(np.diff(s) != 0), s.size - 1]  # end of each tie group
    tp = np.cumsum(labels)[last]
    fp = (last + 1) - tp
    precision = tp / (tp + fp)
    recall = tp / positives
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def daily_alerts(
    frame: pl.DataFrame, score: np.ndarray | pl.Series, budget: int = DEFAULT_BUDGET
) -> pl.DataFrame:
    """Per row: its day and entity, whether the entity is alerted that day, whether the row is.

    Args:
        frame: Transactions with `timestamp`, `card_id`, `account_id`.
        score: One finite score per row.
        budget: Entities alerted per day (>= 1).

    Returns:
        One row per input row, in order: `day`, `entity_kind` (`card` / `account`),
        `entity_id`, `entity_alerted`, `row_alerted`.
    """
    rows = _rows(frame, score, budget)
    return _alert(rows, _entities(rows, budget)).select(
        day="__day",
        entity_kind=pl.when(pl.col("__kind") == 0)
        .then(pl.lit("card"))
        .otherwise(pl.lit("account")),
        entity_id="__key",
        entity_alerted="__ent_alerted",
        row_alerted="__row_alerted",
    )


def recall_at_daily_budget(
    frame: pl.DataFrame, score: np.ndarray | pl.Series, budget: int = DEFAULT_BUDGET
) -> float:
    """Share of fraudulent entity-days (cards, else accounts) among the day's `budget` alerts.

    Returns:
        Alerted fraudulent entity-days / fraudulent entity-days; NaN without fraud.
    """
    entities = _entities(_rows(frame, score, budget), budget).filter(pl.col("__fraud"))
    if entities.height == 0:
        return float("nan")
    return float(entities["__ent_alerted"].sum() / entities.height)


def per_typology_recall(
    frame: pl.DataFrame, score: np.ndarray | pl.Series, budget: int = DEFAULT_BUDGET
) -> pl.DataFrame:
    """Recall at the daily budget and PR-AUC per `fraud_type` of the fraud rows.

    Returns:
        One row per typology, sorted by name: `fraud_type`, `fraud_rows`, `episodes`,
        `fraud_entity_days`, `caught_entity_days`, `recall` (caught / fraud entity-days) and
        `pr_auc` (the typology's fraud rows against every `is_fraud = false` row).
    """
    rows = _rows(frame, score, budget)
    entities = _entities(rows, budget).select(*_KEYS, "__ent_alerted")
    fraud = rows.filter(pl.col("__fraud"))
    per_entity = (
        fraud.select(*_KEYS, "fraud_type")
        .unique()
        .join(entities, on=_KEYS, how="left")
        .group_by("fraud_type")
        .agg(
            fraud_entity_days=pl.len().cast(pl.Int64),
            caught_entity_days=pl.col("__ent_alerted").sum().cast(pl.Int64),
        )
    )
    legit = rows.filter(~pl.col("__fraud"))["__score"].to_numpy()
    typologies = sorted(fraud["fraud_type"].unique().to_list(), key=lambda t: (t is None, t))
    aucs = []
    for name in typologies:
        hits = fraud.filter(pl.col("fraud_type").eq_missing(name))["__score"].to_numpy()
        labels = np.r_[np.ones(hits.size, bool), np.zeros(legit.size, bool)]
        aucs.append(pr_auc(labels, np.r_[hits, legit]))
    counts = fraud.group_by("fraud_type").agg(
        fraud_rows=pl.len().cast(pl.Int64), episodes=pl.col("episode_id").n_unique().cast(pl.Int64)
    )
    out = pl.DataFrame(
        {"fraud_type": typologies, "pr_auc": aucs},
        schema={"fraud_type": pl.String, "pr_auc": pl.Float64},
    )
    return (
        out.join(counts, on="fraud_type", how="left", nulls_equal=True)
        .join(per_entity, on="fraud_type", how="left", nulls_equal=True)
        .select(
            "fraud_type",
            "fraud_rows",
            "episodes",
            "fraud_entity_days",
            "caught_entity_days",
            recall=pl.col("caught_entity_days") / pl.col("fraud_entity_days"),
            pr_auc="pr_auc",
        )
    )


def time_to_first_alert(
    frame: pl.DataFrame, score: np.ndarray | pl.Series, budget: int = DEFAULT_BUDGET
) -> pl.DataFrame:
    """Per fraud episode: time from its first fraud row to its first alerted fraud row.

    Returns:
        One row per `episode_id` of the `is_fraud` rows, sorted by start then id:
        `episode_id`, `fraud_type`, `start`, `first_alert` (null if never), `seconds_to_alert`
        (Float64, null if never) and `amount_before_alert` (accepted fraud amount strictly
        before the first alert; everything if never alerted).
    """
    rows = _rows(frame, score, budget)
    rows = _alert(rows, _entities(rows, budget)).filter(
        pl.col("__fraud") & pl.col("episode_id").is_not_null()
    )
    first = (
        rows.group_by("episode_id")
        .agg(
            fraud_type=pl.col("fraud_type").drop_nulls().first(),
            start=pl.col("timestamp").min(),
            first_alert=pl.col("timestamp").filter(pl.col("__row_alerted")).min(),
        )
        .sort(["start", "episode_id"])
    )
    lost = (
        rows.join(first.select("episode_id", "first_alert"), on="episode_id")
        .filter(
            ~pl.col("__declined")
            & (pl.col("first_alert").is_null() | (pl.col("timestamp") < pl.col("first_alert")))
        )
        .group_by("episode_id")
        .agg(amount_before_alert=pl.col("amount").sum())
    )
    seconds = (pl.col("first_alert") - pl.col("start")).dt.total_microseconds() / 1e6
    return first.join(lost, on="episode_id", how="left", maintain_order="left").select(
        "episode_id",
        "fraud_type",
        "start",
        "first_alert",
        seconds_to_alert=seconds,
        amount_before_alert=pl.col("amount_before_alert").fill_null(0.0),
    )


# --- helpers ---------------------------------------------------------------------------------


def _rows(frame: pl.DataFrame, score: np.ndarray | pl.Series, budget: int) -> pl.DataFrame:
    """Rows with score, day, entity kind (0 card, 1 account) and key, fraud and declined flags."""
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
        raise ValueError(f"budget must be a positive integer (got {budget!r})")
    s = np.asarray(score, dtype=np.float64)
    if s.shape != (frame.height,):
        raise ValueError(f"score needs one value per row: {s.shape} for {frame.height} rows")
    if not np.isfinite(s).all():
        raise ValueError("score has NaN or infinite values")
    optional = {
        "is_fraud": pl.lit(False),
        "fraud_type": pl.lit(None, pl.String),
        "episode_id": pl.lit(None, pl.Int64),
        "is_declined": pl.lit(False),
        "amount": pl.lit(0.0),
    }
    columns = [pl.col(c) if c in frame.columns else e.alias(c) for c, e in optional.items()]
    return frame.select(
        "timestamp",
        *columns,
        __score=pl.Series(s),
        __day=pl.col("timestamp").dt.date(),
        __kind=pl.when(pl.col("card_id").is_not_null()).then(0).otherwise(1).cast(pl.Int8),
        __key=pl.coalesce("card_id", "account_id"),
    ).with_columns(
        __fraud=pl.col("is_fraud").fill_null(False),
        __declined=pl.col("is_declined").fill_null(False),
    )


def _entities(rows: pl.DataFrame, budget: int) -> pl.DataFrame:
    """Entity-days with max score, fraud flag, rank in the day and alerted flag."""
    return (
        rows.group_by(_KEYS)
        .agg(__max=pl.col("__score").max(), __fraud=pl.col("__fraud").any())
        .sort(["__day", "__max", "__kind", "__key"], descending=[False, True, False, False])
        .with_columns(__rank=pl.int_range(pl.len()).over("__day"))
        .with_columns(__ent_alerted=pl.col("__rank") < budget)
    )


def _alert(rows: pl.DataFrame, entities: pl.DataFrame) -> pl.DataFrame:
    """`rows` with `__ent_alerted` and `__row_alerted` (score >= the day's cutoff)."""
    cutoff = (
        entities.filter(pl.col("__ent_alerted")).group_by("__day").agg(__cut=pl.col("__max").min())
    )
    return (
        rows.join(
            entities.select(*_KEYS, "__ent_alerted"), on=_KEYS, how="left", maintain_order="left"
        )
        .join(cutoff, on="__day", how="left", maintain_order="left")
        .with_columns(
            __row_alerted=pl.col("__ent_alerted") & (pl.col("__score") >= pl.col("__cut"))
        )
    )


def pr_curve(
    y: np.ndarray | pl.Series, score: np.ndarray | pl.Series, points: int = 200
) -> dict[str, list[float]]:
    """Precision and recall at the distinct score thresholds, thinned to about `points` points.

    Returns:
        `{"recall": [...], "precision": [...]}` by decreasing threshold (empty without a
        positive).
    """
    labels = np.asarray(y).astype(bool)
    s = np.asarray(score, dtype=np.float64)
    positives = int(labels.sum())
    if positives == 0:
        return {"recall": [], "precision": []}
    order = np.argsort(-s, kind="mergesort")
    s, labels = s[order], labels[order]
    last = np.r_[np.flatnonzero(np.diff(s) != 0), s.size - 1]
    tp = np.cumsum(labels)[last]
    precision = tp / (last + 1)
    recall = tp / positives
    keep = np.unique(np.linspace(0, last.size - 1, min(points, last.size)).round().astype(int))
    return {"recall": recall[keep].tolist(), "precision": precision[keep].tolist()}
