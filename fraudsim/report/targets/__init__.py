"""Fidelity: every profile target the exported tables can show, against the simulated value.

Counts are of attempts (declined rows included) of the honest traffic model (rows without an
episode): the targets describe what customers try to do. One module per family of targets, each
returning `FidelityCheck`s (fraudsim.export.fidelity); `fidelity` runs them all in report order
and `explain` adds the reason to the checks that miss. `Fidelity` is the report's section.
"""

from __future__ import annotations

from dataclasses import dataclass

from fraudsim.export.fidelity import FidelityCheck, FidelitySummary
from fraudsim.report.reasons import explain
from fraudsim.report.run import RunData
from fraudsim.report.targets import accounts, calendar, cards, events, population

FAMILIES = (
    population.population,
    population.merchants,
    cards.cards,
    cards.atm,
    accounts.transfers,
    accounts.balances,
    calendar.calendar,
    events.events,
    events.fraud,
)


def fidelity(run: RunData) -> list[FidelityCheck]:
    """Every check, each with the reason it misses (if it does)."""
    out: list[FidelityCheck] = []
    for family in FAMILIES:
        out.extend(family(run))
    return [explain(c, run) for c in out]


@dataclass(frozen=True)
class Fidelity:
    """The report's fidelity section: every check and the per-segment checks
    (fraudsim.report.representation)."""

    checks: list[FidelityCheck]
    segments: list[FidelityCheck]

    @property
    def summary(self) -> FidelitySummary:
        return FidelitySummary.of(self.checks)

    def to_json(self) -> dict[str, object]:
        """As report.json holds it."""
        return {
            "summary": self.summary.to_json(),
            "checks": [c.to_json() for c in self.checks],
            "segments": [c.to_json() for c in self.segments],
        }
