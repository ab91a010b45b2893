"""Tests of `fraudsim stress` (fraudsim.evaluate.stress and fraudsim.cli_stress), end to end
on tiny worlds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from fraudsim.cli_stress import stress
from fraudsim.errors import ConfigError
from fraudsim.evaluate.stress import load_suite, run_stress

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
SIZE = {"customers": 600, "days": 6, "budget": 20}


def _suite(tmp_path: Path) -> Path:
    path = tmp_path / "suite.toml"
    path.write_text(
        f"""
name = "tiny"

[[entries]]
scenario = "{SCENARIOS / "novel_attacks.toml"}"
label = "unseen"

[[entries]]
scenario = "{SCENARIOS / "training_set.toml"}"
label = "new_population"
overrides = {{ seed = 7, start_date = 2025-06-02 }}
""",
        encoding="utf-8",
    )
    return path


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command("stress")(stress)
    app.command("noop")(lambda: None)  # two commands, so "stress" stays a subcommand
    return app


def test_run_stress_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "out"
    # At 600 customers x 6 days no fraud is reported yet, so the GBM cannot train: the rules do.
    report = run_stress("rules", SCENARIOS / "training_set.toml", _suite(tmp_path), out, **SIZE)
    saved = json.loads((out / "report.json").read_text())
    assert saved == report
    assert {"detector", "train", "suite", "budget", "summary", "entries"} <= set(report)
    assert [e["label"] for e in report["entries"]] == ["unseen", "new_population"]
    seen = set(report["train"]["seen_typologies"])
    assert seen
    unseen_rows = 0
    for entry in report["entries"]:
        for key in ("pr_auc", "recall_at_budget", "customer_friction"):
            assert entry[key] is None or 0.0 <= entry[key] <= 1.0
        assert entry["typologies"]
        for row in entry["typologies"]:
            assert row["seen"] is (row["fraud_type"] in seen)
            assert 0.0 <= row["recall"] <= 1.0
            assert row["share_never_alerted"] is None or 0.0 <= row["share_never_alerted"] <= 1
            assert row["money_lost_before_alert"] is None or row["money_lost_before_alert"] >= 0
            unseen_rows += not row["seen"]
    assert unseen_rows  # novel_attacks holds typologies the training set lacks
    for key in ("recall_seen", "recall_unseen"):
        assert 0.0 <= report["summary"][key] <= 1.0
    page = (out / "report.html").read_text()
    assert page.startswith("<!doctype html>")
    assert "unseen" in page and "new_population" in page
    assert not list(out.glob(".*.tmp"))


def test_malformed_suite_is_one_line_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\n[[entries]]\nscenario = "a.toml"\nlable = "typo"\n')
    with pytest.raises(ConfigError) as info:
        load_suite(bad)
    message = str(info.value)
    assert "\n" not in message and str(bad) in message and "[entries.0." in message

    broken = tmp_path / "broken.toml"
    broken.write_text("name = \n")
    with pytest.raises(ConfigError, match=r"broken\.toml: invalid TOML") as info:
        load_suite(broken)
    assert "\n" not in str(info.value)


def test_gbm_without_reported_fraud_names_the_training_world(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="training on 'training_set'") as info:
        run_stress("gbm", SCENARIOS / "training_set.toml", _suite(tmp_path), tmp_path, **SIZE)
    assert "\n" not in str(info.value)
    assert not (tmp_path / "report.json").exists()


def test_cli_stress_bad_suite_exits_2_with_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("name = 'x'\nentries = []\n")
    result = CliRunner().invoke(
        _app(), ["stress", "--suite", str(bad), "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 2
    assert "bad.toml" in result.output and "entries" in result.output
    assert not (tmp_path / "o").exists()


def test_cli_stress_runs(tmp_path: Path) -> None:
    out = tmp_path / "o"
    result = CliRunner().invoke(
        _app(),
        [
            "stress",
            "--detector",
            "rules",
            "--train",
            str(SCENARIOS / "training_set.toml"),
            "--suite",
            str(_suite(tmp_path)),
            "--out",
            str(out),
            "--customers",
            "400",
            "--days",
            "4",
            "--budget",
            "10",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "unseen" in result.output and "new_popul" in result.output  # 80 columns: folded
    assert (out / "report.json").exists() and (out / "report.html").exists()
