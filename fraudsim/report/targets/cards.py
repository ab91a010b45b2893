"""Targets of card traffic: purchase rates and dispersion, channels, categories, tickets,
refunds and cash machines."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import polars as pl

from fraudsim.calibration.profile import lognormal_mixture_median
from fraudsim.export import fidelity as fc
from fraudsim.export.fidelity import FidelityCheck, check_fidelity
from fraudsim.report.run import RunData
from fraudsim.report.targets.common import ks_sorted, lognormal_cdf, monthly_income, sample


def _category_of(run: RunData) -> dict[int, str]:
    rows = run.table("merchants").select("mcc", "category").unique()
    return dict(zip(rows["mcc"].to_list(), rows["category"].to_list(), strict=True))


def cards(run: RunData) -> list[FidelityCheck]:
    prof, tol = run.profile, run.profile.tolerances
    c = prof.cards
    honest = run.honest
    card_table = run.table("cards")
    s = "cards"
    # The dataset card's own checks; those of other sections (calendar, ATM) go last.
    honest_rows = run.transactions().filter(pl.col("episode_id").is_null())
    base = check_fidelity(honest_rows, card_table, prof, run.days)
    out = [b for b in base if b.section == s]
    others = [b for b in base if b.section != s]
    buys = honest.filter(pl.col("tx_type") == "purchase")
    # Per-card counts: gamma-Poisson (negative binomial) moments give the gamma shape.
    per_card = buys.group_by("card_id").len()["len"].to_numpy().astype(float) / run.months
    counts = np.concatenate([per_card, np.zeros(card_table.height - len(per_card))])
    mean, var = counts.mean(), counts.var()
    # Poisson noise of a monthly rate observed over `months`: mean / months.
    excess = var - mean / run.months
    shape_k = mean**2 / excess if excess > 0 else float("inf")
    out.append(
        fc.relative(
            s,
            "purchases gamma shape (per-card rate dispersion)",
            c.purchases_gamma_shape,
            shape_k,
            tol.relative,
            "method of moments on per-card counts",
        )
    )
    out.append(_cnp_concentration(run, buys))
    out.append(_refund_share(run, buys))
    names = _category_of(run)
    cats = [k.name for k in c.categories]
    for channel, attr in (("pos", "pos_share"), ("cnp", "cnp_share")):
        sel = buys.filter(pl.col("channel") == channel)
        got = sel.group_by("mcc").len()
        by_name = {names.get(m, "?"): n for m, n in zip(got["mcc"], got["len"], strict=True)}
        out.append(
            fc.shape(
                s,
                f"category shares, {channel}",
                [getattr(k, attr) for k in c.categories],
                np.array([by_name.get(k, 0) for k in cats]),
                tol.shape_l1,
            )
        )
    out.extend(_tickets(run, buys))
    return out + others


def _refund_share(run: RunData, buys: pl.DataFrame) -> FidelityCheck:
    """Refunds arrive 1-14 days after the purchase, so the first 14 days of a run lack the
    refunds of earlier purchases: count both over the days after that (steady state)."""
    c = run.profile.cards
    refunds = run.honest.filter(pl.col("tx_type") == "refund")
    start = run.honest["date"].min()
    note = "refunds and purchases dated 14 days or more after the start (steady state)"
    if run.days > 21 and start is not None:
        cutoff = start + dt.timedelta(days=14)
        refunds = refunds.filter(pl.col("date") >= cutoff)
        buys = buys.filter(pl.col("date") >= cutoff)
    else:
        note = "short run: includes the first 14 days, which lack earlier purchases' refunds"
    return fc.relative(
        "cards",
        "refund share of purchases",
        c.refund_share,
        refunds.height / max(buys.height, 1),
        run.profile.tolerances.relative,
        note,
    )


def _cnp_concentration(run: RunData, buys: pl.DataFrame) -> FidelityCheck:
    """Beta concentration of customers' online propensity, from the over-dispersion of their
    CNP shares beyond binomial noise: Var(p) = m(1-m)/(c+1)."""
    c = run.profile.cards
    per = (
        buys.group_by("customer_id")
        .agg(pl.len().alias("n"), (pl.col("channel") == "cnp").mean().alias("share"))
        .filter(pl.col("n") >= 5)
    )
    n = per["n"].to_numpy().astype(float)
    share = per["share"].to_numpy()
    m = float(np.average(share, weights=n)) if len(n) else 0.0
    between = float(np.average((share - m) ** 2, weights=n)) if len(n) else 0.0
    noise = float(np.average(m * (1 - m) / n, weights=n)) if len(n) else 0.0
    var_p = between - noise
    conc = m * (1 - m) / var_p - 1 if var_p > 0 else float("inf")
    return fc.relative(
        "cards",
        "CNP propensity concentration (beta, moments)",
        c.cnp_propensity_concentration,
        conc,
        run.profile.tolerances.relative,
        "customers with at least 5 purchases",
    )


def _tickets(run: RunData, buys: pl.DataFrame) -> list[FidelityCheck]:
    prof, tol = run.profile, run.profile.tolerances
    c = prof.cards
    out: list[FidelityCheck] = []
    income = monthly_income(run).select("customer_id", "monthly")
    rows = buys.select("customer_id", "amount", "channel", "mcc").join(
        income, on="customer_id", how="left"
    )
    logs = np.log(rows["amount"].to_numpy())
    group = (rows["channel"].cast(pl.String) + ":" + rows["mcc"].cast(pl.String)).to_numpy()
    log_income = np.log(rows["monthly"].to_numpy() * 12 / prof.population.annual_income_median)
    # Within (channel, category): the sd of log amounts and the slope on log income.
    frame = pl.DataFrame({"g": group, "y": logs, "x": log_income})
    agg = (
        frame.group_by("g")
        .agg(
            pl.len().alias("n"),
            pl.col("y").std().alias("sd"),
            pl.cov("x", "y").alias("cov"),
            pl.col("x").var().alias("var_x"),
            pl.col("y").median().alias("median_log"),
        )
        .filter(pl.col("n") >= 30)
    )
    w = agg["n"].to_numpy().astype(float)
    slope = np.average((agg["cov"] / agg["var_x"]).to_numpy(), weights=w)
    resid_var = agg["sd"].to_numpy() ** 2 - slope**2 * agg["var_x"].to_numpy()
    out.append(
        fc.relative(
            "cards",
            "ticket sigma (within channel and category, income effect removed)",
            c.ticket_sigma,
            float(np.sqrt(np.average(resid_var, weights=w))),
            tol.relative,
        )
    )
    out.append(
        fc.relative(
            "cards",
            "income elasticity of ticket size (slope within channel and category)",
            c.income_elasticity,
            float(slope),
            tol.relative,
        )
    )
    # Category ticket multipliers: median per category relative to the channel's mixture.
    medians = {
        g: math.exp(v) for g, v in zip(agg["g"].to_list(), agg["median_log"].to_list(), strict=True)
    }
    for ch, attr, target in (
        ("pos", "pos_share", c.ticket_median_pos),
        ("cnp", "cnp_share", c.ticket_median_cnp),
    ):
        used = [k for k in c.categories if getattr(k, attr) > 0]
        mix = lognormal_mixture_median(
            [math.log(k.ticket_multiplier) for k in used],
            c.ticket_sigma,
            [getattr(k, attr) for k in used],
        )
        for k in used:
            got = medians.get(f"{ch}:{k.mcc}")
            if got is None:
                continue
            out.append(
                fc.relative(
                    "cards",
                    f"median ticket, {ch} {k.name}",
                    target * k.ticket_multiplier / mix,
                    got,
                    tol.relative,
                    "channel median target times the category multiplier",
                )
            )
        sel = buys.filter(pl.col("channel") == ch)["amount"].to_numpy()
        if len(sel):
            x = np.sort(sample(sel))
            mus = [math.log(target * k.ticket_multiplier / mix) for k in used]
            cdf = lognormal_cdf(x, mus, c.ticket_sigma, [getattr(k, attr) for k in used])
            out.append(
                fc.ks(
                    "cards",
                    f"KS of {ch} purchase amounts vs the profile's lognormal mixture",
                    ks_sorted(x, cdf),
                    tol.shape_l1,
                    "KS tolerance = the profile's shape tolerance",
                )
            )
    return out


def atm(run: RunData) -> list[FidelityCheck]:
    a, tol = run.profile.atm, run.profile.tolerances.relative
    honest = run.honest.filter(pl.col("tx_type") == "atm_withdrawal")
    kinds = run.table("cards").select("card_id", "kind")
    rows = honest.join(kinds, on="card_id", how="left")
    s = "atm"
    amounts = rows["amount"].to_numpy()
    out: list[FidelityCheck] = []
    if len(amounts):
        out.append(
            fc.relative(
                s,
                "ATM amount median",
                a.amount_median,
                float(np.median(amounts)),
                tol,
                "amounts rounded to the step; income scales them",
            )
        )
        out.append(
            fc.relative(
                s, "ATM amount sigma (log sd)", a.amount_sigma, float(np.log(amounts).std()), tol
            )
        )
        on_step = np.abs(amounts / a.amount_step - np.round(amounts / a.amount_step)) < 1e-6
        out.append(
            fc.absolute(s, "ATM amounts on the step (share)", 1.0, float(on_step.mean()), 0.0)
        )
    credit = run.table("cards").filter(pl.col("kind") == "credit").height
    if credit:
        advances = rows.filter(pl.col("kind") == "credit").height
        out.append(
            fc.relative(
                s,
                "cash advances per credit card per month",
                a.cash_advances_per_credit_card_month,
                advances / credit / run.months,
                tol,
            )
        )
    return out
