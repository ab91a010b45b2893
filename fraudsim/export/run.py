"""What the exporter needs to know of a finished run: a protocol, so export never imports the
layers that make runs (`dataset.Dataset` satisfies it)."""

from __future__ import annotations

from typing import Any, Protocol

from fraudsim.calibration import Profile
from fraudsim.config.scenario import ScenarioConfig


class RunTables(Protocol):
    """A finished run: its scenario, profile, row counts, fraud summary and timings."""

    config: ScenarioConfig
    profile: Profile
    fraud_summary: dict[str, Any]
    timings: dict[str, float]

    def row_counts(self) -> dict[str, int]:
        """Rows per exported table."""
        ...

    def card_counts(self) -> tuple[int, int]:
        """(cards, debit cards) of the run."""
        ...
