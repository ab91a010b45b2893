"""`fraudsim stress` (fraudsim.cli.stress): a tiny run through the command, exit code 2 with
one line for bad suites, detectors and column maps. What it measures is tested in
tests/evaluate/test_stress.py."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from fraudsim.cli.stress import stress
from tests.helpers import CARD, SCENARIOS, write_stress_suite


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command("stress")(stress)
    app.command("noop")(lambda: None)  # two commands, so "stress" stays a subcommand
    return app


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
            str(write_stress_suite(tmp_path)),
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


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        ("timestamp=Time,amount=Amount,label=Nope", "Nope"),
        ("timestamp=Time,amount=Amount", "label"),
    ],
)
def test_validate_on_bad_columns_is_one_line(tmp_path: Path, columns: str, message: str) -> None:
    data = CARD
    if message == "label":  # a copy without the Class column
        data = tmp_path / "nolabel.csv"
        data.write_text(
            "\n".join(",".join(line.split(",")[:5]) for line in CARD.read_text().splitlines())
        )
    result = CliRunner().invoke(
        _app(),
        [
            "stress",
            "--validate-on",
            str(data),
            "--columns",
            columns,
            "--time-origin",
            "2013-09-01",
            "--suite",
            str(write_stress_suite(tmp_path)),
            "--out",
            str(tmp_path / "o"),
        ],
    )
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert message in text and data.name in text
    assert not (tmp_path / "o").exists()


def test_cli_unknown_detector_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        _app(), ["stress", "--detector", "nope", "--suite", str(write_stress_suite(tmp_path))]
    )
    assert result.exit_code == 2
    assert "unknown detector 'nope'" in " ".join(result.output.split())


def test_columns_without_validate_on_is_refused(tmp_path: Path) -> None:
    result = CliRunner().invoke(_app(), ["stress", "--columns", "amount=Amount"])
    assert result.exit_code == 2 and "--validate-on" in result.output
