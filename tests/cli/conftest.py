"""Fixtures of the command-line tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run in the test's own directory, so nothing lands in the repo's outputs/. Opt-in: tests
    relying on a command's default repo paths (`fraudsim stress --train scenarios/...`) need
    the repository as their working directory."""
    monkeypatch.chdir(tmp_path)
