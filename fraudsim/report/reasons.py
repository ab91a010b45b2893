"""Why a fidelity check misses: the mechanism behind each known gap, attached to failed checks.

Reasons name a mechanism of the simulator (with a figure measured on the run where one can
be), never a looser tolerance. A miss without a known mechanism says so.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

import polars as pl

from fraudsim.core.errors import FraudsimError
from fraudsim.export.fidelity import FidelityCheck
from fraudsim.typologies import registry

if TYPE_CHECKING:
    from fraudsim.report.run import RunData


def _checking_median(check: FidelityCheck, run: RunData) -> str:
    b = run.profile.balances
    acc = run.table("accounts").filter(pl.col("kind") == "checking")
    cust = run.table("customers").select("customer_id", (pl.col("annual_income") / 12).alias("m"))
    months = acc.join(cust, on="customer_id")
    mean = float((months["opening_balance"] / months["m"]).mean())
    return (
        "the generator draws opening checking balances as income x median x "
        "exp(sigma*(z - sigma/2)), which centres the mean, not the median, on "
        f"{b.checking_months_median:g} month(s) (measured mean {mean:.2f}); the median is "
        f"exp(-sigma^2/2) = {math.exp(-(b.checking_sigma**2) / 2):.2f} of it. A model gap: "
        "the profile calls the figure a median"
    )


def _affordability(check: FidelityCheck, run: RunData) -> str:
    return (
        "affordability: customers near their balance floor pay less often (their rate is scaled "
        "down to as little as 15%), so attempts fall short of the profile's rate"
    )


def _income(check: FidelityCheck, run: RunData) -> str:
    return (
        "income effect: amounts scale with income^elasticity, normalised to card holders; "
        "other populations (all customers, billers' sqrt scaling) shift the median"
    )


def _declines(check: FidelityCheck, run: RunData) -> str:
    rows = run.honest
    share = float(rows["is_declined"].mean() or 0.0)
    return f"declines: {share:.2%} of honest attempts are declined and move no money"


def _report_delay(check: FidelityCheck, run: RunData) -> str:

    ep = run.table("episodes").filter(pl.col("is_fraud") & pl.col("reported_at").is_not_null())
    days = (pl.col("reported_at") - pl.col("start")).dt.total_seconds() / 86400
    per = ep.group_by("typology").agg(days.median().alias("d"), days.max().alias("top"))
    kind = check.name.split(", ")[-1].split(" ")[0] if "median" in check.name else None
    parts = []
    for name, median, top in per.sort("d").iter_rows():
        try:
            typ_kind = registry.get(name).report_kind
        except FraudsimError:
            continue
        if kind is None and top > run.profile.fraud.max_report_days:
            parts.append(f"{name} ({typ_kind}) up to {top:.0f} d")
        elif typ_kind == kind:
            parts.append(f"{name} {median:.2f} d")
    what = "per-typology medians" if kind else "typologies past the cap"
    return (
        "typologies move their reports (a stolen card is reported when the holder notices it, "
        "a skimmer after the cash-out, a bust-out at charge-off, a chargeback after the "
        f"dispute); {what}: " + ", ".join(parts)
    )


def _dispersion(check: FidelityCheck, run: RunData) -> str:
    return (
        "card rates are also scaled by income (frequency ~ income^elasticity) and by "
        "affordability, which add dispersion across cards: the moment estimate of the gamma "
        "shape comes out lower than the shape drawn"
    )


REASONS: list[tuple[str, Callable[[FidelityCheck, RunData], str | None]]] = [
    ("checking balance, months of income (median)", _checking_median),
    ("per card per month", _affordability),
    ("per debit card per month", _affordability),
    ("P2P transfers sent", _affordability),
    ("gamma shape", _dispersion),
    ("median ticket", _income),
    ("amount median", _income),
    ("report delay", _report_delay),
    ("volume", _declines),
]


def explain(check: FidelityCheck, run: RunData) -> FidelityCheck:
    """The check with `why` filled if it failed."""
    if check.passed is not False:
        return check
    for pattern, reason in REASONS:
        if pattern in check.name:
            text = reason(check, run)
            if text:
                return replace(check, why=text)
    if check.kind in ("l1", "ks") and "noise" in check.note:
        return replace(check, why="sampling noise is a large part of the distance (see the note)")
    return replace(
        check, why="no known mechanism: a real miss of the simulator against its profile"
    )
