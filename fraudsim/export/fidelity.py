"""Fidelity: simulated aggregates of a run against the profile's targets, with tolerances."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import polars as pl

from fraudsim.calibration import Profile
from fraudsim.export.schema import CHANNELS, TX_TYPES

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


_PURCHASE = TX_TYPES.index("purchase")
_ATM = TX_TYPES.index("atm_withdrawal")
_CNP = CHANNELS.index("cnp")

# Log-spaced amount bins for medians: 0.01 to 10^6 major units, ~0.5% wide.
_EDGES = np.logspace(-2, 6, 4001)


def _amount_bins(amount: np.ndarray) -> np.ndarray:
    """`np.searchsorted(_EDGES, amount)`, from the logarithm (the edges are evenly spaced in
    it) and one correction step for rounding: several times cheaper for a day's rows."""
    last = len(_EDGES)
    with np.errstate(divide="ignore", invalid="ignore"):
        guess = np.ceil((np.log10(amount) + 2.0) * ((last - 1) / 8.0))
    i = np.clip(np.nan_to_num(guess, nan=0.0, posinf=last, neginf=0.0), 0, last).astype(np.int64)
    # Exact: edges[i - 1] < amount <= edges[i] (as searchsorted's left side).
    i -= (i > 0) & (amount <= _EDGES[np.maximum(i - 1, 0)])
    i += (i < last) & (amount > _EDGES[np.minimum(i, last - 1)])
    return i


class FidelityStats:
    """Aggregates of honest traffic needed for the fidelity checks, accumulated frame by frame
    (a day at a time on the exporter's thread, or a whole table at once): bounded memory."""

    def __init__(self) -> None:
        self.purchases = 0
        self.cnp = 0
        self.amounts = {
            "pos": np.zeros(len(_EDGES) + 1, np.int64),
            "cnp": np.zeros(len(_EDGES) + 1, np.int64),
        }
        self.hours = np.zeros(24, np.int64)
        self.weekdays = np.zeros(7, np.int64)
        self.dates: set[object] = set()
        self.atm = 0
        self.atm_amount = 0.0

    def add(
        self, transactions: pl.DataFrame | pl.LazyFrame, dates: list[object] | None = None
    ) -> None:
        """Add a table (or part of one) of exported transactions; `dates` (the local dates it
        covers) may be given to save finding them."""
        lazy = transactions.lazy()
        if not lazy.collect_schema().names():
            return
        stamp, kind = pl.col("timestamp"), pl.col("tx_type")
        rows = (
            lazy.filter(~pl.col("is_fraud") & kind.is_in(["purchase", "atm_withdrawal"]))
            .select(
                (kind == "atm_withdrawal").alias("atm"),
                (pl.col("channel") == "cnp").alias("cnp"),
                "amount",
                stamp.dt.hour().alias("hour"),
                stamp.dt.weekday().alias("weekday"),
            )
            .collect()
        )
        if dates is None:
            dates = lazy.select(stamp.dt.date().unique()).collect().to_series().to_list()
        self._add(
            rows["atm"].to_numpy(),
            rows["cnp"].to_numpy(),
            rows["amount"].to_numpy(),
            rows["hour"].to_numpy(),
            rows["weekday"].to_numpy() - 1,
            dates,
        )

    def add_arrays(
        self,
        is_fraud: np.ndarray,
        tx_type: np.ndarray,
        channel: np.ndarray,
        amount: np.ndarray,
        local_seconds: np.ndarray,
        dates: list[object] | None = None,
    ) -> None:
        """Add exported transactions given as arrays: schema codes of `tx_type` and `channel`,
        and wall-clock seconds since 1970 in the run's time zone. Same aggregates as `add`,
        without building or reading a table (the exporter calls this for every day)."""
        if dates is None:
            dates = [
                dt.date(1970, 1, 1) + dt.timedelta(days=int(d))
                for d in np.unique(local_seconds // 86_400).tolist()
            ]
        kind = tx_type.astype(np.int64, copy=False)
        keep = ~is_fraud & ((kind == _PURCHASE) | (kind == _ATM))
        atm = kind[keep] == _ATM
        local = local_seconds[keep]
        days = local // 86_400
        self._add(
            atm,
            channel[keep] == _CNP,
            amount[keep],
            (local - days * 86_400) // 3600,
            (days + 3) % 7,  # 1970-01-01 was a Thursday
            dates,
        )

    def _add(
        self,
        atm: np.ndarray,
        cnp: np.ndarray,
        amount: np.ndarray,
        hour: np.ndarray,
        weekday: np.ndarray,
        dates: list[object],
    ) -> None:
        cnp = cnp & ~atm
        purchase = ~atm
        self.purchases += int(purchase.sum())
        self.cnp += int(cnp.sum())
        for label, mask in (("pos", purchase & ~cnp), ("cnp", cnp)):
            bins = _amount_bins(amount[mask])
            self.amounts[label] += np.bincount(bins, minlength=len(_EDGES) + 1)
        self.hours += np.bincount(hour[purchase], minlength=24)[:24]
        self.weekdays += np.bincount(weekday[purchase], minlength=7)[:7]
        self.dates.update(dates)
        self.atm += int(atm.sum())
        self.atm_amount += float(amount[atm].sum())

    def merge(self, other: FidelityStats) -> None:
        """Add another part's aggregates (shards of one run)."""
        self.purchases += other.purchases
        self.cnp += other.cnp
        for label in self.amounts:
            self.amounts[label] += other.amounts[label]
        self.hours += other.hours
        self.weekdays += other.weekdays
        self.dates.update(other.dates)
        self.atm += other.atm
        self.atm_amount += other.atm_amount

    def to_json(self) -> dict[str, object]:
        """The aggregates as JSON-able data (histograms stored sparsely)."""
        return {
            "purchases": self.purchases,
            "cnp": self.cnp,
            "amounts": {
                label: {str(i): int(v) for i, v in enumerate(counts.tolist()) if v}
                for label, counts in self.amounts.items()
            },
            "hours": self.hours.tolist(),
            "weekdays": self.weekdays.tolist(),
            "dates": sorted(str(d) for d in self.dates),
            "atm": self.atm,
            "atm_amount": self.atm_amount,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FidelityStats:
        stats = cls()
        stats.purchases, stats.cnp = int(data["purchases"]), int(data["cnp"])
        for label, counts in data["amounts"].items():
            for i, v in counts.items():
                stats.amounts[label][int(i)] = v
        stats.hours = np.asarray(data["hours"], np.int64)
        stats.weekdays = np.asarray(data["weekdays"], np.int64)
        stats.dates = {dt.date.fromisoformat(d) for d in data["dates"]}
        stats.atm, stats.atm_amount = int(data["atm"]), float(data["atm_amount"])
        return stats

    def median(self, label: str) -> float:
        """Median amount of a channel, from the histogram (within ~0.5%)."""
        counts = self.amounts[label]
        total = counts.sum()
        if total == 0:
            return 0.0
        i = int(np.searchsorted(np.cumsum(counts), total / 2))
        lo = _EDGES[max(i - 1, 0)]
        hi = _EDGES[min(i, len(_EDGES) - 1)]
        return float(math.sqrt(lo * hi))

    def checks(
        self, profile: Profile, n_cards: int, n_debit_cards: int, days: int
    ) -> list[FidelityCheck]:
        """Compare the aggregates with the profile's targets."""
        if self.purchases == 0 and self.atm == 0:
            return []
        tol, l1 = profile.tolerances.relative, profile.tolerances.shape_l1
        months = days / DAYS_PER_MONTH
        checks = [
            _relative(
                "card purchases per card per month",
                profile.cards.purchases_per_card_month,
                self.purchases / max(n_cards, 1) / months,
                tol,
            ),
            _relative(
                "CNP share of card purchases",
                profile.cards.cnp_share,
                self.cnp / max(self.purchases, 1),
                tol,
            ),
        ]
        for label, target in (
            ("pos", profile.cards.ticket_median_pos),
            ("cnp", profile.cards.ticket_median_cnp),
        ):
            checks.append(
                _relative(
                    f"median ticket, {label}",
                    target,
                    self.median(label),
                    tol,
                    "includes the income effect on ticket size",
                )
            )
        checks.append(
            _shape(
                "hour-of-day shape of card purchases", profile.calendar.hour_weights, self.hours, l1
            )
        )
        if days >= 7:
            # Normalise by how often each weekday occurs in the window.
            occurrences = np.bincount([d.weekday() for d in self.dates], minlength=7)
            checks.append(
                _shape(
                    "weekday shape of card purchases",
                    profile.calendar.weekday_weights,
                    self.weekdays / np.maximum(occurrences, 1),
                    l1,
                    "per occurrence of each weekday in the window",
                )
            )
        checks.append(
            _relative(
                "ATM withdrawals per debit card per month",
                profile.atm.withdrawals_per_debit_card_month,
                self.atm / max(n_debit_cards, 1) / months,
                tol,
            )
        )
        atm_target = profile.atm.amount_median * math.exp(profile.atm.amount_sigma**2 / 2)
        checks.append(
            _relative(
                "mean ATM withdrawal",
                atm_target,
                self.atm_amount / max(self.atm, 1),
                tol,
                "target = median * exp(sigma^2/2); amounts are rounded to the step",
            )
        )
        return checks


def check_fidelity(
    transactions: pl.DataFrame | pl.LazyFrame,
    cards: pl.DataFrame,
    profile: Profile,
    days: int,
    stats: FidelityStats | None = None,
) -> list[FidelityCheck]:
    """Compare a run's honest traffic with the profile it was drawn from.

    Counts attempts (declined rows included) because the targets describe what customers try to
    do; fraud rows are excluded. `stats`, if given, are the run's aggregates already
    accumulated (the exporter gathers them while writing); otherwise they are computed here.
    """
    if stats is None:
        stats = FidelityStats()
        stats.add(transactions)
    debit = cards.filter(pl.col("kind") == "debit").height
    return stats.checks(profile, cards.height, debit, days)


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
