"""The page of a run report (fraudsim.evaluate.html: inline CSS, plots as data: URIs)."""

from __future__ import annotations

from typing import Any

from fraudsim.evaluate import html
from fraudsim.evaluate.html import esc, sig
from fraudsim.export.fidelity import FidelityCheck
from fraudsim.report.audit import AuditResult, audit_section


def _table(headers: list[str], rows: list[list[Any]], classes: list[str] | None = None) -> str:
    return html.table(headers, rows, sig, classes)


def _checks(checks: list[FidelityCheck]) -> str:
    rows, classes = [], []
    for c in checks:
        state = {True: "pass", False: "fail", None: "na"}[c.passed]
        rows.append(
            [
                c.section,
                c.name,
                c.target if c.kind != "l1" else "shape",
                c.simulated,
                c.error,
                c.tolerance,
                c.kind,
                {"pass": "yes", "fail": "NO", "na": "not measured"}[state],
                c.why or c.note,
            ]
        )
        classes.append(state)
    return _table(
        [
            "section",
            "target",
            "profile",
            "simulated",
            "error",
            "tolerance",
            "kind",
            "pass",
            "why / note",
        ],
        rows,
        classes,
    )


def render(report: dict[str, Any]) -> str:
    leak = report["leakage"]
    parts = []
    if leak["flagged"]:
        parts.append(
            "<div class='alarm'>LEAKAGE: these columns alone separate fraud from legit with "
            f"ROC AUC above {leak['threshold']}: {esc(', '.join(leak['flagged']))}</div>"
        )
    flags = report.get("audit", {}).get("flags", [])
    if flags:
        parts.append(
            f"<div class='alarm'>SHORTCUTS: the audit flags {len(flags)} rule(s) or typologies "
            "that real bank data would not show (see Shortcut audit)</div>"
        )
    privacy = report.get("privacy")
    if privacy and privacy.get("exact_matches"):
        parts.append(
            f"<div class='alarm'>PRIVACY: {privacy['exact_matches']} synthetic rows exactly match "
            "a source row</div>"
        )
    fid = report["fidelity"].summary
    parts += [
        f"<h1>fraudsim report: {esc(report['run']['name'])}</h1>",
        f"<p>Run <code>{esc(report['run']['path'])}</code>, profile "
        f"<code>{esc(report['run']['profile'])}</code>, {report['run']['days']} days, "
        f"{report['run']['transactions']:,} transactions. Generated in "
        f"{report['seconds']:.1f} s.</p>",
        "<h2>Fidelity</h2>",
        f"<p class='ok'>{fid.passed} of {fid.total} targets pass "
        f"({(fid.share or 0):.0%}); {fid.not_measured} not measurable from the tables. "
        "Counts are of attempts by the honest traffic model (declined rows included).</p>",
        _checks(report["fidelity"].checks),
    ]
    against = report.get("against")
    if against:
        parts += [
            f"<h2>Against the source data <code>{esc(against['source'])}</code></h2>",
            f"<p>{esc(against.get('skipped', ''))}</p>",
            _table(
                ["metric", "what", "value", "tolerance", "pass"],
                [
                    [
                        r.get("metric"),
                        r.get("what"),
                        r.get("value"),
                        r.get("tolerance"),
                        r.get("pass"),
                    ]
                    for r in against["comparison"]
                ],
            ),
        ]
    seg = report["fidelity"].segments
    seg_pass = sum(1 for c in seg if c.passed)
    parts += [
        "<h2>Fidelity per segment</h2>",
        f"<p>Targets the model applies to every segment alike; {seg_pass} of {len(seg)} pass.</p>",
        _checks(seg),
        "<h2>Plots</h2>",
    ]
    for plot in report["plots"].values():
        parts.append(f"<h3>{esc(plot['title'])}</h3>" + html.img(plot["png"], plot["title"]))
    rep = report["representation"]
    parts += ["<h2>Representation</h2>", f"<p>{esc(rep['note'])}. Counts: {esc(rep['counts'])}</p>"]
    for segment in ("age_band", "income_band", "region"):
        rows = [
            [
                r["segment"],
                r["target"],
                r["population"],
                r["victims"],
                r["targeted"],
                r["victim_ratio"],
            ]
            for r in rep[segment]
        ]
        parts += [
            f"<h3>{esc(segment)}</h3>",
            _table(
                ["segment", "target", "population", "victims", "targeted", "victim ratio"], rows
            ),
        ]
    if "audit" in report:
        parts += [
            "<h2>Shortcut audit</h2>",
            "<p>What a sceptical reviewer's model finds (the full page: <code>fraudsim audit"
            "</code>).</p>",
            *audit_section(AuditResult(**report["audit"]), top=10, level=3),
        ]
    parts += [
        "<h2>Leakage audit</h2>",
        f"<p>{esc(leak.get('note', ''))}. Left out: {esc(', '.join(leak['excluded']))} "
        "(label columns). Flag threshold: AUC above "
        f"{leak['threshold']}.</p>",
        _table(
            ["column", "AUC", "direction", "method", "distinct", "flagged"],
            [
                [c["column"], c["auc"], c["direction"], c["method"], c["distinct"], c["flagged"]]
                for c in leak["columns"]
            ],
            ["fail" if c["flagged"] else "" for c in leak["columns"]],
        ),
        _table(
            ["id / balance check", "ok", "total", "pass"],
            [
                [c["check"], c["ok"], c["total"], c["passed"]]
                for c in leak["id_checks"] + leak["balance_checks"]
            ],
            ["pass" if c["passed"] else "fail" for c in leak["id_checks"] + leak["balance_checks"]],
        ),
    ]
    if privacy:
        keys = list(privacy["synthetic_to_source"])
        parts += [
            "<h2>Privacy (distance to closest record)</h2>",
            f"<p>{esc(privacy['note'])}. Features: {esc(', '.join(privacy['features']))}.</p>",
            _table(
                ["distance", *keys],
                [
                    ["synthetic to source", *privacy["synthetic_to_source"].values()],
                    ["source to source", *privacy["source_to_source"].values()],
                ],
            ),
            f"<p>Exact matches: <b>{privacy['exact_matches']}</b> (must be 0). Share of synthetic "
            "rows closer to the source than the source's own 5th percentile: "
            f"{privacy['share_closer_than_source_p5']:.3f}.</p>",
        ]
    return html.page(f"fraudsim report: {report['run']['name']}", parts)
