"""Assemble the report of a run and write report.json and report.html atomically."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from fraudsim.calibration.columns import parse_column_map, read_source
from fraudsim.calibration.compare import compare_to_source
from fraudsim.core.errors import ConfigError
from fraudsim.core.files import write_text_atomic
from fraudsim.report import html, leakage, plots, representation, targets
from fraudsim.report.audit import audit_run
from fraudsim.report.privacy import privacy
from fraudsim.report.run import open_run


def build_report(
    run_dir: str | Path,
    against: str | Path | None = None,
    columns: str | dict[str, str] | None = None,
    time_origin: str | None = None,
    legit_sample: int = leakage.LEGIT_SAMPLE,
    audit: bool = True,
) -> dict[str, Any]:
    """Everything the report shows: the fidelity section as a `targets.Fidelity` of typed
    checks, the rest as JSON-ready data (plots as base64 PNG). `report_json` gives the form
    written to report.json."""
    started = time.perf_counter()
    run = open_run(run_dir)
    source = None
    if against is not None:
        mapping = (
            parse_column_map(columns) if isinstance(columns, str) or columns is None else columns
        )
        source = read_source(against, mapping, time_origin)
    checks = targets.fidelity(run)
    report: dict[str, Any] = {
        "run": {
            "name": run.name,
            "path": str(run.path),
            "profile": run.profile.meta.name,
            "days": run.days,
            "transactions": int(run.manifest.get("rows", {}).get("transactions", 0)),
        },
        "fidelity": targets.Fidelity(checks, representation.segment_checks(run)),
        "representation": representation.representation(run),
        "leakage": leakage.leakage(run, legit_sample),
    }
    if source is not None:
        report["against"] = {"source": str(against), "sha256": source.sha256, "comparison": []}
        try:
            report["against"]["comparison"] = compare_to_source(
                run.transactions(), source, run.profile
            )
        except ConfigError as exc:  # e.g. a profile not derived from data: privacy only
            report["against"]["skipped"] = str(exc)
        report["privacy"] = privacy(run.transactions(), source, run.profile)
    if audit:  # the shortcut hunt (`fraudsim audit`), summarised on the page
        report["audit"] = audit_run(run.path).to_dict()
    report["flagged"] = report["leakage"]["flagged"]
    report["plots"] = plots.render_all(run)
    report["seconds"] = time.perf_counter() - started
    return report


def report_json(report: dict[str, Any]) -> dict[str, Any]:
    """The report as report.json holds it: the typed records as their JSON form."""
    return {**report, "fidelity": report["fidelity"].to_json()}


def write_report(
    run_dir: str | Path,
    against: str | Path | None = None,
    columns: str | dict[str, str] | None = None,
    time_origin: str | None = None,
    legit_sample: int = leakage.LEGIT_SAMPLE,
) -> dict[str, Any]:
    """Build the report and write RUN_DIR/report.json and RUN_DIR/report.html (not listed in
    the run's manifest, so `verify_run` is unaffected); returns what report.json holds."""
    report = build_report(run_dir, against, columns, time_origin, legit_sample)
    out = Path(run_dir)
    page = html.render(report)
    data = report_json(report)
    write_text_atomic(out / "report.json", json.dumps(data, indent=1, default=str))
    write_text_atomic(out / "report.html", page)
    return data
