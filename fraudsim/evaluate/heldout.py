"""Per-typology recall that does not depend on the other fraud in the world (seen vs unseen).

`metrics.per_typology_recall` shares one daily alert budget among all the fraud of a world: in
an oversampled world (2% fraud rows, more fraudulent entity-days a day than alerts) it measures
how fraud types rank against *each other*, and every typology's recall is capped by the budget.
That hides the held-out gap. Here each fraudulent entity-day meets only the honest traffic:

- **Isolated rank**: for a fraudulent entity-day of typology `T` (its max score over its honest
  rows and its `T` rows), the number of honest entity-days that day (entities without any fraud
  row) with a score at least as high (ties count against the fraud). It is *caught at budget
  `b`* when that number is below `b`: it would be among the day's `b` alerts were it the only
  fraud of the day. This is card precision@k per typology, free of other typologies' prevalence.
- **Episode recall**: an episode is caught *on its first day* at `b` when one of its
  fraudulent entity-days on the first day it shows is; *ever* when any of them is. One episode
  counts once, however many rows or days it has (laundering rings have many). First-day recall
  is the headline: a multi-week episode meets the budget on many days and is nearly always
  caught some day, which says little about the money it took before.
- **Typology key**: `fraud_type`, plus ` [label]` for a scenario's variant label (episodes).
- **Class**: `seen` (the key occurs as fraud in training), `variant` (the typology occurs in
  training but not with this label: shifted parameters), `unseen` (the typology never does).
- Intervals: Wilson 95% per typology; for a macro average over typologies, a bootstrap that
  resamples each typology's episodes (binomial draws), percentiles 2.5 / 97.5.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl

from fraudsim.typologies import registry

BUDGETS = (10, 25, 50, 100, 200, 400, 1000)
"""Daily alert budgets of the recall-vs-budget curves."""

MIN_EPISODES = 5
"""A typology enters a macro average only with at least this many episodes."""

CLASSES = ("seen", "variant", "unseen")
_ED = ["__day", "__kind", "__key"]


def typology_key(tx: pl.DataFrame, episodes: pl.DataFrame | None = None) -> pl.Series:
    """Per row: `fraud_type`, with ` [label]` appended for an episode's variant label."""
    typ = tx["fraud_type"] if "fraud_type" in tx.columns else pl.repeat(None, tx.height, pl.String)
    if episodes is None or "label" not in episodes.columns or "episode_id" not in tx.columns:
        return typ.alias("typology")
    labels = episodes.select("episode_id", __label="label").unique("episode_id")
    joined = tx.select("episode_id", "fraud_type").join(
        labels, on="episode_id", how="left", maintain_order="left"
    )
    key = pl.when(pl.col("__label").is_not_null()).then(
        pl.col("fraud_type") + pl.lit(" [") + pl.col("__label") + pl.lit("]")
    )
    return joined.select(key.otherwise(pl.col("fraud_type")).alias("typology"))["typology"]


def classify(key: str | None, seen_keys: set[str]) -> str:
    """`seen`, `variant` or `unseen` of one typology key against the training keys."""
    if key is None:
        return "unseen"
    if key in seen_keys:
        return "seen"
    base = key.split(" [", 1)[0]
    return "variant" if any(k.split(" [", 1)[0] == base for k in seen_keys) else "unseen"


def isolated_ranks(tx: pl.DataFrame, score: np.ndarray, typology: pl.Series) -> pl.DataFrame:
    """Fraudulent (entity-day, typology) pairs and their isolated rank among honest entity-days.

    Args:
        tx: Transactions (`timestamp`, `card_id`, `account_id`, `is_fraud`, `episode_id`).
        score: One finite score per row.
        typology: Typology key per row (`typology_key`).

    Returns:
        One row per fraudulent (day, entity, typology): `day`, `entity`, `typology`,
        `legit_ahead` (honest entity-days that day scoring at least as high), `episode_ids`.
    """
    rows = tx.select(
        __day=pl.col("timestamp").dt.date(),
        __kind=pl.when(pl.col("card_id").is_not_null()).then(0).otherwise(1).cast(pl.Int8),
        __key=pl.coalesce("card_id", "account_id"),
        __fraud=pl.col("is_fraud").fill_null(False),
        __episode=pl.col("episode_id"),
        __score=pl.Series(np.asarray(score, dtype=np.float64)),
        __typ=typology,
    )
    per_ed = rows.group_by(_ED).agg(
        __fraud_any=pl.col("__fraud").any(),
        __legit_max=pl.col("__score").filter(~pl.col("__fraud")).max(),
    )
    legit = per_ed.filter(~pl.col("__fraud_any")).select(
        "__day", __s="__legit_max", __is_legit=pl.lit(1, pl.Int64)
    )
    fraud = (
        rows.filter(pl.col("__fraud"))
        .group_by([*_ED, "__typ"])
        .agg(__tmax=pl.col("__score").max(), episode_ids=pl.col("__episode").drop_nulls().unique())
        .join(per_ed.select(*_ED, "__legit_max"), on=_ED, how="left")
        .with_columns(
            __s=pl.max_horizontal("__tmax", "__legit_max"), __is_legit=pl.lit(0, pl.Int64)
        )
        .with_row_index("__id")
    )
    # Honest entries sort before fraud entries of the same score: ties count against the fraud.
    ranked = (
        pl.concat(
            [
                legit.with_columns(__id=pl.lit(None, pl.UInt32)),
                fraud.select("__day", "__s", "__is_legit", "__id"),
            ],
            how="diagonal_relaxed",
        )
        .sort(["__day", "__s", "__is_legit"], descending=[False, True, True])
        .with_columns(legit_ahead=pl.col("__is_legit").cum_sum().over("__day"))
        .filter(pl.col("__is_legit") == 0)
        .select("__id", "legit_ahead")
    )
    return fraud.join(ranked, on="__id", how="left").select(
        day="__day",
        entity=pl.format("{}:{}", "__kind", "__key"),
        typology="__typ",
        legit_ahead="legit_ahead",
        episode_ids="episode_ids",
    )


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float | None, float | None]:
    """Wilson score interval of a binomial proportion k / n (None, None when n = 0)."""
    if n == 0:
        return None, None
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def per_typology(ranks: pl.DataFrame, budget: int) -> pl.DataFrame:
    """Isolated recall at `budget`, per typology key.

    Returns:
        Sorted by typology: `typology`, `episodes`, `first_day_caught` and `first_day_recall`
        (episodes caught on their first fraudulent day), `episodes_caught` and
        `episode_recall` (caught on any day), `fraud_entity_days`, `entity_days_caught`,
        `entity_day_recall`.
    """
    caught = pl.col("legit_ahead") < budget
    ed = ranks.group_by("typology").agg(
        fraud_entity_days=pl.len().cast(pl.Int64),
        entity_days_caught=caught.sum().cast(pl.Int64),
    )
    first_day = pl.col("day") == pl.col("day").min()
    ep = (
        ranks.explode("episode_ids")
        .drop_nulls("episode_ids")
        .group_by("typology", "episode_ids")
        .agg(
            __any=pl.col("legit_ahead").min() < budget,
            __first=pl.col("legit_ahead").filter(first_day).min() < budget,
        )
        .group_by("typology")
        .agg(
            episodes=pl.len().cast(pl.Int64),
            first_day_caught=pl.col("__first").sum().cast(pl.Int64),
            episodes_caught=pl.col("__any").sum().cast(pl.Int64),
        )
    )
    return (
        ed.join(ep, on="typology", how="left")
        .with_columns(pl.col("episodes", "first_day_caught", "episodes_caught").fill_null(0))
        .select(
            "typology",
            "episodes",
            "first_day_caught",
            first_day_recall=pl.col("first_day_caught") / pl.col("episodes"),
            episodes_caught="episodes_caught",
            episode_recall=pl.col("episodes_caught") / pl.col("episodes"),
            fraud_entity_days="fraud_entity_days",
            entity_days_caught="entity_days_caught",
            entity_day_recall=pl.col("entity_days_caught") / pl.col("fraud_entity_days"),
        )
        .sort("typology")
    )


def budget_curve(ranks: pl.DataFrame, budgets: tuple[int, ...] = BUDGETS) -> list[dict]:
    """`per_typology` counts at each budget: dicts with `budget` and the counts of each key."""
    keep = ["typology", "episodes", "first_day_caught", "fraud_entity_days", "entity_days_caught"]
    return [
        {"budget": b, **row}
        for b in budgets
        for row in per_typology(ranks, b).select(keep).to_dicts()
    ]


def macro(
    rows: list[dict],
    caught: str = "first_day_caught",
    total: str = "episodes",
    seed: int = 0,
    draws: int = 2000,
) -> dict:
    """Macro-averaged recall of typology rows, with a bootstrap 95% interval.

    Args:
        rows: Dicts with the `total` and `caught` counts; those with fewer than `MIN_EPISODES`
            episodes are left out (and counted).
        caught: `first_day_caught`, `episodes_caught` or `entity_days_caught`.
        total: `episodes` or `fraud_entity_days`.

    Returns:
        `typologies`, `episodes`, `macro_recall`, `low`, `high`, `left_out` (too few episodes).
    """
    used = [r for r in rows if (r["episodes"] or 0) >= MIN_EPISODES]
    out = {
        "typologies": len(used),
        "episodes": sum(r["episodes"] for r in used),
        total: sum(r[total] for r in used),
        "left_out": len(rows) - len(used),
        "macro_recall": None,
        "low": None,
        "high": None,
    }
    if not used:
        return out
    n = np.array([r[total] for r in used])
    p = np.array([r[caught] for r in used]) / n
    rng = np.random.default_rng(seed)
    boot = (rng.binomial(n, p, size=(draws, n.size)) / n).mean(axis=1)
    out.update(
        macro_recall=float(p.mean()),
        low=float(np.percentile(boot, 2.5)),
        high=float(np.percentile(boot, 97.5)),
    )
    return out


def weekly(ranks: pl.DataFrame, start: object, budget: int) -> pl.DataFrame:
    """Isolated entity-day recall per week (from `start`) and typology: drift over time."""
    return (
        ranks.with_columns(
            week=((pl.col("day") - pl.lit(start)).dt.total_days() // 7).cast(pl.Int32)
        )
        .group_by("week", "typology")
        .agg(
            fraud_entity_days=pl.len().cast(pl.Int64),
            caught=(pl.col("legit_ahead") < budget).sum().cast(pl.Int64),
        )
        .with_columns(recall=pl.col("caught") / pl.col("fraud_entity_days"))
        .sort("week", "typology")
    )


def family(key: str | None) -> str:
    """The registry family of a typology key (`card`, `account`, `aml`...), `other` if unknown."""

    if key is None:
        return "other"
    try:
        return str(registry.get(key.split(" [", 1)[0]).family)
    except Exception:  # a plugin that is not installed here, or no typology at all
        return "other"


def summarise(entries: list[dict], seen_keys: set[str], budget: int) -> dict:
    """The suite's held-out summary from each entry's `isolated` rows and budget curves.

    Each typology key pools its episodes over the entries; the macro averages are over keys.

    Returns:
        `typologies` (pooled rows with class, family, Wilson interval), `by_class` and
        `by_family` (first-day episode recall and entity-day recall, macro, bootstrap
        interval), `budget_curve` (macro first-day recall per class per budget), `gap`
        (seen minus unseen) and `clearly_lower` (the two intervals do not overlap).
    """
    counts = ("episodes", "first_day_caught", "fraud_entity_days", "entity_days_caught")
    pooled: dict[str, dict] = {}
    for entry in entries:
        for row in entry["isolated"]:
            acc = pooled.setdefault(
                row["typology"],
                {"typology": row["typology"], "entries": [], **dict.fromkeys(counts, 0)},
            )
            acc["entries"].append(entry["label"])
            for c in counts:
                acc[c] += row[c] or 0
    rows = []
    for key in sorted(pooled):
        r = pooled[key]
        low, high = wilson(r["first_day_caught"], r["episodes"])
        rows.append(
            {
                **r,
                "class": classify(key, seen_keys),
                "family": family(key),
                "first_day_recall": r["first_day_caught"] / r["episodes"]
                if r["episodes"]
                else None,
                "first_day_low": low,
                "first_day_high": high,
                "entity_day_recall": r["entity_days_caught"] / r["fraud_entity_days"]
                if r["fraud_entity_days"]
                else None,
            }
        )

    def both(subset: list[dict]) -> dict:
        return {
            "first_day": macro(subset),
            "entity_day": macro(subset, "entity_days_caught", "fraud_entity_days"),
        }

    by_class = {c: both([r for r in rows if r["class"] == c]) for c in CLASSES}
    families = sorted({r["family"] for r in rows})
    by_family = {
        f: {c: both([r for r in rows if r["family"] == f and r["class"] == c]) for c in CLASSES}
        for f in families
    }
    curve: dict[int, dict[str, dict]] = {}
    for entry in entries:
        for row in entry["budget_curve"]:
            acc = curve.setdefault(row["budget"], {}).setdefault(
                row["typology"], dict.fromkeys(counts, 0)
            )
            for c in counts:
                acc[c] += row[c] or 0
    budget_rows = []
    for b in sorted(curve):
        keyed = [{"typology": k, **v} for k, v in curve[b].items()]
        for c in CLASSES:
            m = macro([r for r in keyed if classify(r["typology"], seen_keys) == c])
            budget_rows.append({"budget": b, "class": c, **m})
    seen, unseen = by_class["seen"]["first_day"], by_class["unseen"]["first_day"]
    gap = clearly = None
    if seen["macro_recall"] is not None and unseen["macro_recall"] is not None:
        gap = seen["macro_recall"] - unseen["macro_recall"]
        clearly = unseen["high"] < seen["low"]
    return {
        "budget": budget,
        "measure": (
            "isolated first-day episode recall: an episode is caught when, on the first day it "
            "shows, one of its cards/accounts would be among the day's top `budget` honest "
            "entities; macro-averaged over typologies with at least "
            f"{MIN_EPISODES} episodes, bootstrap 95% interval"
        ),
        "typologies": rows,
        "by_class": by_class,
        "by_family": by_family,
        "budget_curve": budget_rows,
        "gap_seen_minus_unseen": gap,
        "clearly_lower": clearly,
    }
