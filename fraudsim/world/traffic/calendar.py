"""The calendar: day indices to dates, the business day a scheduled payment falls on, and the
hours each channel is used."""

from __future__ import annotations

import calendar as _calendar
import datetime as dt
from dataclasses import dataclass

import numpy as np

from fraudsim.calibration.profile import CHANNEL_HOURS, Profile
from fraudsim.core.units import HOUR


@dataclass(frozen=True)
class DayInfo:
    index: int
    date: dt.date
    weekday: int  # Monday = 0
    day_of_month: int
    days_in_month: int


class Calendar:
    """Maps day indices to dates and settles which scheduled payments fall on a day."""

    def __init__(self, start: dt.date) -> None:
        self.start = start

    def day(self, index: int) -> DayInfo:
        date = self.start + dt.timedelta(days=index)
        return DayInfo(
            index, date, date.weekday(), date.day, _calendar.monthrange(date.year, date.month)[1]
        )

    @staticmethod
    def business_day_map(info: DayInfo) -> np.ndarray:
        """For wanted day-of-month 1..31 (31 = last day): the day it is paid on this month.

        Day numbers past the month's end fall on its last day; Saturdays and Sundays move back
        to the Friday before (or forward to Monday at the start of a month).
        """
        mapping = np.zeros(32, np.int16)
        for wanted in range(1, 32):
            day = min(wanted, info.days_in_month)
            weekday = dt.date(info.date.year, info.date.month, day).weekday()
            if weekday >= 5:
                back = day - (weekday - 4)
                day = back if back >= 1 else day + (7 - weekday)
            mapping[wanted] = day
        return mapping


class HourCurves:
    """Hour-of-day shapes per channel (cumulative weights), drawn into seconds of a day.

    Shops, web shops, cash machines and online banking keep different hours; a channel without
    its own shape in the profile uses `calendar.hour_weights`, the all-card target.
    """

    def __init__(self, profile: Profile) -> None:
        cal = profile.calendar
        base = np.asarray(profile.weights("calendar", "hour_weights"))
        self.cdf: dict[str, np.ndarray] = {"all": np.cumsum(base)}
        for channel in CHANNEL_HOURS:
            own = getattr(cal, f"hour_weights_{channel}")
            weights = np.asarray(own, float) / sum(own) if own else base
            self.cdf[channel] = np.cumsum(weights)
        # Cash for a night out: Friday and Saturday evenings and the small hours after them.
        atm = np.diff(self.cdf["atm"], prepend=0.0)
        self.atm_by_weekday = []
        for weekday in range(7):
            w = atm.copy()
            if weekday in (4, 5):
                w[19:24] *= 1 + cal.atm_night_out_boost
            if weekday in (5, 6):
                w[0:3] *= 1 + cal.atm_night_out_boost
            self.atm_by_weekday.append(np.cumsum(w))

    def curve(self, channel: str, weekday: int) -> np.ndarray:
        """Cumulative hour weights of `channel` ("all" for the all-card shape) on `weekday`."""
        return self.atm_by_weekday[weekday] if channel == "atm" else self.cdf[channel]

    @staticmethod
    def draw(rng: np.random.Generator, cdf: np.ndarray, n: int, base: int) -> np.ndarray:
        """`n` times (seconds) in the day starting at `base`, hours following `cdf`."""
        hour = np.searchsorted(cdf, rng.random(n) * cdf[-1], side="right")
        return base + np.minimum(hour, 23) * HOUR + rng.integers(0, HOUR, n)
