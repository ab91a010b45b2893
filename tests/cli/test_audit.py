"""`fraudsim audit`: writes its pages, exits 1 on flags only with --fail-on-flags, one-line
errors for a missing run."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from fraudsim.cli import app
from tests.report.test_audit import _transactions, _write_run

runner = CliRunner()


def test_audit_writes_pages_and_fails_on_flags_only_when_asked(tmp_path: Path) -> None:
    run = _write_run(tmp_path / "run", _transactions(4000, 120))
    plain = runner.invoke(app, ["audit", str(run)])
    assert plain.exit_code == 0, plain.output
    assert (run / "audit.json").exists() and (run / "audit.html").exists()
    assert "amount == 29.99" in plain.output
    strict = runner.invoke(app, ["audit", str(run), "--fail-on-flags", "--out", str(tmp_path)])
    assert strict.exit_code == 1 and (tmp_path / "audit.json").exists()


def test_missing_run_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["audit", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert result.output.count("error:") == 1
