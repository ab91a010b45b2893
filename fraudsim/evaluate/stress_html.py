"""The self-contained HTML page of a `fraudsim stress` report (tables and embedded plots)."""

from __future__ import annotations

from typing import Any

from fraudsim.evaluate import html, plots
from fraudsim.evaluate.breakdown import pool
from fraudsim.evaluate.html import esc, stat

_TYPOLOGY_COLUMNS = [
    ("fraud_type", "typology"),
    ("class", "class"),
    ("episodes", "episodes"),
    ("fraud_entity_days", "fraud entity-days"),
    ("recall", "recall @ budget (shared)"),
    ("first_day_recall", "first-day recall (isolated)"),
    ("entity_day_recall", "entity-day recall (isolated)"),
    ("pr_auc", "PR-AUC"),
    ("median_seconds_to_alert", "median s to alert"),
    ("share_never_alerted", "never alerted"),
    ("money_lost_before_alert", "lost before alert"),
]

_BREAKDOWN_COLUMNS = [
    ("group", "group"),
    ("fraud_entity_days", "fraud entity-days"),
    ("recall", "recall"),
    ("legit_rows", "legit rows"),
    ("friction_alerted", "legit alerted"),
    ("friction_declined", "legit declined"),
]


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    return html.table(headers, rows, stat, numeric=True)


def _ci(m: dict) -> str:
    if m.get("macro_recall") is None:
        return html.DASH
    return f"{m['macro_recall']:.3f} [{m['low']:.3f}, {m['high']:.3f}]"


def _held_out(report: dict) -> list[str]:
    h = report.get("held_out")
    if not h:
        return []
    by_class = h["by_class"]
    gap = h["gap_seen_minus_unseen"]
    verdict = (
        "not measurable (a class has no typology with enough episodes)"
        if gap is None
        else f"seen minus unseen = {gap:+.3f}; "
        + ("the intervals do not overlap." if h["clearly_lower"] else "the intervals overlap.")
    )
    rows = [
        [
            cls,
            m["first_day"]["typologies"],
            m["first_day"]["episodes"],
            _ci(m["first_day"]),
            _ci(m["entity_day"]),
        ]
        for cls, m in by_class.items()
    ]
    fam_rows = [
        [f"{fam} / {cls}", m["first_day"]["typologies"], _ci(m["first_day"]), _ci(m["entity_day"])]
        for fam, classes in h["by_family"].items()
        for cls, m in classes.items()
        if m["first_day"]["typologies"]
    ]
    typ_rows = [
        [
            r["typology"],
            r["class"],
            r["family"],
            r["episodes"],
            r["first_day_recall"],
            f"[{stat(r['first_day_low'])}, {stat(r['first_day_high'])}]",
            r["fraud_entity_days"],
            r["entity_day_recall"],
            ", ".join(r["entries"]),
        ]
        for r in h["typologies"]
    ]
    return [
        "<h2>Held-out typologies: seen vs variant vs unseen</h2>",
        f"<p class='note'>Measure: {esc(h['measure'])}. Entity-day recall: the same "
        "isolated ranking per fraudulent card/account-day. Seen = the typology key occurs as "
        "fraud in training; variant = a seen typology with a variant label (shifted "
        "parameters); unseen = a typology never in training.</p>",
        f"<p><b>{esc(verdict)}</b></p>",
        _table(
            [
                "class",
                "typologies",
                "episodes",
                "first-day recall (macro, 95% CI)",
                "entity-day recall (macro, 95% CI)",
            ],
            rows,
        ),
        "<h3>By family</h3>",
        _table(["family / class", "typologies", "first-day recall", "entity-day recall"], fam_rows),
        plots.typology_recall(h["typologies"]),
        "<h3>Per typology (pooled over the suite)</h3>",
        _table(
            [
                "typology",
                "class",
                "family",
                "episodes",
                "first-day recall",
                "95% CI",
                "entity-days",
                "entity-day recall",
                "entries",
            ],
            typ_rows,
        ),
        "<h3>Recall against the daily alert budget</h3>",
        plots.budget_curve(h["budget_curve"]),
    ]


def _breakdowns(report: dict) -> list[str]:
    pooled = pool([e.get("breakdowns", {}) for e in report["entries"]])
    if not pooled:
        return []
    parts = [
        "<h2>Whom the detector protects less: segments and channels</h2>",
        "<p class='note'>At the real daily budget (all fraud competing), pooled over the suite. "
        "Recall = alerted fraudulent card/account-days; legit alerted = honest rows on an "
        "alerted card/account-day; legit declined = honest rows scoring above the day's cutoff."
        "</p>",
        plots.breakdowns(pooled),
    ]
    for name, rows in pooled.items():
        parts.append(f"<h3>{esc(name)}</h3>")
        parts.append(
            _table(
                [h for _, h in _BREAKDOWN_COLUMNS],
                [[r.get(k) for k, _ in _BREAKDOWN_COLUMNS] for r in rows],
            )
        )
    return parts


def _drift(report: dict) -> list[str]:
    rows = [
        [e["label"], r["week"] + 1, r["fraud_entity_days"], r["recall"]]
        for e in report["entries"]
        for r in e.get("weekly", [])
    ]
    if not rows:
        return []
    return [
        "<h2>Drift: recall per week</h2>",
        "<p class='note'>Plot: isolated entity-day recall per week and class. Table: recall at "
        "the real budget per week.</p>",
        plots.weekly(report["entries"]),
        _table(["entry", "week", "fraud entity-days", "recall @ budget"], rows),
    ]


def _validation(report: dict) -> list[str]:
    v = report.get("validation")
    if not v:
        return []
    rows = [[k, v["real"].get(k), v["synthetic"].get(k), v["gap"].get(k)] for k in v["gap"]]
    return [
        "<h2>Train on synthetic, test on real</h2>",
        f"<p>Real table <code>{esc(v['path'])}</code>: {v['real']['transactions']:,} "
        f"rows, {v['real']['fraud_rows']:,} fraud. Features unavailable (filled with neutral "
        f"values): {esc(', '.join(v['unavailable_features']) or 'none')}.</p>",
        f"<p class='note'>{esc(v['note'])}</p>",
        _table(["metric", "real", "synthetic (suite mean)", "real - synthetic"], rows),
    ]


def _rounds(report: dict) -> list[str]:
    r = report.get("rounds")
    if not r:
        return []
    # The fragment comes from fraudsim.evaluate.rounds (our own code), not from user input.
    return ["<h2>Detector in the loop: rounds</h2>", str(r.get("html", ""))]


def render_html(report: dict) -> str:
    """A self-contained HTML page of a stress report."""
    summary = report["summary"]
    parts = [
        f"<h1>Stress test: detector <code>{esc(report['detector'])}</code></h1>",
        f"<p>Trained on <code>{esc(report['train']['scenario_name'])}</code> "
        f"({report['train']['transactions']:,} transactions); suite "
        f"<code>{esc(report['suite']['name'])}</code>; daily alert budget "
        f"{report['budget']} entities; {stat(report.get('seconds'))} s. Seen typologies: "
        f"{esc(', '.join(report['train']['seen_typologies']) or 'none')}.</p>",
        *_held_out(report),
        "<h2>Per suite entry, at the real budget</h2>",
        "<p class='note'>All fraud of a world competes for the day's alerts: in an oversampled "
        "world (2% fraud rows) there are more fraudulent entity-days than alerts, so these "
        "recalls are capped by the budget and compare typologies with each other.</p>",
        _table(
            [
                "entry",
                "PR-AUC",
                "recall @ budget",
                "recall seen",
                "recall unseen",
                "lost",
                "legit alerted",
                "legit declined",
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
                    e.get("legit_declined"),
                ]
                for e in summary["entries"]
            ],
        ),
        plots.pr_curves(report["entries"]),
        *_breakdowns(report),
        *_drift(report),
        *_validation(report),
        *_rounds(report),
    ]
    for entry in report["entries"]:
        parts.append(
            f"<h2>{esc(entry['label'])} "
            f"<small>(<code>{esc(entry['scenario_name'])}</code>)</small></h2>"
        )
        parts.append(
            f"<p>{entry['transactions']:,} transactions, {entry['fraud_rows']:,} fraud rows, "
            f"{entry['episodes']:,} episodes; PR-AUC {stat(entry['pr_auc'])}, recall @ budget "
            f"{stat(entry['recall_at_budget'])}, legit alerted "
            f"{stat(entry['customer_friction'])}.</p>"
        )
        parts.append(
            _table(
                [h for _, h in _TYPOLOGY_COLUMNS],
                [[r.get(k) for k, _ in _TYPOLOGY_COLUMNS] for r in entry["typologies"]],
            )
        )
    return html.page(f"fraudsim stress: {report['detector']}", parts)
