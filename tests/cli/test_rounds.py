"""`fraudsim loop` (fraudsim.cli.rounds): writes rounds.json and rounds.html; a bad detector
exits 2 with one line and writes nothing. The rounds themselves are tested in
tests/evaluate/test_rounds.py."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from fraudsim.cli import app


def test_cli_loop_writes_rounds_and_fails_in_one_line(tmp_path: Path) -> None:
    runner = CliRunner()
    bad = runner.invoke(app, ["loop", "--detector", "nope", "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "unknown detector" in bad.output
    assert not (tmp_path / "x").exists()
    ok = runner.invoke(
        app,
        [
            "loop",
            "--detector",
            "rules",
            "--threshold",
            "3",
            "--rounds",
            "1",
            "--days",
            "2",
            "--customers",
            "400",
            "--out",
            str(tmp_path / "r"),
        ],
    )
    assert ok.exit_code == 0, ok.output
    assert (tmp_path / "r" / "rounds.json").exists() and (tmp_path / "r" / "rounds.html").exists()
