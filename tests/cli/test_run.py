"""`fraudsim run`: writing a run, overrides, formats, exit codes and one-line errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fraudsim.cli import app
from fraudsim.export.writer import MANIFEST, verify_run
from tests.helpers import one_line_error

runner = CliRunner()
pytestmark = pytest.mark.usefixtures("in_tmp")  # every test in its own directory

BAD_DAYS = 'name = "broken"\ndays = -3\n'


def test_run_writes_a_run(tmp_path: Path, write_scenario: Callable[..., Path]) -> None:
    scenario = write_scenario()
    result = runner.invoke(app, ["run", str(scenario), "--out", "out/run", "--quiet"])
    assert result.exit_code == 0, result.output
    out = tmp_path / "out" / "run"
    assert (out / MANIFEST).is_file()
    assert verify_run(out) == []
    assert "wrote" in result.output and "transactions" in result.output


def test_run_overrides(tmp_path: Path, write_scenario: Callable[..., Path]) -> None:
    scenario = write_scenario()
    result = runner.invoke(
        app,
        [
            "run",
            str(scenario),
            "--out",
            "o",
            "-q",
            "--seed",
            "11",
            "--days",
            "2",
            "--customers",
            "120",
        ],
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "o" / MANIFEST).read_text(encoding="utf-8"))
    assert manifest["seed"] == 11
    assert manifest["scenario"]["days"] == 2
    assert manifest["scenario"]["population"]["customers"] == 120
    assert (tmp_path / "o" / "transactions.parquet").is_dir()


def test_run_csv_format(tmp_path: Path, write_scenario: Callable[..., Path]) -> None:
    result = runner.invoke(
        app, ["run", str(write_scenario()), "--out", "o", "-q", "--format", "csv"]
    )
    assert result.exit_code == 0, result.output
    assert verify_run(tmp_path / "o") == []


def test_run_by_name_defaults_to_outputs(
    tmp_path: Path, write_scenario: Callable[..., Path]
) -> None:
    """A bare name is looked up in ./scenarios/ and written to ./outputs/<name>/."""
    write_scenario(filename="mini.toml", folder=tmp_path / "scenarios", days=2, customers=120)
    result = runner.invoke(app, ["run", "mini", "-q"])
    assert result.exit_code == 0, result.output
    assert verify_run(tmp_path / "outputs" / "mini") == []


def test_malformed_scenario_exits_2_with_one_line(
    tmp_path: Path, write_scenario: Callable[..., Path]
) -> None:
    scenario = write_scenario(BAD_DAYS, filename="broken.toml")
    result = runner.invoke(app, ["run", str(scenario), "--out", "out/run"])
    assert result.exit_code == 2
    line = one_line_error(result.output)
    assert "broken.toml" in line
    assert "greater than 0" in line
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "outputs").exists()


def test_bad_override_exits_2(tmp_path: Path, write_scenario: Callable[..., Path]) -> None:
    result = runner.invoke(app, ["run", str(write_scenario()), "--out", "o", "--customers", "-5"])
    assert result.exit_code == 2
    line = one_line_error(result.output)
    assert "mini" in line and "(got -5)" in line
    assert not (tmp_path / "o").exists()


def test_existing_non_run_out_dir_exits_2(
    tmp_path: Path, write_scenario: Callable[..., Path]
) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("mine", encoding="utf-8")
    result = runner.invoke(app, ["run", str(write_scenario()), "--out", "taken", "-q"])
    assert result.exit_code == 2
    assert "taken" in one_line_error(result.output)
    assert [p.name for p in (tmp_path / "taken").iterdir()] == ["keep.txt"]


@pytest.mark.parametrize(
    ("args", "body", "field"),
    [
        (["run"], BAD_DAYS, "[days]"),
        (["scenarios", "validate"], BAD_DAYS, "[days]"),
        (["run"], "[population]\ncustomers = -1\n", "[population.customers]"),
    ],
    ids=["run", "validate", "run-nested"],
)
def test_cli_error_keeps_field_marker(
    write_scenario: Callable[..., Path], args: list[str], body: str, field: str
) -> None:
    scenario = write_scenario(body, filename="broken.toml")
    result = runner.invoke(app, [*args, str(scenario)])
    assert result.exit_code == 2
    assert "broken.toml" in result.output
    assert field in result.output


def test_unknown_scenario_path_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["run", "no/such/scenario.toml", "--out", "o"])
    assert result.exit_code == 2
    line = one_line_error(result.output)
    assert "no/such/scenario.toml" in line and "not found" in line
    assert not (tmp_path / "o").exists()


def test_unknown_scenario_name_exits_2() -> None:
    result = runner.invoke(app, ["run", "nonexistent_scenario"])
    assert result.exit_code == 2
    assert "nonexistent_scenario" in one_line_error(result.output)


def test_no_arguments_shows_help() -> None:
    result = runner.invoke(app, [])
    assert "run" in result.output and "scenarios" in result.output
