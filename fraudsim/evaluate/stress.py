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
entry simulates the scenario, scores it and reports (with `fraudsim.evaluate.metrics`): overall
PR-AUC, recall at the daily alert budget, recall per typology (each marked `seen` when the
typology occurs in the training data), time to first alert per episode summarised per typology
(median seconds among alerted episodes, share never alerted), money lost before detection per
typology, and customer friction (legit rows whose card / account was alerted that day, as a
share of legit rows). It writes `report.json` and a self-contained `report.html` to `out_dir`.
"""

from __future__ import annotations

import html
import json
import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from fraudsim.config import load_scenario
from fraudsim.errors import ConfigError, OutputError, format_validation_error
from fraudsim.evaluate.detectors import load_detector
from fraudsim.evaluate.metrics import (
    daily_alerts,
    per_typology_recall,
    pr_auc,
    recall_at_daily_budget,
    time_to_first_alert,
)
from fraudsim.tomlfile import one_line, read_toml


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


def _finite(value: float | None) -> float | None:
    """A float for JSON: NaN / infinite -> None."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _clean(obj: Any) -> Any:
    """JSON-safe copy: NaN -> None, numpy scalars -> Python, dates -> ISO strings."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if isinstance(obj, bool | np.bool_):
        return bool(obj)
    if isinstance(obj, int | np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        return _finite(obj)
    if obj is None or isinstance(obj, str):
        return obj
    return str(obj)


def _recall_of(rows: list[dict[str, Any]]) -> float | None:
    """Pooled recall of per-typology rows (caught / fraud entity-days), None without any."""
    total = sum(r["fraud_entity_days"] or 0 for r in rows)
    caught = sum(r["caught_entity_days"] or 0 for r in rows)
    return caught / total if total else None


def evaluate_frame(
    tx: pl.DataFrame, score: np.ndarray, seen: set[str], budget: int
) -> dict[str, Any]:
    """The metrics of one scored transactions table (see the module docstring)."""
    fraud = tx["is_fraud"].fill_null(False)
    typ = per_typology_recall(tx, score, budget=budget)
    ttfa = time_to_first_alert(tx, score, budget=budget)
    per_episode = ttfa.group_by("fraud_type").agg(
        episodes_alerted=pl.col("first_alert").is_not_null().sum().cast(pl.Int64),
        median_seconds_to_alert=pl.col("seconds_to_alert").drop_nulls().median(),
        share_never_alerted=pl.col("first_alert").is_null().mean(),
        money_lost_before_alert=pl.col("amount_before_alert").sum(),
    )
    typ = typ.join(per_episode, on="fraud_type", how="left", nulls_equal=True).with_columns(
        seen=pl.col("fraud_type").is_in(sorted(seen)).fill_null(False)
    )
    alerts = daily_alerts(tx, score, budget=budget)
    legit = ~fraud
    n_legit = int(legit.sum())
    friction = (
        int((alerts["entity_alerted"].fill_null(False) & legit).sum()) / n_legit
        if n_legit
        else float("nan")
    )
    rows = typ.to_dicts()
    seen_rows = [r for r in rows if r["seen"]]
    unseen_rows = [r for r in rows if not r["seen"]]
    return {
        "transactions": tx.height,
        "fraud_rows": int(fraud.sum()),
        "episodes": ttfa.height,
        "pr_auc": pr_auc(fraud.to_numpy(), score) if fraud.any() else float("nan"),
        "recall_at_budget": recall_at_daily_budget(tx, score, budget=budget),
        "recall_seen": _recall_of(seen_rows),
        "recall_unseen": _recall_of(unseen_rows),
        "money_lost_before_alert": float(ttfa["amount_before_alert"].sum()),
        "customer_friction": friction,
        "typologies": rows,
    }


def run_stress(
    detector: str,
    train: str | Path,
    suite: str | Path,
    out_dir: Path,
    customers: int | None = None,
    days: int | None = None,
    budget: int = 100,
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

    Returns:
        The report (also written as `report.json`).

    Raises:
        ConfigError: One line, on a bad suite, scenario, override or detector.
        OutputError: When the report cannot be written.
    """
    from fraudsim.dataset import simulate

    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
        raise ConfigError(f"budget must be a positive integer (got {budget!r})")
    started = time.perf_counter()
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

    train_tx = simulate(train_config).transactions
    # Seen = labelled as fraud somewhere in training (look-alikes and friendly fraud are not).
    is_fraud = train_tx["is_fraud"].fill_null(False)
    seen = set(train_tx.filter(is_fraud)["fraud_type"].drop_nulls().unique().to_list())
    try:
        model.fit(train_tx)
    except ConfigError as exc:
        raise ConfigError(
            one_line(
                f"training on {train_config.name!r} ({train_config.population.customers} "
                f"customers x {train_config.days} days): {exc}; try more customers or days"
            )
        ) from None

    entries = []
    for entry, path, config in configs:
        tx = simulate(config).transactions
        score = np.asarray(model.score(tx), dtype=np.float64)
        if score.shape != (tx.height,) or not np.isfinite(score).all():
            raise ConfigError(
                f"detector {detector!r}: score must give one finite float per row "
                f"(got shape {score.shape} for {tx.height} rows)"
            )
        metrics = evaluate_frame(tx, score, seen, budget)
        entries.append(
            {
                "label": entry.label,
                "scenario": str(path),
                "scenario_name": config.name,
                "overrides": entry.overrides,
                **metrics,
            }
        )

    all_rows = [r for e in entries for r in e["typologies"]]
    report = _clean(
        {
            "detector": detector,
            "train": {
                "scenario": str(train),
                "scenario_name": train_config.name,
                "transactions": train_tx.height,
                "fraud_rows": int(train_tx["is_fraud"].fill_null(False).sum()),
                "seen_typologies": sorted(seen),
            },
            "suite": {"name": spec.name, "description": spec.description, "path": str(suite)},
            "budget": budget,
            "customers": customers,
            "days": days,
            "summary": {
                "recall_seen": _recall_of([r for r in all_rows if r["seen"]]),
                "recall_unseen": _recall_of([r for r in all_rows if not r["seen"]]),
                "entries": [
                    {
                        k: e[k]
                        for k in (
                            "label",
                            "pr_auc",
                            "recall_at_budget",
                            "recall_seen",
                            "recall_unseen",
                            "money_lost_before_alert",
                            "customer_friction",
                        )
                    }
                    for e in entries
                ],
            },
            "entries": entries,
            "seconds": time.perf_counter() - started,
        }
    )
    _write_reports(Path(out_dir), report)
    return report


# --- output ----------------------------------------------------------------------------------


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"{path}: cannot write ({exc.strerror or exc})") from None


def _write_reports(out_dir: Path, report: dict) -> None:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{out_dir}: cannot create the directory ({exc.strerror})") from None
    _atomic_write(out_dir / "report.json", json.dumps(report, indent=2, allow_nan=False) + "\n")
    _atomic_write(out_dir / "report.html", render_html(report))


def _fmt(value: Any) -> str:
    if value is None:
        return "&mdash;"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return html.escape(str(value))


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_fmt(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


_TYPOLOGY_COLUMNS = [
    ("fraud_type", "typology"),
    ("seen", "seen in training"),
    ("episodes", "episodes"),
    ("fraud_entity_days", "fraud entity-days"),
    ("recall", "recall @ budget"),
    ("pr_auc", "PR-AUC"),
    ("median_seconds_to_alert", "median s to alert"),
    ("share_never_alerted", "never alerted"),
    ("money_lost_before_alert", "lost before alert"),
]


def render_html(report: dict) -> str:
    """A self-contained HTML page: a seen-vs-unseen summary and one table per suite entry."""
    summary = report["summary"]
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>fraudsim stress: {html.escape(report['detector'])}</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;"
        "margin-bottom:2em}th,td{border:1px solid #ccc;padding:4px 8px;text-align:right}"
        "th:first-child,td:first-child{text-align:left}th{background:#eee}</style>",
        "</head><body>",
        f"<h1>Stress test: detector <code>{html.escape(report['detector'])}</code></h1>",
        f"<p>Trained on <code>{html.escape(report['train']['scenario_name'])}</code> "
        f"({report['train']['transactions']:,} transactions); suite "
        f"<code>{html.escape(report['suite']['name'])}</code>; daily alert budget "
        f"{report['budget']} entities. Seen typologies: "
        f"{html.escape(', '.join(report['train']['seen_typologies']) or 'none')}.</p>",
        "<h2>Summary: recall of seen vs unseen typologies</h2>",
        _table(
            [
                "entry",
                "PR-AUC",
                "recall @ budget",
                "recall seen",
                "recall unseen",
                "lost",
                "friction",
            ],
            [
                [
                    e["label"],
                    e["pr_auc"],
                    e["recall_at_budget"],
                    e["recall_seen"],
                    e["recall_unseen"],
                    e["money_lost_before_alert"],
                    e["customer_friction"],
                ]
                for e in summary["entries"]
            ]
            + [
                [
                    "all entries",
                    None,
                    None,
                    summary["recall_seen"],
                    summary["recall_unseen"],
                    None,
                    None,
                ]
            ],
        ),
    ]
    for entry in report["entries"]:
        parts.append(
            f"<h2>{html.escape(entry['label'])} "
            f"<small>(<code>{html.escape(entry['scenario_name'])}</code>)</small></h2>"
        )
        parts.append(
            f"<p>{entry['transactions']:,} transactions, {entry['fraud_rows']:,} fraud rows, "
            f"{entry['episodes']:,} episodes; PR-AUC {_fmt(entry['pr_auc'])}, recall @ budget "
            f"{_fmt(entry['recall_at_budget'])}, customer friction "
            f"{_fmt(entry['customer_friction'])}.</p>"
        )
        parts.append(
            _table(
                [h for _, h in _TYPOLOGY_COLUMNS],
                [[r.get(k) for k, _ in _TYPOLOGY_COLUMNS] for r in entry["typologies"]],
            )
        )
    parts.append("</body></html>\n")
    return "\n".join(parts)
