"""The command line: run, scenarios list, scenarios validate; exit codes and one-line errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fraudsim.cli import app
from fraudsim.export.writer import MANIFEST, verify_run

runner = CliRunner()

BAD_DAYS = 'name = "broken"\ndays = -3\n'


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every CLI test runs in its own directory: nothing lands in the repo's outputs/."""
    monkeypatch.chdir(tmp_path)


def _one_line_error(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line, got: {output!r}"
    assert "Traceback" not in output
    assert lines[0].startswith("error:")
    return lines[0]


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
    line = _one_line_error(result.output)
    assert "broken.toml" in line
    assert "greater than 0" in line
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "outputs").exists()


def test_bad_override_exits_2(tmp_path: Path, write_scenario: Callable[..., Path]) -> None:
    result = runner.invoke(app, ["run", str(write_scenario()), "--out", "o", "--customers", "-5"])
    assert result.exit_code == 2
    line = _one_line_error(result.output)
    assert "mini" in line and "(got -5)" in line
    assert not (tmp_path / "o").exists()


def test_existing_non_run_out_dir_exits_2(
    tmp_path: Path, write_scenario: Callable[..., Path]
) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("mine", encoding="utf-8")
    result = runner.invoke(app, ["run", str(write_scenario()), "--out", "taken", "-q"])
    assert result.exit_code == 2
    assert "taken" in _one_line_error(result.output)
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
    line = _one_line_error(result.output)
    assert "no/such/scenario.toml" in line and "not found" in line
    assert not (tmp_path / "o").exists()


def test_unknown_scenario_name_exits_2() -> None:
    result = runner.invoke(app, ["run", "nonexistent_scenario"])
    assert result.exit_code == 2
    assert "nonexistent_scenario" in _one_line_error(result.output)


def test_validate_good_file(write_scenario: Callable[..., Path]) -> None:
    result = runner.invoke(app, ["scenarios", "validate", str(write_scenario())])
    assert result.exit_code == 0, result.output
    assert "ok" in result.output and "mini.toml" in result.output


def test_validate_bad_file(write_scenario: Callable[..., Path]) -> None:
    good = write_scenario()
    bad = write_scenario(BAD_DAYS, filename="broken.toml")
    result = runner.invoke(app, ["scenarios", "validate", str(good), str(bad)])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "ok" in result.output and "mini.toml" in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "broken.toml" in errors[0]


def test_validate_unknown_profile(write_scenario: Callable[..., Path]) -> None:
    scenario = write_scenario('name = "p"\nprofile = "no_such_profile"\n', filename="p.toml")
    result = runner.invoke(app, ["scenarios", "validate", str(scenario)])
    assert result.exit_code == 2
    assert "no_such_profile" in result.output and "default" in result.output


def test_validate_repo_baseline() -> None:
    baseline = Path(__file__).resolve().parents[1] / "scenarios" / "baseline.toml"
    result = runner.invoke(app, ["scenarios", "validate", str(baseline)])
    assert result.exit_code == 0, result.output


def test_list_folder_shows_names(tmp_path: Path, write_scenario: Callable[..., Path]) -> None:
    folder = tmp_path / "lib"
    write_scenario(filename="alpha.toml", name="alpha", folder=folder, customers=4321)
    write_scenario(BAD_DAYS, filename="beta.toml", folder=folder)
    (folder / "notes.txt").write_text("not a scenario", encoding="utf-8")
    result = runner.invoke(app, ["scenarios", "list", "--folder", str(folder)])
    assert result.exit_code == 0, result.output
    assert "alpha" in result.output and "beta" in result.output
    assert "4,321" in result.output
    assert "invalid" in result.output
    assert "notes" not in result.output


def test_list_empty_folder_exits_2(tmp_path: Path) -> None:
    (tmp_path / "nothing").mkdir()
    result = runner.invoke(app, ["scenarios", "list", "--folder", str(tmp_path / "nothing")])
    assert result.exit_code == 2
    assert "no scenario files" in _one_line_error(result.output)


def test_no_arguments_shows_help() -> None:
    result = runner.invoke(app, [])
    assert "run" in result.output and "scenarios" in result.output
