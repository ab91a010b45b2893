"""Fidelity: simulated aggregates of a run against the profile's targets, with tolerances."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import polars as pl

from fraudsim.calibration import Profile

DAYS_PER_MONTH = 30.44


@dataclass(frozen=True)
class FidelityCheck:
    """One target: its value, the simulated value, the error and whether it is within tolerance.

    `kind` is "relative" (error = |sim - target| / target) or "l1" (error = sum |p - q| of two
    shapes, 0 to 2).
    """

    name: str
    target: float
    simulated: float
    error: float
    tolerance: float
    kind: str
    note: str = ""

    @property
    def passed(self) -> bool:
        return self.error <= self.tolerance

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "passed": self.passed}


def _relative(
    name: str, target: float, simulated: float, tol: float, note: str = ""
) -> FidelityCheck:
    error = abs(simulated - target) / target if target else abs(simulated)
    return FidelityCheck(name, target, simulated, error, tol, "relative", note)


def _shape(
    name: str, target: list[float], counts: np.ndarray, tol: float, note: str = ""
) -> FidelityCheck:
    p = np.asarray(target, float) / sum(target)
    q = counts / counts.sum() if counts.sum() else np.zeros_like(p)
    return FidelityCheck(
        name, 0.0, float(np.abs(p - q).sum()), float(np.abs(p - q).sum()), tol, "l1", note
    )


def check_fidelity(
    transactions: pl.DataFrame | pl.LazyFrame, cards: pl.DataFrame, profile: Profile, days: int
) -> list[FidelityCheck]:
    """Compare a run's legit traffic with the profile it was drawn from.

    Counts attempts (declined rows included) because the targets describe what customers try to
    do; fraud rows are excluded.
    """
    tol, l1 = profile.tolerances.relative, profile.tolerances.shape_l1
    if not transactions.lazy().collect_schema().names():
        return []
    legit = (
        transactions.lazy()
        .filter(~pl.col("is_fraud"))
        .select("tx_type", "channel", "amount", "timestamp")
    )
    purchases = legit.filter(pl.col("tx_type") == "purchase").collect()
    months = days / DAYS_PER_MONTH
    checks: list[FidelityCheck] = []
    n_cards = max(cards.height, 1)
    checks.append(
        _relative(
            "card purchases per card per month",
            profile.cards.purchases_per_card_month,
            purchases.height / n_cards / months,
            tol,
        )
    )
    cnp = purchases.filter(pl.col("channel") == "cnp")
    pos = purchases.filter(pl.col("channel") == "pos")
    checks.append(
        _relative(
            "CNP share of card purchases",
            profile.cards.cnp_share,
            cnp.height / max(purchases.height, 1),
            tol,
        )
    )
    for label, frame, target in (
        ("pos", pos, profile.cards.ticket_median_pos),
        ("cnp", cnp, profile.cards.ticket_median_cnp),
    ):
        median = float(frame["amount"].median() or 0.0)
        checks.append(
            _relative(
                f"median ticket, {label}",
                target,
                median,
                tol,
                "includes the income effect on ticket size",
            )
        )
    hours = purchases["timestamp"].dt.hour().to_numpy()
    checks.append(
        _shape(
            "hour-of-day shape of card purchases",
            profile.calendar.hour_weights,
            np.bincount(hours, minlength=24)[:24],
            l1,
        )
    )
    if days >= 7:
        weekday = purchases["timestamp"].dt.weekday().to_numpy() - 1
        # Normalise by how often each weekday occurs in the window.
        occurrences = np.bincount(
            (purchases["timestamp"].dt.date().unique().dt.weekday().to_numpy() - 1), minlength=7
        )
        counts = np.bincount(weekday, minlength=7) / np.maximum(occurrences, 1)
        checks.append(
            _shape(
                "weekday shape of card purchases",
                profile.calendar.weekday_weights,
                counts,
                l1,
                "per occurrence of each weekday in the window",
            )
        )
    debit_cards = cards.filter(pl.col("kind") == "debit").height
    atm = legit.filter(pl.col("tx_type") == "atm_withdrawal").collect()
    checks.append(
        _relative(
            "ATM withdrawals per debit card per month",
            profile.atm.withdrawals_per_debit_card_month,
            atm.height / max(debit_cards, 1) / months,
            tol,
        )
    )
    atm_mean_target = profile.atm.amount_median * math.exp(profile.atm.amount_sigma**2 / 2)
    checks.append(
        _relative(
            "mean ATM withdrawal",
            atm_mean_target,
            float(atm["amount"].mean() or 0.0),
            tol,
            "target = median * exp(sigma^2/2); amounts are rounded to the step",
        )
    )
    return checks


def fidelity_table(checks: list[FidelityCheck]) -> str:
    """Markdown table of checks."""
    lines = [
        "| target | profile | simulated | error | tolerance | pass |",
        "|---|---|---|---|---|---|",
    ]
    for c in checks:
        target = "shape" if c.kind == "l1" else f"{c.target:.4g}"
        sim = f"L1 {c.simulated:.3f}" if c.kind == "l1" else f"{c.simulated:.4g}"
        err = f"{c.error:.3f}" if c.kind == "l1" else f"{c.error:.1%}"
        tol = f"{c.tolerance:.2f}" if c.kind == "l1" else f"{c.tolerance:.0%}"
        lines.append(
            f"| {c.name} | {target} | {sim} | {err} | {tol} | {'yes' if c.passed else '**no**'} |"
        )
    return "\n".join(lines)
