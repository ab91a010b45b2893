"""Targets of the calendar: paydays and bill days on business days, the payday boost, the
hour of cash withdrawals."""

from __future__ import annotations

import numpy as np
import polars as pl

from fraudsim.export import fidelity as fc
from fraudsim.export.fidelity import FidelityCheck
from fraudsim.report.run import RunData
from fraudsim.world.traffic.calendar import Calendar, HourCurves


def day_shape(
    run: RunData, rows: pl.DataFrame, weights: list[float]
) -> tuple[np.ndarray, np.ndarray]:
    """Observed day-of-month counts and the target moved to business days over the run's
    months, as the simulator pays (a weekend day moves to the previous Friday)."""

    counts = np.bincount(rows["day_of_month"].to_numpy(), minlength=32)[1:32].astype(float)
    dates = sorted(set(run.honest["date"].unique().to_list()))
    calendar = Calendar(dates[0])
    w = np.asarray(weights, float) / sum(weights)
    expected = np.zeros(31)
    for d in dates:
        info = calendar.day((d - dates[0]).days)
        mapping = Calendar.business_day_map(info)
        for wanted in range(1, 32):
            if mapping[wanted] == d.day:
                expected[d.day - 1] += w[wanted - 1]
    return counts, expected


def calendar(run: RunData) -> list[FidelityCheck]:
    cal, tol = run.profile.calendar, run.profile.tolerances.shape_l1
    h = run.honest
    s = "calendar"
    out: list[FidelityCheck] = []
    pay = h.filter(pl.col("tx_type").is_in(["salary", "pension"]))
    if pay.height:
        counts, expected = day_shape(run, pay, cal.payday_weights)
        out.append(
            fc.shape(
                s,
                "payday day-of-month shape (salaries, pensions)",
                expected,
                counts,
                tol,
                "target moved to business days over the run's calendar",
            )
        )
    bills = h.filter(pl.col("tx_type") == "bill_payment")
    if bills.height:
        counts, expected = day_shape(run, bills, cal.bill_day_weights)
        out.append(
            fc.shape(
                s,
                "bill day-of-month shape",
                expected,
                counts,
                tol,
                "target moved to business days over the run's calendar",
            )
        )
    out.append(_payday_boost(run))
    atm_rows = h.filter(pl.col("tx_type") == "atm_withdrawal")
    if atm_rows.height:
        # Cash machines keep their own hours (busier on Friday and Saturday nights): the target
        # is the ATM curve of each row's weekday, weighted by the run's rows on that weekday.
        curves = HourCurves(run.profile)
        weekdays = np.bincount(atm_rows["date"].dt.weekday().to_numpy() - 1, minlength=7)
        expected = sum(
            n * np.diff(curves.curve("atm", day), prepend=0.0) / curves.curve("atm", day)[-1]
            for day, n in enumerate(weekdays)
        )
        out.append(
            fc.shape(
                s,
                "hour-of-day shape of ATM withdrawals",
                list(expected),
                np.bincount(atm_rows["hour"].to_numpy(), minlength=24)[:24],
                tol,
                "the profile's ATM hours, by the run's weekdays",
            )
        )
    return out


def _payday_boost(run: RunData) -> FidelityCheck:
    """Purchases per card-day in the week after payday over the month's average, minus one."""
    cal = run.profile.calendar
    h = run.honest
    pay = (
        h.filter(pl.col("tx_type").is_in(["salary", "pension"]))
        .group_by("customer_id")
        .agg(pl.col("date").min().alias("payday"))
    )
    buys = (
        h.filter(pl.col("tx_type") == "purchase")
        .select("customer_id", "date")
        .join(pay, on="customer_id")
    )
    since = (buys["date"] - buys["payday"]).dt.total_days().to_numpy()
    # Only days 0..27 after payday are inside every month; count customer-days in and out.
    days = np.bincount(since[(since >= 0) & (since < 28)], minlength=28)[:28].astype(float)
    first = (pay["payday"] - min(h["date"])).dt.total_days().to_numpy()
    span = run.days
    exposure = np.array([((first + k) < span).sum() for k in range(28)], float)
    rate = days / np.maximum(exposure, 1)
    k = cal.payday_boost_days
    boost = rate[:k].mean() / rate.mean() - 1 if rate.mean() else float("nan")
    return fc.relative(
        "calendar",
        f"payday boost (purchases in the {k} days after payday vs days 0-27)",
        cal.payday_boost,
        float(boost),
        run.profile.tolerances.relative,
        "first payday in the run per customer",
    )
