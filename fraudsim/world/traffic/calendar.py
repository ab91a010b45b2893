"""The calendar: day indices to dates, and the business day a scheduled payment falls on."""

from __future__ import annotations

import calendar as _calendar
import datetime as dt
from dataclasses import dataclass

import numpy as np


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
