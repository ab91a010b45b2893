"""fraudsim.evaluate.stress end to end on tiny worlds: a suite's report, held-out breakdowns,
validation on a real table, one-line config errors. The `fraudsim stress` command is tested in
tests/cli/test_stress.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fraudsim.core.errors import ConfigError
from fraudsim.evaluate import heldout
from fraudsim.evaluate.stress import load_suite, run_stress
from tests.helpers import CARD, CARD_COLUMNS, SCENARIOS, write_stress_suite

# Card episodes now include their cash-outs, so fewer start: 1,500 customers hold enough.
SIZE = {"customers": 1500, "days": 6, "budget": 20}


def test_run_stress_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "out"
    # At 600 customers x 6 days no fraud is reported yet, so the GBM cannot train: the rules do.
    report = run_stress(
        "rules", SCENARIOS / "training_set.toml", write_stress_suite(tmp_path), out, **SIZE
    )
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
    with pytest.raises(ConfigError, match="training on 'baseline'") as info:
        run_stress(
            "gbm", SCENARIOS / "baseline.toml", write_stress_suite(tmp_path), tmp_path, **SIZE
        )
    assert "\n" not in str(info.value)
    assert not (tmp_path / "report.json").exists()


@pytest.fixture(scope="module")
def validated(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    """One tiny stress run with the rules, validated on the credit-card-shaped fixture."""
    tmp = tmp_path_factory.mktemp("stress")
    out = tmp / "out"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(heldout, "MIN_EPISODES", 1)  # a tiny world has few episodes per typology
        report = run_stress(
            "rules",
            SCENARIOS / "training_set.toml",
            write_stress_suite(tmp),
            out,
            validate={"path": CARD, "columns": CARD_COLUMNS, "time_origin": "2013-09-01"},
            **SIZE,
        )
    return report, out


def test_report_has_held_out_breakdowns_drift_and_plots(validated: tuple[dict, Path]) -> None:
    report, out = validated
    held = report["held_out"]
    assert set(held["by_class"]) == {"seen", "variant", "unseen"}
    classes = {r["typology"]: r["class"] for r in held["typologies"]}
    assert classes, "no fraud typology measured"
    for key, cls in classes.items():
        if key in report["train"]["seen_typologies"]:
            assert cls == "seen"
        elif "[" in key:
            assert cls in ("variant", "unseen")  # novel_attacks labels its variants
    for row in held["typologies"]:
        assert 0 <= row["first_day_caught"] <= row["episodes"]
    for entry in report["entries"]:
        assert entry["isolated"] and entry["weekly"] and entry["pr_curve"]["recall"]
        for name in ("channel", "age_band", "income_band", "region"):
            rows = entry["breakdowns"][name]
            assert sum(r["legit_rows"] for r in rows) == entry["transactions"] - entry["fraud_rows"]
        assert sum(r["fraud_entity_days"] for r in entry["breakdowns"]["region"]) == sum(
            r["fraud_entity_days"] for r in entry["weekly"]
        )
    page = (out / "report.html").read_text()
    for alt in (
        "recall per typology, seen vs unseen",
        "precision-recall curves per suite entry",
        "recall against the daily alert budget",
        "recall and friction by segment and channel",
        "recall per week",
    ):
        assert f"<img alt='{alt}' src='data:image/png;base64," in page, alt
    assert "http://" not in page and "https://" not in page  # self-contained


def test_validate_on_a_real_table_reports_the_gap(validated: tuple[dict, Path]) -> None:
    report, out = validated
    v = report["validation"]
    assert v["real"]["transactions"] == 2000 and v["real"]["fraud_rows"] == 16
    assert 0 <= v["real"]["pr_auc"] <= 1
    assert v["entity"].startswith("transaction")  # the table has no account column
    # Only time and amount are known: per-card/customer history, channel and devices are not.
    assert "f_cust_cnt_1h" in v["unavailable_features"]
    assert "f_is_cnp" in v["unavailable_features"]
    assert "f_amount" not in v["unavailable_features"]
    assert set(v["gap"]) == set(v["synthetic"])
    assert "Train on synthetic, test on real" in (out / "report.html").read_text()
