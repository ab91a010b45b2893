"""Targets of the population and merchant tables: demographics, incomes, products, devices,
regions, merchant counts."""

from __future__ import annotations

import math

import numpy as np
import polars as pl

from fraudsim.export import fidelity as fc
from fraudsim.export.fidelity import FidelityCheck
from fraudsim.report.run import RunData
from fraudsim.world.population import BILLER_CATEGORIES


def population(run: RunData) -> list[FidelityCheck]:
    p, tol = run.profile.population, run.profile.tolerances
    cust = run.table("customers")
    n = cust.height
    s = "population"
    out = [
        fc.shape(
            s,
            "age-band shares",
            p.age_band_shares,
            np.array([(cust["age_band"] == b).sum() for b in p.age_bands]),
            tol.shape_l1,
        ),
        fc.relative(s, "female share", p.female_share, (cust["sex"] == "F").mean(), tol.relative),
    ]
    income = cust["annual_income"].to_numpy()
    age = cust["age"].to_numpy().astype(float)
    segment = cust["segment"].cast(pl.String).to_numpy()
    # The generator's life-cycle curve, undone, leaves the base income draw.
    base = income / np.exp(-0.0004 * (age - p.income_age_peak) ** 2)
    employed = segment == "employed"
    out.append(
        fc.relative(
            s,
            "annual income median (employed, life-cycle removed)",
            p.annual_income_median,
            float(np.median(base[employed])),
            tol.relative,
            "students (35%) and pensioners (pension ratio) are excluded",
        )
    )
    out.append(
        fc.relative(
            s,
            "annual income sigma (log sd, employed, life-cycle removed)",
            p.annual_income_sigma,
            float(np.std(np.log(base[employed]))),
            tol.relative,
        )
    )
    if employed.sum() > 50:
        a, b, _ = np.polyfit(age[employed], np.log(income[employed]), 2)
        peak = -b / (2 * a) if a < 0 else float("nan")
        out.append(
            fc.relative(
                s,
                "income peak age (quadratic fit of log income)",
                p.income_age_peak,
                peak,
                tol.relative,
            )
        )
    retired = segment == "retired"
    if retired.any():
        out.append(
            fc.absolute(
                s,
                "retirement age (youngest pensioner)",
                p.retirement_age,
                float(age[retired].min()),
                0.0,
            )
        )
        out.append(
            fc.relative(
                s,
                "pension ratio (pensioners' base income / median)",
                p.pension_ratio,
                float(np.median(base[retired]) / np.median(base[employed])),
                tol.relative,
            )
        )
    young = age < 25
    if young.any():
        out.append(
            fc.relative(
                s,
                "student share under 25",
                p.student_share_under_25,
                float((segment[young] == "student").mean()),
                tol.relative,
            )
        )
    accounts = run.table("accounts")
    kinds = accounts.group_by("customer_id").agg(
        (pl.col("kind") == "credit").any().alias("credit"),
        (pl.col("kind") == "savings").any().alias("savings"),
    )
    held = cust.select("customer_id", "income_band").join(kinds, on="customer_id", how="left")
    for i, band in enumerate(("low", "lower_middle", "upper_middle", "high")):
        sel = held.filter(pl.col("income_band") == band)
        if sel.height:
            out.append(
                fc.relative(
                    s,
                    f"credit-card share, income band {band}",
                    p.credit_card_share_by_income_band[i],
                    float(sel["credit"].fill_null(False).mean()),
                    tol.relative,
                )
            )
    out.append(
        fc.relative(
            s,
            "savings-account share",
            p.savings_account_share,
            float(held["savings"].fill_null(False).mean()),
            tol.relative,
        )
    )
    out.append(_devices(run, n))
    regions = cust["region"].to_numpy()
    out.append(
        fc.absolute(
            s, "regions", p.regions, float(len(np.unique(regions))), 0.0, "regions with customers"
        )
    )
    shares = np.sort(np.bincount(regions, minlength=p.regions))[::-1].astype(float)
    if (shares > 0).sum() >= 3:
        k = np.flatnonzero(shares > 0)
        slope = np.polyfit(k, np.log(shares[k]), 1)[0]
        out.append(
            fc.relative(
                s,
                "region size decay (geometric fit of sorted region sizes)",
                p.region_size_decay,
                math.exp(slope),
                tol.relative,
            )
        )
    return out


def _devices(run: RunData, n_customers: int) -> FidelityCheck:
    """Distinct devices seen per customer (transactions and events)."""
    seen = pl.concat(
        [
            run.transactions()
            .filter(pl.col("episode_id").is_null() & pl.col("device_id").is_not_null())
            .select("customer_id", "device_id")
            .unique()
            .collect(),
            run.table("events")
            .filter(pl.col("episode_id").is_null() & pl.col("device_id").is_not_null())
            .select("customer_id", "device_id")
            .unique(),
        ]
    ).unique()
    per = seen.height / max(n_customers, 1)
    return fc.relative(
        "population",
        "devices per customer (seen in use)",
        run.profile.population.devices_per_customer_mean,
        per,
        run.profile.tolerances.relative,
        "only devices that appear in a transaction or event can be counted",
    )


def merchants(run: RunData) -> list[FidelityCheck]:
    m, tol = run.profile.merchants, run.profile.tolerances.relative
    table = run.table("merchants")
    card = table.filter(~pl.col("category").is_in(["atm", *BILLER_CATEGORIES]))
    n_customers = run.table("customers").height
    s = "merchants"
    out = [
        fc.relative(
            s,
            "card merchants per 1,000 customers",
            m.merchants_per_1000_customers,
            card.height / max(n_customers, 1) * 1000,
            tol,
            "excludes cash machines and billers",
        ),
        fc.relative(
            s, "online share of card merchants", m.online_share, card["online"].mean(), tol
        ),
    ]
    physical = card.filter(~pl.col("online"))
    if physical.height:
        out.append(
            fc.relative(
                s,
                "terminals per physical merchant",
                m.terminals_mean,
                physical["terminals"].mean(),
                tol,
            )
        )
    out.append(fc.not_measured(s, "merchant size sigma", "merchant sizes are not exported"))
    return out
