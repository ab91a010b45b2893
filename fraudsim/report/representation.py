"""Representation: each customer segment's share of the population, of fraud victims and of
fraudsters' targets, next to the profile's target; and fidelity checks per segment."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from fraudsim.export import fidelity as fc
from fraudsim.export.fidelity import FidelityCheck
from fraudsim.report.run import RunData

SEGMENTS = ("age_band", "income_band", "region")


def _targets(run: RunData, segment: str, values: list[Any]) -> dict[Any, float]:
    p = run.profile.population
    if segment == "age_band":
        return dict(
            zip(p.age_bands, run.profile.weights("population", "age_band_shares"), strict=True)
        )
    if segment == "income_band":
        return {v: 0.25 for v in values}  # income bands are quartiles by construction
    weights = p.region_size_decay ** np.arange(p.regions)
    # Regions are drawn with geometric weights in index order.
    return {i: float(w) for i, w in enumerate(weights / weights.sum())}


def _victims(run: RunData) -> tuple[pl.Series, pl.Series]:
    """Customers defrauded (episodes' victims) and customers whose accounts fraud rows hit
    (targets: victims' accounts debited or credited by fraud rows)."""
    ep = run.table("episodes").filter(pl.col("is_fraud"))
    victims = ep.select(pl.col("victim_customer_ids").explode()).drop_nulls().to_series()
    targets = (
        run.transactions()
        .filter(pl.col("is_fraud") & (pl.col("account_role") == "victim"))
        .select("customer_id")
        .unique()
        .collect()
        .to_series()
    )
    return victims, targets


def representation(run: RunData) -> dict[str, Any]:
    cust = run.table("customers").with_columns(pl.col("income_band").cast(pl.String))
    victims, targets = _victims(run)
    groups = {
        "population": cust,
        "victims": cust.filter(pl.col("customer_id").is_in(victims.implode())),
        "targeted": cust.filter(pl.col("customer_id").is_in(targets.implode())),
    }
    out: dict[str, Any] = {}
    for segment in SEGMENTS:
        values = sorted(cust[segment].unique().to_list(), key=str)
        target = _targets(run, segment, values)
        rows = []
        for v in values:
            row: dict[str, Any] = {"segment": str(v), "target": target.get(v)}
            for name, frame in groups.items():
                n = frame.height
                row[f"{name}_count"] = int((frame[segment] == v).sum()) if n else 0
                row[name] = row[f"{name}_count"] / n if n else None
            pop, vic = row["population"], row["victims"]
            row["victim_ratio"] = vic / pop if vic is not None and pop else None
            rows.append(row)
        out[segment] = rows
    out["counts"] = {k: v.height for k, v in groups.items()}
    out["note"] = (
        "victim_ratio = share among victims / share in the population; 1 means a segment is "
        "defrauded in proportion to its size; 0 with victims present means it is erased"
    )
    return out


def segment_checks(run: RunData) -> list[FidelityCheck]:
    """Targets the model applies to every segment alike, checked within each segment."""
    prof = run.profile
    tol = prof.tolerances
    cust = run.table("customers").select(
        "customer_id", "age_band", pl.col("income_band").cast(pl.String), "region", "sex"
    )
    h = run.honest.join(cust, on="customer_id", how="left")
    buys = h.filter(pl.col("tx_type") == "purchase")
    accounts = (
        run.table("accounts")
        .group_by("customer_id")
        .agg((pl.col("kind") == "savings").any().alias("saver"))
    )
    people = cust.join(accounts, on="customer_id", how="left")
    rent_payers = h.filter(pl.col("tx_type") == "rent")["customer_id"].unique()
    out: list[FidelityCheck] = []
    for segment in SEGMENTS:
        for value in sorted(cust[segment].unique().to_list(), key=str):
            label = f"{segment}={value}"
            b = buys.filter(pl.col(segment) == value)
            who = people.filter(pl.col(segment) == value)
            if b.height >= 500:
                out.append(
                    fc.relative(
                        label,
                        "CNP share of card purchases",
                        prof.cards.cnp_share,
                        float((b["channel"] == "cnp").mean()),
                        tol.relative,
                    )
                )
                out.append(
                    fc.shape(
                        label,
                        "hour-of-day shape of card purchases",
                        prof.calendar.hour_weights,
                        np.bincount(b["hour"].to_numpy(), minlength=24)[:24],
                        tol.shape_l1,
                        f"{b.height} purchases",
                    )
                )
            if who.height >= 200:
                out.append(
                    fc.relative(
                        label,
                        "female share",
                        prof.population.female_share,
                        float((who["sex"] == "F").mean()),
                        tol.relative,
                    )
                )
                out.append(
                    fc.relative(
                        label,
                        "savings-account share",
                        prof.population.savings_account_share,
                        float(who["saver"].fill_null(False).mean()),
                        tol.relative,
                    )
                )
                out.append(
                    fc.relative(
                        label,
                        "rent share of customers",
                        prof.transfers.rent_share_of_customers,
                        float(who["customer_id"].is_in(rent_payers.implode()).mean()),
                        tol.relative,
                    )
                )
    return out
