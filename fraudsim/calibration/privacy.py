"""Differential privacy for derived profiles: Laplace noise on released counts, suppression.

Privacy unit: one source row (event-level DP). Every released statistic is a histogram in which
a row falls into exactly one bin (sensitivity 1), except the per-account activity histogram,
where one row moves an account to a neighbouring bin (sensitivity 2). Histograms of the same
kind over different transaction types touch disjoint rows (parallel composition), so the budget
is split evenly over the *kinds* of histogram released (sequential composition); see
`Privacy.kinds`. Quantiles are read from the noisy histograms, never from the raw values.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from fraudsim.core.errors import ConfigError

MECHANISM = "laplace"
NOISE_FLOOR = 3.0  # noisy cells below this many noise scales are suppressed (as zero)


def check_epsilon(epsilon: float | None) -> None:
    if epsilon is not None and not (epsilon > 0 and np.isfinite(epsilon)):
        raise ConfigError(f"--epsilon: {epsilon} is not allowed; allowed: a positive number")


@dataclass
class Privacy:
    """Adds noise and suppresses small cells; records what it did for the provenance block.

    Without epsilon no noise is added, and only cells below `min_count` are suppressed.
    """

    epsilon: float | None
    min_count: int
    kinds: list[str]
    rng: np.random.Generator
    suppressed: list[str] = field(default_factory=list)
    cells_suppressed: int = 0

    def __post_init__(self) -> None:
        check_epsilon(self.epsilon)
        if self.min_count < 0:
            raise ConfigError(f"--min-count: {self.min_count}; allowed: 0 or more")

    @property
    def per_kind(self) -> float | None:
        """Epsilon spent on each kind of histogram."""
        return None if self.epsilon is None else self.epsilon / len(self.kinds)

    def counts(self, name: str, values: np.ndarray, sensitivity: float = 1.0) -> np.ndarray:
        """Noisy, non-negative counts with cells below min_count set to 0 (named in provenance)."""
        values = np.asarray(values, dtype=np.float64)
        if name.split("[")[0] not in self.kinds:
            raise KeyError(f"statistic kind {name!r} is not in the privacy budget")
        threshold = float(self.min_count)
        if self.per_kind is not None:
            values = values + self.rng.laplace(0.0, sensitivity / self.per_kind, values.shape)
            # Empty cells turned positive by noise would otherwise add mass everywhere (e.g. in
            # far amount bins): also drop cells within three noise scales of zero.
            threshold = max(threshold, NOISE_FLOOR * sensitivity / self.per_kind)
        values = np.maximum(values, 0.0)
        small = (values > 0) & (values < threshold)
        if small.any():
            self.cells_suppressed += int(small.sum())
            self.suppressed.append(f"{name}: {int(small.sum())} of {values.size} cells")
            values = np.where(small, 0.0, values)
        return values

    def count(self, name: str, value: float) -> float:
        return float(self.counts(name, np.array([value]))[0])

    def provenance(self) -> dict[str, object]:
        block: dict[str, object] = {
            "min_count": self.min_count,
            "cells_suppressed": self.cells_suppressed,
            "suppressed": self.suppressed,
        }
        if self.epsilon is not None:
            block.update(
                epsilon=self.epsilon,
                mechanism=MECHANISM,
                unit="one source row (event-level)",
                budget_split=f"epsilon/{len(self.kinds)} for each of: {', '.join(self.kinds)}",
                suppression=f"cells below max(min_count, {NOISE_FLOOR} noise scales)",
            )
        return block


def quantiles_from_histogram(
    counts: np.ndarray, edges: np.ndarray, levels: np.ndarray
) -> list[float]:
    """Quantiles at `levels` (0..1) of a histogram, linear inside each bin."""
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum()
    if total <= 0:
        return []
    cdf = np.concatenate([[0.0], np.cumsum(counts) / total])
    # Keep only edges of non-empty bins, so no mass is smeared over empty stretches.
    filled = counts > 0
    keep = np.concatenate([[False], filled]) | np.concatenate([filled, [False]])
    return np.interp(levels, cdf[keep], edges[keep]).tolist()
