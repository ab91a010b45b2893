"""Schedules: when a typology's episodes start (window, count or rate, ramp and drift)."""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator


class Schedule(BaseModel):
    """When episodes start.

    Either `episodes` (a total over the window) or `rate_per_day` (mean starts per day); the
    intensity over the window follows `ramp`: flat, a linear onset from zero to full, or
    exponential growth doubling every `doubling_days` ("starts on day 10 and doubles weekly").
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    start_day: int = Field(default=0, ge=0, description="first day episodes may start")
    end_day: int | None = Field(default=None, gt=0, description="exclusive; default: scenario end")
    episodes: int | None = Field(
        default=None,
        ge=0,
        le=10_000_000,
        description="total episodes in the window (or rate_per_day)",
    )
    rate_per_day: float | None = Field(
        default=None, ge=0.0, le=1_000_000.0, description="mean starts per day at full intensity"
    )
    ramp: Literal["flat", "linear", "exponential"] = Field(
        default="flat", description="flat, linear onset, or exponential growth"
    )
    doubling_days: float = Field(
        default=7.0, gt=0.0, description="with ramp = exponential: days to double"
    )

    @model_validator(mode="after")
    def _one_amount(self) -> Schedule:
        if self.episodes is not None and self.rate_per_day is not None:
            raise ValueError("give either episodes or rate_per_day, not both")
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

    def expected_episodes(self, days: int, default_rate: float) -> float:
        """Mean number of episodes over the scenario."""
        if self.episodes is not None:
            return float(self.episodes)
        rate = self.rate_per_day if self.rate_per_day is not None else default_rate
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
