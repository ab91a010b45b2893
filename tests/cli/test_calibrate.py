"""`fraudsim calibrate` (fraudsim.cli.calibrate): writes a profile and a summary; bad input
exits 2 with one line and leaves no profile. Deriving profiles is tested in
tests/calibration/test_fromdata.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from fraudsim.calibration import load_profile
from fraudsim.cli import app
from tests.helpers import BERKA


@pytest.mark.parametrize(
    ("text", "args", "message"),
    [
        (None, ["--epsilon", "-2"], "--epsilon"),
        ("", [], "empty file"),
        ("date,sum\n2024-01-01,3\n", [], "no amount column found"),
        ("timestamp,amount\nnot-a-date,3\n", [], "cannot parse 'not-a-date'"),
    ],
)
def test_cli_bad_input_one_line_and_no_profile_left(
    tmp_path: Path, text: str | None, args: list[str], message: str
) -> None:
    source = BERKA
    if text is not None:
        source = tmp_path / "table.csv"
        source.write_text(text)
    out = tmp_path / "out" / "profile.toml"
    out.parent.mkdir()
    result = CliRunner().invoke(app, ["calibrate", "--from", str(source), "--out", str(out), *args])
    assert result.exit_code == 2
    assert message in result.output and result.output.strip().count("\n") == 0
    assert list(out.parent.iterdir()) == []


def test_cli_writes_profile_and_summary(tmp_path: Path) -> None:
    out = tmp_path / "berka.toml"
    result = CliRunner().invoke(
        app, ["calibrate", "--from", str(BERKA), "--out", str(out), "--currency", "CZK"]
    )
    assert result.exit_code == 0, result.output
    assert "6,430 rows" in result.output and "dates only" in result.output
    assert load_profile(out).empirical is not None
    assert [p.name for p in tmp_path.iterdir()] == ["berka.toml"]
