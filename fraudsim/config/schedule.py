"""Schedules: when a typology's episodes start (window, count or rate, ramp and drift)."""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

# Typologies' `default_rate_per_day` is a rate for a world of this many customers (the default
# population, at which they were set): without an explicit amount, a bigger world has
# proportionally more episodes, so a prevalence holds at any size.
REFERENCE_CUSTOMERS = 20_000
MONTH_DAYS = 30.0  # a "month" of the per-customer rates


class Schedule(BaseModel):
    """When episodes start.

    At most one of `episodes` (a total over the window), `rate_per_day` (mean starts per day in
    the whole world, whatever its size) or `per_customer_month` (mean starts per customer and
    30 days, so the count grows with the population). Without any, the typology's default
    applies, per customer too (see `expected_episodes`). The intensity over the window follows
    `ramp`: flat, a linear onset from zero to full, or exponential growth doubling every
    `doubling_days` ("starts on day 10 and doubles weekly").
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    start_day: int = Field(default=0, ge=0, description="first day episodes may start")
    end_day: int | None = Field(default=None, gt=0, description="exclusive; default: scenario end")
    episodes: int | None = Field(
        default=None,
        ge=0,
        le=10_000_000,
        description="total episodes in the window, in the whole world",
    )
    rate_per_day: float | None = Field(
        default=None,
        ge=0.0,
        le=1_000_000.0,
        description="mean starts per day at full intensity, in the whole world",
    )
    per_customer_month: float | None = Field(
        default=None,
        ge=0.0,
        le=100.0,
        description="mean starts per customer and 30 days at full intensity (grows with the "
        "population)",
    )
    ramp: Literal["flat", "linear", "exponential"] = Field(
        default="flat", description="flat, linear onset, or exponential growth"
    )
    doubling_days: float = Field(
        default=7.0, gt=0.0, description="with ramp = exponential: days to double"
    )

    @model_validator(mode="after")
    def _one_amount(self) -> Schedule:
        given = [self.episodes, self.rate_per_day, self.per_customer_month]
        if sum(v is not None for v in given) > 1:
            raise ValueError("give one of episodes, rate_per_day or per_customer_month")
        if self.end_day is not None and self.end_day <= self.start_day:
            raise ValueError("end_day must be after start_day")
        return self

    def window(self, days: int) -> tuple[int, int]:
        """[first, last) simulated day of the schedule, clipped to the scenario."""
        end = min(self.end_day if self.end_day is not None else days, days)
        return min(self.start_day, days), end

    def intensity(self, days: int) -> np.ndarray:
        """Relative intensity of each day of the scenario (0 outside the window)."""
        first, end = self.window(days)
        weights = np.zeros(days)
        if end <= first:
            return weights
        x = np.arange(end - first, dtype=np.float64)
        if self.ramp == "linear":
            weights[first:end] = (x + 1) / (end - first)
        elif self.ramp == "exponential":
            weights[first:end] = 2.0 ** (x / self.doubling_days)
        else:
            weights[first:end] = 1.0
        return weights

    @property
    def amount_given(self) -> bool:
        """Whether the scenario names how many episodes (a count or a rate)."""
        return any(
            v is not None for v in (self.episodes, self.rate_per_day, self.per_customer_month)
        )

    def expected_episodes(
        self,
        days: int,
        default_rate: float,
        customers: int = REFERENCE_CUSTOMERS,
        default_per_customer_month: float | None = None,
    ) -> float:
        """Mean number of episodes over the scenario, in a world of `customers`.

        `default_rate` is per day in a world of REFERENCE_CUSTOMERS customers (a typology's
        `default_rate_per_day`); `default_per_customer_month`, when given, replaces it (an
        honest rate from the profile).
        """
        if self.episodes is not None:
            return float(self.episodes)
        if self.rate_per_day is not None:
            rate = self.rate_per_day
        elif self.per_customer_month is not None:
            rate = self.per_customer_month * customers / MONTH_DAYS
        elif default_per_customer_month is not None:
            rate = default_per_customer_month * customers / MONTH_DAYS
        else:
            rate = default_rate * customers / REFERENCE_CUSTOMERS
        weights = self.intensity(days)
        # A rate applies at full intensity; ramps scale it down before full strength.
        peak = weights.max() if weights.any() else 1.0
        return float(rate * (weights / peak).sum())

    def draw_days(self, rng: np.random.Generator, days: int, count: int) -> np.ndarray:
        """Days (sorted) on which `count` episodes start."""
        weights = self.intensity(days)
        if count == 0 or not weights.any():
            return np.zeros(0, np.int64)
        return np.sort(rng.choice(days, size=count, p=weights / weights.sum()))
