"""Shortcut hunt over a run: the rules and models a sceptical bank reviewer would try first."""

from __future__ import annotations

import html
import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from fraudsim.core.errors import FraudsimError
from fraudsim.core.files import json_safe, write_text_atomic
from fraudsim.evaluate.html import page
from fraudsim.evaluate.html import table as page_table
from fraudsim.report.audit_features import derive
from fraudsim.report.audit_rules import find_rules, fit_model, per_typology, sample_rows

TRAIN_SHARE = 0.6  # first 60% of the days train, the rest test
MIN_FRAUD = 5  # fraud rows needed in each of train and test before any metric is worth reading
FLAG_PRECISION = 0.9
FLAG_RECALL = 0.05
FLAG_MIN_CAUGHT = 5
# A rule whose test fraud rows are all one customer's (one victim's income, one mule's
# balance, over an episode spanning the split) memorises that customer, it is no shortcut.
FLAG_MIN_CUSTOMERS = 3
FLAG_AUC = 0.99
FLAG_MIN_TYPOLOGY_ROWS = 10
# Ground truth (or derived from it): never a feature. reported_at only feeds the causal
# terminal/merchant risk, as what the bank knew at the time.
LABELS = ("is_fraud", "fraud_type", "episode_id", "account_role", "pattern", "reported_at")
# Ids are group keys for derived features, never features themselves (they would be memorised).
KEYS = ("customer_id", "account_id", "card_id", "merchant_id", "terminal_id", "device_id")
IDS = ("transaction_id", "event_id", *KEYS, "counterparty_account_id")
REQUIRED = {
    "transactions": ("timestamp", *IDS[2:], "amount", "direction", "is_fraud"),
    "events": ("timestamp", "customer_id", "account_id", "device_id", "is_fraud"),
}


@dataclass
class AuditResult:
    """What the audit found; `rules` are sorted by test F1, best first."""

    run: str
    rows: int
    fraud_rows: int
    rules: list[dict] = field(default_factory=list)
    models: dict = field(default_factory=dict)
    per_typology: list[dict] = field(default_factory=list)
    flags: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    split: dict = field(default_factory=dict)
    events: dict = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage

    def to_dict(self) -> dict[str, Any]:
        return json_safe(asdict(self))


def _read(run_dir: Path, name: str, required: bool) -> pl.DataFrame | None:
    """A table of the run: `name.parquet` (file or directory of parts) or `name.csv`."""
    parquet, csv = run_dir / f"{name}.parquet", run_dir / f"{name}.csv"
    if parquet.is_dir() and any(parquet.glob("*.parquet")):
        return pl.read_parquet(parquet / "*.parquet")
    if parquet.is_file():
        return pl.read_parquet(parquet)
    if csv.is_file():
        # the whole file decides the types: reported_at is null in the first thousands of rows
        return pl.read_csv(csv, try_parse_dates=True, infer_schema_length=None)
    if required:
        raise FraudsimError(f"{parquet}: missing; is {run_dir} a fraudsim run directory?")
    return None


def _check(frame: pl.DataFrame, name: str, run_dir: Path) -> None:
    """Raise a one-line error naming the table when a column the audit needs is unusable."""
    missing = [c for c in REQUIRED[name] if c not in frame.columns]
    if missing:
        raise FraudsimError(f"{run_dir}: {name} table: missing column(s) {', '.join(missing)}")
    if not isinstance(frame.schema["timestamp"], pl.Datetime):
        raise FraudsimError(f"{run_dir}: {name} table: column timestamp is not a timestamp")
    if frame["timestamp"].null_count():
        raise FraudsimError(f"{run_dir}: {name} table: column timestamp has nulls")


def _raw(frame: pl.DataFrame) -> pl.DataFrame:
    """Exported columns a model may use as they are: no labels, no ids; time as hour and
    weekday (local to the column's time zone); a null indicator for each nullable id."""
    stamp = frame["timestamp"]
    cols = [
        frame[c]
        for c in frame.columns
        if c not in LABELS
        and c not in IDS
        and c != "timestamp"
        and (
            frame[c].dtype.is_numeric()
            or frame[c].dtype in (pl.String, pl.Boolean)
            or isinstance(frame[c].dtype, pl.Enum | pl.Categorical)
        )
    ]
    cols += [stamp.dt.hour().alias("hour"), stamp.dt.weekday().alias("weekday")]
    cols += [
        frame[c].is_not_null().alias(f"has_{c}")
        for c in IDS
        if c in frame.columns and frame[c].null_count() > 0
    ]
    return pl.DataFrame(cols)


def _split(stamps: pl.Series, cut: Any = None) -> tuple[np.ndarray, Any]:
    """Train mask: rows on the first ~60% of the calendar days (or before `cut`)."""
    day = stamps.dt.date()
    if cut is None:
        days = day.unique().sort()
        if len(days) < 2:
            return np.zeros(len(stamps), bool), None
        cut = days[min(len(days) - 1, max(1, round(TRAIN_SHARE * len(days))))]
    return (day < cut).fill_null(False).to_numpy(), cut


def _enough(y: np.ndarray, train: np.ndarray, label: str, notes: list[str]) -> bool:
    n_train, n_test = int(y[train].sum()), int(y[~train].sum())
    if n_train >= MIN_FRAUD and n_test >= MIN_FRAUD:
        return True
    notes.append(
        f"{label}: too few fraud rows ({n_train} train, {n_test} test; {MIN_FRAUD} each needed)"
        " for rules and models"
    )
    return False


def _load(path: Path) -> tuple[pl.DataFrame, dict[str, pl.DataFrame | None]]:
    """The transactions (sorted by time) and the optional tables the features join."""
    if not path.is_dir():
        raise FraudsimError(f"{path}: no such run directory")
    tx = _read(path, "transactions", required=True)
    assert tx is not None
    _check(tx, "transactions", path)
    names = ("events", "customers", "accounts", "cards")
    tables = {n: _read(path, n, required=False) for n in names}
    if tables["events"] is not None:
        _check(tables["events"], "events", path)
    order = ["timestamp", "transaction_id"] if "transaction_id" in tx.columns else ["timestamp"]
    return tx.sort(order, maintain_order=True), tables


def audit_run(run_dir: Path, *, seed: int = 0, max_honest_rows: int = 400_000) -> AuditResult:
    """Derive causal features, then hunt for one-threshold rules and raw-column models that
    separate fraud on later days; flag what separates too well to be behaviour."""
    marks = [time.perf_counter()]

    def lap(stage: str) -> None:
        marks.append(time.perf_counter())
        result.timings[stage] = round(marks[-1] - marks[-2], 3)
        result.timings["total"] = round(marks[-1] - marks[0], 3)

    path = Path(run_dir)
    tx, tables = _load(path)
    events = tables["events"]
    y = tx["is_fraud"].fill_null(False).to_numpy()
    result = AuditResult(str(path), tx.height, int(y.sum()))
    lap("load")
    train, cut = _split(tx["timestamp"])
    result.split = {
        "train_before": str(cut) if cut is not None else None,
        "train_rows": int(train.sum()),
        "test_rows": int((~train).sum()),
        "train_fraud_rows": int(y[train].sum()),
        "test_fraud_rows": int(y[~train].sum()),
    }
    notes = result.notes
    if cut is None:
        notes.append("transactions: fewer than two days, no time split possible")
    missing = [n for n, t in tables.items() if t is None]
    if missing:
        notes.append(f"tables missing, their features skipped: {', '.join(missing)}")
    tx_ok = _enough(y, train, "transactions", notes)
    ev_ok = False
    if events is not None:
        ev_y = events["is_fraud"].fill_null(False).to_numpy()
        # the transactions' cut day splits the events too
        ev_train = _split(events["timestamp"], cut)[0] if cut is not None else ev_y & False
        result.events = {"rows": events.height, "fraud_rows": int(ev_y.sum())}
        ev_ok = events.height > 0 and _enough(ev_y, ev_train, "events", notes)
    if not (tx_ok or ev_ok):
        return result
    derived_tx, derived_ev = derive(
        tx, events, tables["customers"], tables["accounts"], tables["cards"]
    )
    lap("features")
    if tx_ok:
        sample, raw, extra = sample_rows(_raw(tx), derived_tx, tx, train, seed, max_honest_rows)
        result.rules, masks = find_rules(raw + extra, sample, "transactions")
        lap("rules")
        scores = {}
        for label, cols in (("raw", raw), ("raw+derived", raw + extra)):
            result.models[label], scores[label] = fit_model(cols, sample, seed)
        lap("models")
        result.per_typology = per_typology(sample, scores, result.rules, masks)
    if ev_ok and events is not None and derived_ev is not None:
        sample, raw, extra = sample_rows(
            _raw(events), derived_ev, events, ev_train, seed, max_honest_rows
        )
        ev_rules = find_rules(raw + extra, sample, "events")[0]
        result.rules = sorted(result.rules + ev_rules, key=lambda r: -r["test_f1"])
    result.flags = _flags(result)
    lap("typologies, events and flags")
    return result


def _flags(result: AuditResult) -> list[dict]:
    """Rules too precise (and broad) to be behaviour; typologies raw columns give away."""
    flags = []
    for r in result.rules:
        p, rec, caught = r["test_precision"], r["test_recall"], r["test_fraud_caught"]
        customers = r["test_customers_caught"]
        # NaN precision (a rule flagging no test row) fails the comparison
        if (
            p >= FLAG_PRECISION
            and rec >= FLAG_RECALL
            and caught >= FLAG_MIN_CAUGHT
            and customers >= FLAG_MIN_CUSTOMERS
        ):
            what = f"{r['table']} rule {r['rule']} (recall {rec:.1%}, {caught} fraud rows)"
            flags.append(
                {"what": what, "value": p, "threshold": FLAG_PRECISION, "metric": "test precision"}
            )
    for t in result.per_typology:
        auc, rows = t.get("raw_roc_auc"), t["test_fraud_rows"]
        if auc is not None and auc >= FLAG_AUC and rows >= FLAG_MIN_TYPOLOGY_ROWS:
            what = f"typology {t['typology']} separated by raw columns alone ({rows} test rows)"
            flags.append(
                {"what": what, "value": auc, "threshold": FLAG_AUC, "metric": "raw model ROC AUC"}
            )
    return flags


def write_audit(result: AuditResult, out_dir: Path) -> tuple[Path, Path]:
    """Write audit.json and audit.html into `out_dir`; returns their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    json_path, html_path = out / "audit.json", out / "audit.html"
    write_text_atomic(json_path, json.dumps(result.to_dict(), indent=2, allow_nan=False) + "\n")
    write_text_atomic(html_path, audit_html(result))
    return json_path, html_path


def _fmt(value: Any, pct: bool = False) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.1%}" if pct else f"{value:.3f}"
    return str(value)


def _tables(result: AuditResult, top: int) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, header, rows) of the rules, models and per-typology tables."""
    rules = [
        [
            r["table"],
            r["rule"],
            r["kind"],
            _fmt(r["test_precision"], True),
            _fmt(r["test_recall"], True),
            str(r["test_fraud_caught"]),
        ]
        for r in result.rules[:top]
    ]
    models = [
        [name, _fmt(m["roc_auc"]), _fmt(m["average_precision"]), str(len(m["features"]))]
        for name, m in result.models.items()
    ]
    typ = [
        [
            t["typology"],
            str(t["test_fraud_rows"]),
            _fmt(t.get("raw_roc_auc")),
            _fmt(t.get("raw+derived_roc_auc")),
            _fmt(t.get("raw+derived_average_precision")),
            t.get("best_rule", t.get("note", "–")),
            _fmt(t.get("best_rule_recall"), True),
        ]
        for t in result.per_typology
    ]
    return [
        (
            f"Top {top} one-threshold rules (chosen on train days, scored on test days)",
            ["table", "rule", "kind", "precision", "recall", "fraud rows"],
            rules,
        ),
        (
            "Gradient-boosted models (test days, real prevalence)",
            ["features", "ROC AUC", "average precision", "columns"],
            models,
        ),
        (
            "Per typology (its fraud rows against all honest test rows)",
            [
                "typology",
                "test fraud rows",
                "raw AUC",
                "raw+derived AUC",
                "raw+derived AP",
                "best rule",
                "its recall",
            ],
            typ,
        ),
    ]


def audit_table_markdown(result: AuditResult, top: int = 10) -> str:
    """Markdown tables for the README: top rules, model AUC/AP, per typology."""
    parts = []
    for title, header, rows in _tables(result, top):
        cells = [header, ["---"] * len(header), *rows]
        lines = ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in cells]
        parts.append(f"**{title}**\n\n" + "\n".join(lines))
    return "\n\n".join(parts) + "\n"


def audit_section(result: AuditResult, top: int = 25, level: int = 2) -> list[str]:
    """The audit as HTML blocks: flags first, then the rules, models and per-typology tables
    (headings at `level`; the report embeds it one level down)."""
    esc = html.escape
    h = f"h{level}"
    if result.flags:
        items = "".join(
            f"<li>{esc(f['what'])}: {esc(f['metric'])} {_fmt(f['value'])} "
            f"(threshold {_fmt(f['threshold'])})</li>"
            for f in result.flags
        )
        flags = f"<ul class='flags'>{items}</ul>"
    else:
        flags = "<p class='ok'>No flags.</p>"
    notes = "".join(f"<li>{esc(n)}</li>" for n in result.notes)
    sp = result.split
    split = (
        f"train: days before {sp['train_before']} ({sp['train_rows']:,} rows, "
        f"{sp['train_fraud_rows']:,} fraud); test: {sp['test_rows']:,} rows, "
        f"{sp['test_fraud_rows']:,} fraud"
        if sp.get("train_before")
        else "no time split"
    )
    body = [
        f"<p>{result.rows:,} transactions ({result.fraud_rows:,} fraud), "
        f"{result.events.get('rows', 0):,} events; {esc(split)}; "
        f"{result.timings.get('total', 0):.1f} s.</p>",
        f"<{h}>Flags</{h}>",
        f"<p>A rule is flagged at test precision &ge; {FLAG_PRECISION} with recall &ge; "
        f"{FLAG_RECALL:.0%} and &ge; {FLAG_MIN_CAUGHT} fraud rows of &ge; {FLAG_MIN_CUSTOMERS} "
        f"customers; a typology when the raw-column model reaches ROC AUC &ge; {FLAG_AUC} on "
        f"&ge; {FLAG_MIN_TYPOLOGY_ROWS} test rows.</p>",
        flags,
        f"<{h}>Notes</{h}><ul>{notes}</ul>" if notes else "",
    ]
    for title, header, rows in _tables(result, top):
        body.append(f"<{h}>{esc(title)}</{h}>" + page_table(header, rows))
    return body


def audit_html(result: AuditResult, top: int = 25) -> str:
    """A self-contained page: the audit section under its own title."""
    title = f"Shortcut audit: {result.run}"
    return page(title, [f"<h1>{html.escape(title)}</h1>", *audit_section(result, top)])
