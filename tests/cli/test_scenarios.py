"""`fraudsim scenarios validate` and `fraudsim scenarios list`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fraudsim.cli import app
from tests.helpers import SCENARIOS, one_line_error

runner = CliRunner()
pytestmark = pytest.mark.usefixtures("in_tmp")  # every test in its own directory

BAD_DAYS = 'name = "broken"\ndays = -3\n'


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
    baseline = SCENARIOS / "baseline.toml"
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
    assert "no scenario files" in one_line_error(result.output)
