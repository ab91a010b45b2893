"""Targets of the events and episodes tables: customer events per month, fraud timing and
reporting."""

from __future__ import annotations

import math

import numpy as np
import polars as pl

from fraudsim.core.errors import FraudsimError
from fraudsim.export import fidelity as fc
from fraudsim.export.fidelity import FidelityCheck
from fraudsim.report.run import RunData
from fraudsim.typologies import registry


def events(run: RunData) -> list[FidelityCheck]:
    e, tol = run.profile.events, run.profile.tolerances.relative
    table = run.table("events").filter(pl.col("episode_id").is_null())
    n = run.table("customers").height
    counts = dict(table.group_by("event_type").len().iter_rows())
    out = []
    for name, target in e:
        kind = name.removesuffix("_per_customer_month")
        out.append(
            fc.relative(
                "events",
                f"{kind.replace('_', ' ')} events per customer per month",
                target,
                counts.get(kind, 0) / n / run.months,
                tol,
            )
        )
    return out


def fraud(run: RunData) -> list[FidelityCheck]:
    """Fraud timing and reporting targets (only when the run has fraud episodes)."""

    f, tol = run.profile.fraud, run.profile.tolerances
    ep = run.table("episodes").filter(pl.col("is_fraud"))
    s = "fraud"
    if ep.height == 0:
        return []
    hours = np.bincount(ep["start"].dt.hour().to_numpy(), minlength=24)[:24]
    noise = 24 * math.sqrt(2 * (1 / 24) * (23 / 24) / (math.pi * ep.height))
    out = [
        fc.shape(
            s,
            "hour-of-day shape of fraud episode starts",
            f.hour_weights,
            hours,
            tol.shape_l1,
            f"{ep.height} episodes; sampling noise alone gives an L1 of about {noise:.3f}",
        )
    ]
    delay = ((ep["reported_at"] - ep["start"]).dt.total_seconds() / 86400).to_numpy()
    reported = ~np.isnan(delay.astype(float))
    if reported.any():
        out.append(
            fc.at_most(
                s,
                "report delay from episode start, days (latest)",
                f.max_report_days,
                float(np.nanmax(delay)),
            )
        )
    kinds = []
    for name in ep["typology"].to_list():
        try:
            kinds.append(registry.get(name).report_kind)
        except FraudsimError:  # a plugin that cannot load has no known report kind
            kinds.append(None)
    kind_arr = np.array(kinds, dtype=object)
    targets = {
        "card": f.card_report_median_days,
        "account": f.account_report_median_days,
        "scam": f.scam_report_median_days,
        "aml": f.aml_report_median_days,
    }
    for kind, target in targets.items():
        sel = (kind_arr == kind) & reported
        if sel.sum() < 20:
            continue
        out.append(
            fc.relative(
                s,
                f"report delay median, {kind} episodes (days)",
                target,
                float(np.median(delay[sel])),
                tol.relative,
                f"{int(sel.sum())} reported episodes; episodes.reported_at holds the scheduled "
                "report, also past the run's end",
            )
        )
    if len(kind_arr):
        counted = np.isin(kind_arr, list(targets))
        if counted.sum() >= 50:
            out.append(
                fc.relative(
                    s,
                    "never-reported share of fraud episodes",
                    f.never_reported_share,
                    float((~reported[counted]).mean()),
                    tol.relative,
                    f"{int(counted.sum())} card, account, scam and AML episodes",
                )
            )
    return out
