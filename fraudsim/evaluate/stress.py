"""`fraudsim stress`: train a detector on one world, score it on each scenario of a suite.

A suite is a TOML file:

```toml
name = "default"
description = "..."

[[entries]]
scenario = "../novel_attacks.toml"   # relative to the suite file
label = "unseen"
overrides = { seed = 7 }             # optional, ScenarioConfig.with_overrides (dotted keys ok)
```

`run_stress` simulates the training scenario, fits the detector on its transactions, then per
entry simulates the scenario, scores it and reports:

- at the real daily alert budget (`fraudsim.detection.metrics`, all fraud competing): PR-AUC and
  its curve, recall, per typology key (`heldout.typology_key`: variants keep their label) the
  recall, time to first alert and money lost before it, and customer friction;
- the held-out measurement (`fraudsim.evaluate.heldout`): per typology key its class (seen,
  variant, unseen), isolated first-day episode recall and entity-day recall, recall against the
  budget, and per week (drift);
- breakdowns of recall and friction by customer segment and channel
  (`fraudsim.evaluate.breakdown`);
- optionally the detector on a user's real labelled table (`fraudsim.evaluate.validate`).

The suite summary pools each typology over the entries (`heldout.summarise`). A report may
carry `rounds` (detector-in-the-loop rounds, `fraudsim.evaluate.rounds`): `render_html` renders
its `html` fragment when present. `report.json` and a self-contained `report.html` (plots
embedded) are written to `out_dir`.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from fraudsim.api import simulate
from fraudsim.config.scenario import load_scenario
from fraudsim.core.errors import ConfigError, OutputError, format_validation_error
from fraudsim.core.files import json_safe as _clean
from fraudsim.core.files import write_text_atomic as _atomic_write
from fraudsim.core.tomlfile import one_line, read_toml
from fraudsim.detection.detectors import load_detector
from fraudsim.detection.metrics import (
    daily_alerts,
    per_typology_recall,
    pr_auc,
    pr_curve,
    recall_at_daily_budget,
    time_to_first_alert,
)
from fraudsim.evaluate import heldout
from fraudsim.evaluate.breakdown import breakdowns
from fraudsim.evaluate.stress_html import render_html
from fraudsim.evaluate.validate import evaluate_real, read_real


class SuiteEntry(BaseModel):
    """One scenario of a suite."""

    model_config = ConfigDict(extra="forbid")

    scenario: str = Field(min_length=1)
    """Scenario file, relative to the suite file (or absolute)."""
    label: str = Field(min_length=1)
    overrides: dict[str, Any] = {}
    """Passed to `ScenarioConfig.with_overrides` (dotted keys allowed)."""


class Suite(BaseModel):
    """A named list of scenarios to evaluate a detector on."""

    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    entries: list[SuiteEntry] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_labels(self) -> Suite:
        labels = [e.label for e in self.entries]
        dupes = sorted({x for x in labels if labels.count(x) > 1})
        if dupes:
            raise ValueError(f"entry labels must be unique (repeated: {', '.join(dupes)})")
        return self


def load_suite(path: str | Path) -> Suite:
    """Read and validate a suite TOML file; any problem is one ConfigError line naming it."""
    path = Path(path)
    label = str(path)
    data = read_toml(path, "suite")
    if "name" not in data:
        data = {"name": path.stem, **data}
    try:
        return Suite.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(one_line(format_validation_error(label, exc, Suite))) from None


# --- running ---------------------------------------------------------------------------------


def _size_overrides(customers: int | None, days: int | None) -> dict[str, Any]:
    return {"population.customers": customers, "days": days}


def _recall_of(rows: list[dict[str, Any]]) -> float | None:
    """Pooled recall of per-typology rows (caught / fraud entity-days), None without any."""
    total = sum(r["fraud_entity_days"] or 0 for r in rows)
    caught = sum(r["caught_entity_days"] or 0 for r in rows)
    return caught / total if total else None


def _weekly(tx: pl.DataFrame, score: np.ndarray, budget: int, start: Any) -> list[dict]:
    """Recall at the real budget per week from `start` (all fraud competing)."""
    alerts = daily_alerts(tx, score, budget=budget).with_columns(
        fraud=tx["is_fraud"].fill_null(False)
    )
    ed = alerts.group_by("day", "entity_kind", "entity_id").agg(
        pl.col("fraud").any(), pl.col("entity_alerted").first()
    )
    week = ((pl.col("day") - pl.lit(start)).dt.total_days() // 7).cast(pl.Int32)
    return (
        ed.filter("fraud")
        .group_by(week.alias("week"))
        .agg(
            fraud_entity_days=pl.len().cast(pl.Int64),
            caught=pl.col("entity_alerted").sum().cast(pl.Int64),
        )
        .with_columns(recall=pl.col("caught") / pl.col("fraud_entity_days"))
        .sort("week")
        .to_dicts()
    )


def evaluate_frame(
    tx: pl.DataFrame,
    score: np.ndarray,
    seen: set[str],
    budget: int,
    episodes: pl.DataFrame | None = None,
    customers: pl.DataFrame | None = None,
) -> dict[str, Any]:
    """The metrics of one scored transactions table (see the module docstring).

    Args:
        tx: Transactions.
        score: One finite score per row.
        seen: Typology keys seen as fraud in training (`heldout.typology_key`).
        budget: Entities alerted per day.
        episodes: The world's episodes (variant labels); without it keys are `fraud_type`.
        customers: The world's customers (segment breakdowns); without it, channel only.
    """
    fraud = tx["is_fraud"].fill_null(False)
    key = heldout.typology_key(tx, episodes)
    keyed = tx.with_columns(fraud_type=key)
    typ = per_typology_recall(keyed, score, budget=budget)
    ttfa = time_to_first_alert(keyed, score, budget=budget)
    per_episode = ttfa.group_by("fraud_type").agg(
        episodes_alerted=pl.col("first_alert").is_not_null().sum().cast(pl.Int64),
        median_seconds_to_alert=pl.col("seconds_to_alert").drop_nulls().median(),
        share_never_alerted=pl.col("first_alert").is_null().mean(),
        money_lost_before_alert=pl.col("amount_before_alert").sum(),
    )
    ranks = heldout.isolated_ranks(tx, score, key)
    isolated = heldout.per_typology(ranks, budget)
    iso_cols = isolated.select(
        fraud_type="typology",
        first_day_recall="first_day_recall",
        entity_day_recall="entity_day_recall",
    )
    typ = (
        typ.join(per_episode, on="fraud_type", how="left", nulls_equal=True)
        .join(iso_cols, on="fraud_type", how="left", nulls_equal=True)
        .with_columns(
            seen=pl.col("fraud_type").is_in(sorted(seen)).fill_null(False),
            **{
                "class": pl.col("fraud_type").map_elements(
                    lambda k: heldout.classify(k, seen), return_dtype=pl.String
                )
            },
        )
    )
    alerts = daily_alerts(tx, score, budget=budget)
    legit = ~fraud
    n_legit = int(legit.sum())
    alerted = alerts["entity_alerted"].fill_null(False) & legit
    declined = alerts["row_alerted"].fill_null(False) & legit
    rows = typ.to_dicts()
    start = tx["timestamp"].min().date() if tx.height else None
    labels = fraud.to_numpy()
    days = alerts["day"].n_unique()
    entity_days = alerts.select("day", "entity_kind", "entity_id").n_unique()
    return {
        "transactions": tx.height,
        "fraud_rows": int(fraud.sum()),
        "fraud_share": float(fraud.mean()) if tx.height else None,
        "entities_per_day": entity_days / days if days else None,
        "episodes": ttfa.height,
        "pr_auc": pr_auc(labels, score) if fraud.any() else float("nan"),
        "pr_curve": pr_curve(labels, score),
        "recall_at_budget": recall_at_daily_budget(tx, score, budget=budget),
        "recall_seen": _recall_of([r for r in rows if r["seen"]]),
        "recall_unseen": _recall_of([r for r in rows if not r["seen"]]),
        "money_lost_before_alert": float(ttfa["amount_before_alert"].sum()),
        "customer_friction": int(alerted.sum()) / n_legit if n_legit else float("nan"),
        "legit_declined": int(declined.sum()) / n_legit if n_legit else float("nan"),
        "typologies": rows,
        "isolated": isolated.to_dicts(),
        "budget_curve": heldout.budget_curve(ranks),
        "weekly": _weekly(tx, score, budget, start) if start else [],
        "weekly_isolated": [
            {**r, "class": heldout.classify(r["typology"], seen)}
            for r in (heldout.weekly(ranks, start, budget).to_dicts() if start else [])
        ],
        "breakdowns": breakdowns(tx, score, budget, customers),
    }


def _check_score(detector: str, score: np.ndarray, rows: int) -> np.ndarray:
    score = np.asarray(score, dtype=np.float64)
    if score.shape != (rows,) or not np.isfinite(score).all():
        raise ConfigError(
            f"detector {detector!r}: score must give one finite float per row "
            f"(got shape {score.shape} for {rows} rows)"
        )
    return score


def run_stress(
    detector: str,
    train: str | Path,
    suite: str | Path,
    out_dir: Path,
    customers: int | None = None,
    days: int | None = None,
    budget: int = 100,
    validate: dict[str, Any] | None = None,
    rounds: Callable[..., dict] | None = None,
) -> dict:
    """Train `detector` on the `train` scenario, evaluate it on every entry of `suite`.

    Args:
        detector: `rules`, `gbm` or `package.module:factory` (see `load_detector`).
        train: Training scenario file.
        suite: Suite TOML file.
        out_dir: Where `report.json` and `report.html` are written (created if needed).
        customers: Override the population size of every scenario.
        days: Override the number of days of every scenario.
        budget: Entities (cards, else accounts) alerted per day.
        validate: Keyword arguments of `fraudsim.evaluate.validate.read_real` (`path`,
            `columns`, `time_origin`): also score the detector on that real labelled table.
        rounds: Called as `rounds(model, train_config, budget)` after the suite; its dict
            (detector-in-the-loop rounds, with an optional `html` fragment) becomes
            `report["rounds"]`.

    Returns:
        The report (also written as `report.json`).

    Raises:
        ConfigError: One line, on a bad suite, scenario, override, detector or real table.
        OutputError: When the report cannot be written.
    """

    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
        raise ConfigError(f"budget must be a positive integer (got {budget!r})")
    started = time.perf_counter()
    load_start = os.getloadavg()[0]
    suite_path = Path(suite)
    spec = load_suite(suite_path)
    size = _size_overrides(customers, days)
    train_config = load_scenario(train).with_overrides(**size)
    configs = []
    for entry in spec.entries:  # validate every entry before the (slow) simulations
        path = suite_path.parent / entry.scenario
        config = load_scenario(path).with_overrides(**entry.overrides).with_overrides(**size)
        configs.append((entry, path, config))
    model = load_detector(detector)
    real = None
    if validate is not None:  # read (and refuse) the real table before the simulations too
        real = read_real(**validate)

    timings: dict[str, float] = {}
    tick = time.perf_counter()
    train_data = simulate(train_config)
    train_tx = train_data.transactions
    timings["simulate_train"] = time.perf_counter() - tick
    # Seen = labelled as fraud somewhere in training (look-alikes and friendly fraud are not).
    is_fraud = train_tx["is_fraud"].fill_null(False)
    train_keys = heldout.typology_key(train_tx, train_data.tables.get("episodes"))
    seen = set(train_keys.filter(is_fraud).drop_nulls().unique().to_list())
    tick = time.perf_counter()
    try:
        model.fit(train_tx)
    except ConfigError as exc:
        raise ConfigError(
            one_line(
                f"training on {train_config.name!r} ({train_config.population.customers} "
                f"customers x {train_config.days} days): {exc}; try more customers or days"
            )
        ) from None
    timings["fit"] = time.perf_counter() - tick

    entries = []
    for entry, path, config in configs:
        tick = time.perf_counter()
        data = simulate(config)
        tx = data.transactions
        timings[f"simulate {entry.label}"] = time.perf_counter() - tick
        tick = time.perf_counter()
        score = _check_score(detector, model.score(tx), tx.height)
        timings[f"score {entry.label}"] = time.perf_counter() - tick
        tick = time.perf_counter()
        metrics = evaluate_frame(
            tx, score, seen, budget, data.tables.get("episodes"), data.tables.get("customers")
        )
        timings[f"metrics {entry.label}"] = time.perf_counter() - tick
        entries.append(
            {
                "label": entry.label,
                "scenario": str(path),
                "scenario_name": config.name,
                "overrides": entry.overrides,
                "start_date": config.start_date,
                **metrics,
            }
        )

    report: dict[str, Any] = {
        "detector": detector,
        "train": {
            "scenario": str(train),
            "scenario_name": train_config.name,
            "transactions": train_tx.height,
            "fraud_rows": int(is_fraud.sum()),
            "seen_typologies": sorted(seen),
        },
        "suite": {"name": spec.name, "description": spec.description, "path": str(suite)},
        "budget": budget,
        "customers": customers,
        "days": days,
        "summary": _summary(entries),
        "held_out": heldout.summarise(entries, seen, budget),
        "entries": entries,
    }
    if real is not None:
        tick = time.perf_counter()
        report["validation"] = evaluate_real(model, detector, real, budget, entries)
        timings["validate"] = time.perf_counter() - tick
    if rounds is not None:
        tick = time.perf_counter()
        report["rounds"] = rounds(model, train_config, budget)
        timings["rounds"] = time.perf_counter() - tick
    report["timings"] = timings
    report["seconds"] = time.perf_counter() - started
    # Other processes share the CPU: the load says how far `seconds` is from a quiet machine.
    report["machine"] = {
        "cpus": os.cpu_count(),
        "load_1min_start": load_start,
        "load_1min_end": os.getloadavg()[0],
    }
    report = _clean(report)
    _write_reports(Path(out_dir), report)
    return report


def _summary(entries: list[dict]) -> dict:
    """Per entry headline figures, and recall at the real budget of seen vs unseen rows."""
    keys = (
        "label",
        "pr_auc",
        "recall_at_budget",
        "recall_seen",
        "recall_unseen",
        "money_lost_before_alert",
        "customer_friction",
        "legit_declined",
    )
    all_rows = [r for e in entries for r in e["typologies"]]
    return {
        "recall_seen": _recall_of([r for r in all_rows if r["seen"]]),
        "recall_unseen": _recall_of([r for r in all_rows if not r["seen"]]),
        "entries": [{k: e[k] for k in keys} for e in entries],
    }


# --- output ----------------------------------------------------------------------------------


def _write_reports(out_dir: Path, report: dict) -> None:

    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{out_dir}: cannot create the directory ({exc.strerror})") from None
    page = render_html(report)  # before writing anything: no report.json without its page
    _atomic_write(out_dir / "report.json", json.dumps(report, indent=2, allow_nan=False) + "\n")
    _atomic_write(out_dir / "report.html", page)
