"""Fidelity: the check record (a profile target against the simulated value, with its
tolerance) that the dataset card and the report share, its constructors, and the aggregates of
honest card traffic counted while the writer streams rows."""

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


# Tolerance slack for float noise: an error equal to its tolerance passes.
_SLACK = 1e-12


@dataclass(frozen=True)
class FidelityCheck:
    """One profile target against the simulated value: the record the dataset card and the
    report both use (`fraudsim report` writes it with `to_json`).

    `kind` says how `error` is measured: "relative" (|sim - target| / |target|), "absolute"
    (|sim - target|), "max" (excess over the limit `target`), "l1" (sum |p - q| of two
    normalised shapes, 0 to 2; `target` is 0 and `simulated` the distance), "ks" (KS distance,
    0 to 1) or "not_measured" (a figure the tables cannot show: every number and `passed` are
    None). Non-finite numbers are stored as None. `section` is the profile section tested, or a
    customer segment (`age_band=18-24`) for the per-segment checks. `why` is filled by the report
    on a failed check: the mechanism behind the miss.
    """

    section: str
    name: str
    target: float | None
    simulated: float | None
    error: float | None
    tolerance: float | None
    kind: str
    passed: bool | None
    note: str = ""
    why: str | None = None

    def to_json(self) -> dict[str, object]:
        """The check as report.json writes it (`why` only when set)."""
        data = asdict(self)
        if self.why is None:
            del data["why"]
        return data


def _finite(x: float | None) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


def judged(
    section: str,
    name: str,
    target: float,
    simulated: float,
    error: float,
    tolerance: float,
    kind: str,
    note: str = "",
) -> FidelityCheck:
    """A measured check: passes when the error is finite and within the tolerance."""
    passed = bool(math.isfinite(error) and error <= tolerance + _SLACK)
    return FidelityCheck(
        section,
        name,
        _finite(target),
        _finite(simulated),
        _finite(error),
        tolerance,
        kind,
        passed,
        note,
    )


def relative(
    section: str, name: str, target: float, simulated: float, tol: float, note: str = ""
) -> FidelityCheck:
    """error = |sim - target| / |target| (or |sim| when the target is 0)."""
    error = abs(simulated - target) / abs(target) if target else abs(simulated)
    return judged(section, name, target, simulated, error, tol, "relative", note)


def absolute(
    section: str, name: str, target: float, simulated: float, tol: float, note: str = ""
) -> FidelityCheck:
    """error = |sim - target| (for shares whose target is 0 and for exact counts)."""
    return judged(section, name, target, simulated, abs(simulated - target), tol, "absolute", note)


def at_most(
    section: str, name: str, limit: float, simulated: float, note: str = ""
) -> FidelityCheck:
    """Passes when the simulated value does not exceed the limit; error = excess."""
    return judged(section, name, limit, simulated, max(simulated - limit, 0.0), 0.0, "max", note)


def shape(
    section: str,
    name: str,
    target: list[float] | np.ndarray,
    counts: np.ndarray,
    tol: float,
    note: str = "",
) -> FidelityCheck:
    """L1 distance (0..2) between two normalised shapes."""
    p = np.asarray(target, float)
    p = p / p.sum()
    counts = np.asarray(counts, float)
    q = counts / counts.sum() if counts.sum() else np.zeros_like(p)
    l1 = float(np.abs(p - q).sum())
    return judged(section, name, 0.0, l1, l1, tol, "l1", note)


def ks(section: str, name: str, distance: float, tol: float, note: str = "") -> FidelityCheck:
    """A KS distance against a model distribution."""
    return judged(section, name, 0.0, distance, distance, tol, "ks", note)


def not_measured(section: str, name: str, why: str) -> FidelityCheck:
    """A profile figure the exported tables cannot show: listed, not counted."""
    return FidelityCheck(section, name, None, None, None, None, "not_measured", None, why)


@dataclass(frozen=True)
class FidelitySummary:
    """How many measured checks pass; the names of those that miss."""

    passed: int
    total: int
    share: float | None
    not_measured: int
    failed: list[str]

    @classmethod
    def of(cls, checks: list[FidelityCheck]) -> FidelitySummary:
        counted = [c for c in checks if c.passed is not None]
        passed = sum(1 for c in counted if c.passed)
        return cls(
            passed=passed,
            total=len(counted),
            share=passed / len(counted) if counted else None,
            not_measured=len(checks) - len(counted),
            failed=[c.name for c in counted if not c.passed],
        )

    def to_json(self) -> dict[str, object]:
        return asdict(self)


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
        cards, cal, atm = "cards", "calendar", "atm"
        checks = [
            relative(
                cards,
                "card purchases per card per month",
                profile.cards.purchases_per_card_month,
                self.purchases / max(n_cards, 1) / months,
                tol,
            ),
            relative(
                cards,
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
                relative(
                    cards,
                    f"median ticket, {label}",
                    target,
                    self.median(label),
                    tol,
                    "includes the income effect on ticket size",
                )
            )
        checks.append(
            shape(
                cal,
                "hour-of-day shape of card purchases",
                profile.calendar.hour_weights,
                self.hours,
                l1,
            )
        )
        if days >= 7:
            # Normalise by how often each weekday occurs in the window.
            occurrences = np.bincount([d.weekday() for d in self.dates], minlength=7)
            checks.append(
                shape(
                    cal,
                    "weekday shape of card purchases",
                    profile.calendar.weekday_weights,
                    self.weekdays / np.maximum(occurrences, 1),
                    l1,
                    "per occurrence of each weekday in the window",
                )
            )
        checks.append(
            relative(
                atm,
                "ATM withdrawals per debit card per month",
                profile.atm.withdrawals_per_debit_card_month,
                self.atm / max(n_debit_cards, 1) / months,
                tol,
            )
        )
        atm_target = profile.atm.amount_median * math.exp(profile.atm.amount_sigma**2 / 2)
        checks.append(
            relative(
                atm,
                "mean ATM withdrawal",
                atm_target,
                self.atm_amount / max(self.atm, 1),
                tol,
                "target = median * exp(sigma^2/2); amounts are rounded to the step",
            )
        )
        return checks


def check_fidelity(
    transactions: pl.DataFrame | pl.LazyFrame, cards: pl.DataFrame, profile: Profile, days: int
) -> list[FidelityCheck]:
    """Compare a table of transactions with the profile it was drawn from: the card-traffic
    checks of `FidelityStats.checks`, each filed under the profile section it tests.

    Counts attempts (declined rows included) because the targets describe what customers try to
    do; fraud rows are excluded. The dataset card gets the same checks from the aggregates the
    exporter gathered while writing; `fraudsim report` from the written run.
    """
    stats = FidelityStats()
    stats.add(transactions)
    debit = cards.filter(pl.col("kind") == "debit").height
    return stats.checks(profile, cards.height, debit, days)


def _number(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def fidelity_table(checks: list[FidelityCheck]) -> str:
    """Markdown table of checks."""
    lines = [
        "| target | profile | simulated | error | tolerance | pass |",
        "|---|---|---|---|---|---|",
    ]
    for c in checks:
        l1 = c.kind == "l1"
        target = "shape" if l1 else _number(c.target, ".4g")
        sim = "L1 " + _number(c.simulated, ".3f") if l1 else _number(c.simulated, ".4g")
        err = _number(c.error, ".3f" if l1 else ".1%")
        tol = _number(c.tolerance, ".2f" if l1 else ".0%")
        lines.append(
            f"| {c.name} | {target} | {sim} | {err} | {tol} | {'yes' if c.passed else '**no**'} |"
        )
    return "\n".join(lines)
