"""fraudsim report on a tiny run: keys, fidelity, leakage flags, privacy, bad inputs."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from fraudsim.cli import app
from fraudsim.core.errors import ConfigError
from fraudsim.export.fidelity import FidelityCheck
from fraudsim.export.writer import verify_run
from fraudsim.report import build_report
from fraudsim.report.leakage import audit_frame, sample_rows
from fraudsim.report.privacy import dcr
from fraudsim.report.run import open_run
from fraudsim.report.targets import fidelity


def test_report_files_and_keys(tiny_run: Path, tiny_report: dict) -> None:
    data = json.loads((tiny_run / "report.json").read_text())
    for key in ("run", "fidelity", "representation", "leakage", "plots", "flagged"):
        assert key in data
    assert data["fidelity"]["summary"]["total"] >= 80
    assert {"age_band", "income_band", "region"} <= set(data["representation"])
    assert {"calendar", "amounts", "laundering", "report_delays"} <= set(data["plots"])
    assert data["leakage"]["columns"] and "is_fraud" not in {
        c["column"] for c in data["leakage"]["columns"]
    }
    assert all(
        c["passed"] for c in data["leakage"]["id_checks"] + data["leakage"]["balance_checks"]
    )
    assert data["fidelity"]["segments"]
    html = (tiny_run / "report.html").read_text()
    assert "<img" in html and "http://" not in html and "https://" not in html
    # The report files are not in the manifest: the run still verifies.
    assert verify_run(tiny_run) == []


def test_report_json_holds_the_fidelity_records(tiny_run: Path, tiny_report: dict) -> None:
    """report.json's checks are `FidelityCheck.to_json()`: the record's fields, `why` only on
    an explained miss; the summary counts them."""
    data = json.loads((tiny_run / "report.json").read_text())
    fields = [f.name for f in dataclasses.fields(FidelityCheck)]
    for check in data["fidelity"]["checks"]:
        expected = fields if check["passed"] is False else fields[:-1]
        assert list(check) == expected, check["name"]
    for check in data["fidelity"]["segments"]:
        assert list(check) == fields[:-1], check["name"]
    summary = data["fidelity"]["summary"]
    measured = [c for c in data["fidelity"]["checks"] if c["passed"] is not None]
    assert summary["total"] == len(measured)
    assert summary["failed"] == [c["name"] for c in measured if not c["passed"]]
    assert data == tiny_report


def test_failed_checks_say_why(tiny_report: dict) -> None:
    failed = [c for c in tiny_report["fidelity"]["checks"] if c["passed"] is False]
    assert all(c.get("why") for c in failed)


def test_fidelity_can_fail(tiny_run: Path) -> None:
    run = open_run(tiny_run)
    pop = run.profile.population.model_copy(update={"female_share": 0.9})
    run.profile = run.profile.model_copy(update={"population": pop})
    check = next(c for c in fidelity(run) if c.name == "female share")
    assert check.passed is False and check.why


def test_leakage_flags_a_planted_column(tiny_run: Path) -> None:
    frame, _ = sample_rows(open_run(tiny_run))
    rng = np.random.default_rng(0)
    y = frame["is_fraud"].to_numpy()
    frame = frame.with_columns(
        pl.Series("leak", y * 1.0 + rng.normal(0, 0.1, len(y))),
        pl.Series("noise", rng.normal(0, 1, len(y))),
        # An id unique per row must not score by memorisation.
        pl.Series("row_id", np.arange(len(y))),
    )
    audit = audit_frame(frame)
    by = {c["column"]: c for c in audit["columns"]}
    assert "leak" in audit["flagged"] and by["leak"]["auc"] > 0.99
    assert by["noise"]["auc"] < 0.6
    assert by["row_id"]["auc"] < 0.6 and "row_id" not in audit["flagged"]


def test_exact_matches_when_the_source_is_the_run(tiny_run: Path) -> None:
    rows = (
        pl.scan_parquet(tiny_run / "transactions.parquet" / "*.parquet")
        .select(
            pl.col("timestamp").dt.replace_time_zone(None),
            "amount",
            pl.col("tx_type").cast(pl.String).alias("type"),
        )
        .collect()
    )
    result = dcr(rows, rows.head(500), has_time=True)
    assert result["exact_matches"] >= 500 and not result["passed"]
    assert result["synthetic_to_source"]["p50"] == 0.0
    other = rows.with_columns(pl.col("amount") + 0.013)
    assert dcr(rows, other.head(500), has_time=True)["exact_matches"] == 0


def test_against_the_run_itself(tiny_run: Path, tmp_path: Path) -> None:
    source = tmp_path / "source.csv"
    pl.scan_parquet(tiny_run / "transactions.parquet" / "*.parquet").filter(
        ~pl.col("is_fraud")
    ).select(
        pl.col("timestamp").dt.replace_time_zone(None).dt.strftime("%Y-%m-%d %H:%M:%S"),
        "amount",
        pl.col("account_id").alias("account"),
        pl.col("tx_type").cast(pl.String).alias("type"),
    ).collect().write_csv(source)
    report = build_report(tiny_run, against=source)
    assert report["privacy"]["exact_matches"] > 0


@pytest.mark.parametrize("case", ["missing", "file", "no_manifest", "no_customers"])
def test_bad_inputs(tiny_run: Path, tmp_path: Path, case: str) -> None:
    target = tmp_path / "run"
    if case == "file":
        target.write_text("x")
    elif case != "missing":
        shutil.copytree(tiny_run, target, ignore=shutil.ignore_patterns("report.*"))
        (target / ("manifest.json" if case == "no_manifest" else "customers.parquet")).unlink()
    with pytest.raises(ConfigError) as err:
        open_run(target)
    assert str(target) in str(err.value) and "\n" not in str(err.value)
    result = CliRunner().invoke(app, ["report", str(target)])
    assert result.exit_code == 2
    assert "error" in result.output
    assert not target.is_dir() or not (target / "report.html").exists()
