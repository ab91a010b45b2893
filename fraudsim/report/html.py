"""The self-contained report page: inline CSS, plots as data: URIs, no external resources."""

from __future__ import annotations

import html
from typing import Any

_CSS = """
body{font-family:sans-serif;margin:2em;max-width:1200px;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:13px}
td,th{border:1px solid #ccc;padding:3px 7px;text-align:left}
.fail{background:#fde2e2}.pass{background:#e6f4e6}.na{color:#888}
.alarm{background:#b00020;color:#fff;padding:1em;font-size:1.2em;font-weight:bold}
.ok{background:#e6f4e6;padding:.6em}
img{max-width:100%;border:1px solid #eee;margin:.5em 0}
"""
# Sets data-images-ok on <body> once every image has decoded (read by the browser test).
_SCRIPT = """
<script>
function fraudsimImagesOk(){var ims=document.images;for(var i=0;i<ims.length;i++){
if(!(ims[i].complete&&ims[i].naturalWidth>0))return false;}return true;}
window.addEventListener('load',function(){document.body.setAttribute('data-images-ok',
fraudsimImagesOk()?'true':'false');document.body.setAttribute('data-image-count',
String(document.images.length));});
</script>
"""


def _e(value: Any) -> str:
    return html.escape(str(value))


def _num(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    return _e(value)


def _table(headers: list[str], rows: list[list[Any]], classes: list[str] | None = None) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = []
    for i, row in enumerate(rows):
        cls = f" class='{classes[i]}'" if classes and classes[i] else ""
        body.append(f"<tr{cls}>" + "".join(f"<td>{_num(v)}</td>" for v in row) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _checks(checks: list[dict[str, Any]]) -> str:
    rows, classes = [], []
    for c in checks:
        state = {True: "pass", False: "fail", None: "na"}[c["passed"]]
        rows.append(
            [
                c["section"],
                c["name"],
                c["target"] if c["kind"] != "l1" else "shape",
                c["simulated"],
                c["error"],
                c["tolerance"],
                c["kind"],
                {"pass": "yes", "fail": "NO", "na": "not measured"}[state],
                c.get("why") or c["note"],
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
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>fraudsim report: {_e(report['run']['name'])}</title><style>{_CSS}</style>",
        _SCRIPT,
        "</head><body>",
    ]
    if leak["flagged"]:
        parts.append(
            "<div class='alarm'>LEAKAGE: these columns alone separate fraud from legit with "
            f"ROC AUC above {leak['threshold']}: {_e(', '.join(leak['flagged']))}</div>"
        )
    privacy = report.get("privacy")
    if privacy and privacy.get("exact_matches"):
        parts.append(
            f"<div class='alarm'>PRIVACY: {privacy['exact_matches']} synthetic rows exactly match "
            "a source row</div>"
        )
    fid = report["fidelity"]["summary"]
    parts += [
        f"<h1>fraudsim report: {_e(report['run']['name'])}</h1>",
        f"<p>Run <code>{_e(report['run']['path'])}</code>, profile "
        f"<code>{_e(report['run']['profile'])}</code>, {report['run']['days']} days, "
        f"{report['run']['transactions']:,} transactions. Generated in "
        f"{report['seconds']:.1f} s.</p>",
        "<h2>Fidelity</h2>",
        f"<p class='ok'>{fid['passed']} of {fid['total']} targets pass "
        f"({(fid['share'] or 0):.0%}); {fid['not_measured']} not measurable from the tables. "
        "Counts are of attempts by the honest traffic model (declined rows included).</p>",
        _checks(report["fidelity"]["checks"]),
    ]
    against = report.get("against")
    if against:
        parts += [
            f"<h2>Against the source data <code>{_e(against['source'])}</code></h2>",
            f"<p>{_e(against.get('skipped', ''))}</p>",
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
    seg = report["fidelity"]["segments"]
    seg_pass = sum(1 for c in seg if c["passed"])
    parts += [
        "<h2>Fidelity per segment</h2>",
        f"<p>Targets the model applies to every segment alike; {seg_pass} of {len(seg)} pass.</p>",
        _checks(seg),
        "<h2>Plots</h2>",
    ]
    for plot in report["plots"].values():
        parts.append(
            f"<h3>{_e(plot['title'])}</h3>"
            f"<img alt='{_e(plot['title'])}' src='data:image/png;base64,{plot['png']}'>"
        )
    rep = report["representation"]
    parts += ["<h2>Representation</h2>", f"<p>{_e(rep['note'])}. Counts: {_e(rep['counts'])}</p>"]
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
            f"<h3>{_e(segment)}</h3>",
            _table(
                ["segment", "target", "population", "victims", "targeted", "victim ratio"], rows
            ),
        ]
    parts += [
        "<h2>Leakage audit</h2>",
        f"<p>{_e(leak.get('note', ''))}. Left out: {_e(', '.join(leak['excluded']))} "
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
            f"<p>{_e(privacy['note'])}. Features: {_e(', '.join(privacy['features']))}.</p>",
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
    parts.append("</body></html>")
    return "\n".join(parts)
