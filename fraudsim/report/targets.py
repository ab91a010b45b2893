"""Fidelity: every profile target the exported tables can show, against the simulated value.

Counts are of attempts (declined rows included) of the honest traffic model (rows without an
episode): the targets describe what customers try to do. Each check is a dict (see checks.py);
`explain` adds the reason to the checks that miss.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import polars as pl

from fraudsim.calibration.profile import lognormal_mixture_median
from fraudsim.core.errors import FraudsimError
from fraudsim.export.fidelity import FidelityStats
from fraudsim.report import checks as ck
from fraudsim.report.checks import Check
from fraudsim.report.reasons import explain
from fraudsim.report.run import RunData
from fraudsim.typologies import registry
from fraudsim.world.population import BILLER_CATEGORIES
from fraudsim.world.traffic.legit import Calendar

SAMPLE = 200_000  # amounts per KS test (a random sample keeps the sort cheap)


def _sample(values: np.ndarray, seed: int = 0) -> np.ndarray:
    if len(values) <= SAMPLE:
        return values
    return np.random.default_rng(seed).choice(values, SAMPLE, replace=False)


def _monthly_income(run: RunData) -> pl.DataFrame:
    """customer_id -> monthly net income, age band, income band, region, segment."""
    return run.table("customers").select(
        "customer_id",
        (pl.col("annual_income") / 12).alias("monthly"),
        "age",
        "age_band",
        "income_band",
        "region",
        "segment",
    )


def population(run: RunData) -> list[Check]:
    p, tol = run.profile.population, run.profile.tolerances
    cust = run.table("customers")
    n = cust.height
    s = "population"
    out = [
        ck.shape(
            s,
            "age-band shares",
            p.age_band_shares,
            np.array([(cust["age_band"] == b).sum() for b in p.age_bands]),
            tol.shape_l1,
        ),
        ck.relative(s, "female share", p.female_share, (cust["sex"] == "F").mean(), tol.relative),
    ]
    income = cust["annual_income"].to_numpy()
    age = cust["age"].to_numpy().astype(float)
    segment = cust["segment"].cast(pl.String).to_numpy()
    # The generator's life-cycle curve, undone, leaves the base income draw.
    base = income / np.exp(-0.0004 * (age - p.income_age_peak) ** 2)
    employed = segment == "employed"
    out.append(
        ck.relative(
            s,
            "annual income median (employed, life-cycle removed)",
            p.annual_income_median,
            float(np.median(base[employed])),
            tol.relative,
            "students (35%) and pensioners (pension ratio) are excluded",
        )
    )
    out.append(
        ck.relative(
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
            ck.relative(
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
            ck.absolute(
                s,
                "retirement age (youngest pensioner)",
                p.retirement_age,
                float(age[retired].min()),
                0.0,
            )
        )
        out.append(
            ck.relative(
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
            ck.relative(
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
                ck.relative(
                    s,
                    f"credit-card share, income band {band}",
                    p.credit_card_share_by_income_band[i],
                    float(sel["credit"].fill_null(False).mean()),
                    tol.relative,
                )
            )
    out.append(
        ck.relative(
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
        ck.absolute(
            s, "regions", p.regions, float(len(np.unique(regions))), 0.0, "regions with customers"
        )
    )
    shares = np.sort(np.bincount(regions, minlength=p.regions))[::-1].astype(float)
    if (shares > 0).sum() >= 3:
        k = np.flatnonzero(shares > 0)
        slope = np.polyfit(k, np.log(shares[k]), 1)[0]
        out.append(
            ck.relative(
                s,
                "region size decay (geometric fit of sorted region sizes)",
                p.region_size_decay,
                math.exp(slope),
                tol.relative,
            )
        )
    return out


def _devices(run: RunData, n_customers: int) -> Check:
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
    return ck.relative(
        "population",
        "devices per customer (seen in use)",
        run.profile.population.devices_per_customer_mean,
        per,
        run.profile.tolerances.relative,
        "only devices that appear in a transaction or event can be counted",
    )


def merchants(run: RunData) -> list[Check]:
    m, tol = run.profile.merchants, run.profile.tolerances.relative
    table = run.table("merchants")
    card = table.filter(~pl.col("category").is_in(["atm", *BILLER_CATEGORIES]))
    n_customers = run.table("customers").height
    s = "merchants"
    out = [
        ck.relative(
            s,
            "card merchants per 1,000 customers",
            m.merchants_per_1000_customers,
            card.height / max(n_customers, 1) * 1000,
            tol,
            "excludes cash machines and billers",
        ),
        ck.relative(
            s, "online share of card merchants", m.online_share, card["online"].mean(), tol
        ),
    ]
    physical = card.filter(~pl.col("online"))
    if physical.height:
        out.append(
            ck.relative(
                s,
                "terminals per physical merchant",
                m.terminals_mean,
                physical["terminals"].mean(),
                tol,
            )
        )
    out.append(ck.not_measured(s, "merchant size sigma", "merchant sizes are not exported"))
    return out


def _category_of(run: RunData) -> dict[int, str]:
    rows = run.table("merchants").select("mcc", "category").unique()
    return dict(zip(rows["mcc"].to_list(), rows["category"].to_list(), strict=True))


def cards(run: RunData) -> list[Check]:
    prof, tol = run.profile, run.profile.tolerances
    c = prof.cards
    honest = run.honest
    card_table = run.table("cards")
    s = "cards"
    stats = FidelityStats()
    stats.add(run.transactions().filter(pl.col("episode_id").is_null()))
    debit = card_table.filter(pl.col("kind") == "debit").height
    base = stats.checks(prof, card_table.height, debit, run.days)
    # The writer's own checks, each filed under the profile section it tests.
    sections = {"ATM": "atm", "hour-of-day": "calendar", "weekday": "calendar"}
    out, others = [], []
    for b in base:
        section = next((v for k, v in sections.items() if k in b.name), s)
        (out if section == s else others).append(ck.from_fidelity(section, b))
    buys = honest.filter(pl.col("tx_type") == "purchase")
    # Per-card counts: gamma-Poisson (negative binomial) moments give the gamma shape.
    per_card = buys.group_by("card_id").len()["len"].to_numpy().astype(float) / run.months
    counts = np.concatenate([per_card, np.zeros(card_table.height - len(per_card))])
    mean, var = counts.mean(), counts.var()
    # Poisson noise of a monthly rate observed over `months`: mean / months.
    excess = var - mean / run.months
    shape_k = mean**2 / excess if excess > 0 else float("inf")
    out.append(
        ck.relative(
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
            ck.shape(
                s,
                f"category shares, {channel}",
                [getattr(k, attr) for k in c.categories],
                np.array([by_name.get(k, 0) for k in cats]),
                tol.shape_l1,
            )
        )
    out.extend(_tickets(run, buys, names))
    return out + others


def _refund_share(run: RunData, buys: pl.DataFrame) -> Check:
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
    return ck.relative(
        "cards",
        "refund share of purchases",
        c.refund_share,
        refunds.height / max(buys.height, 1),
        run.profile.tolerances.relative,
        note,
    )


def _cnp_concentration(run: RunData, buys: pl.DataFrame) -> Check:
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
    return ck.relative(
        "cards",
        "CNP propensity concentration (beta, moments)",
        c.cnp_propensity_concentration,
        conc,
        run.profile.tolerances.relative,
        "customers with at least 5 purchases",
    )


def _tickets(run: RunData, buys: pl.DataFrame, names: dict[int, str]) -> list[Check]:
    prof, tol = run.profile, run.profile.tolerances
    c = prof.cards
    out: list[Check] = []
    income = _monthly_income(run).select("customer_id", "monthly")
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
        ck.relative(
            "cards",
            "ticket sigma (within channel and category, income effect removed)",
            c.ticket_sigma,
            float(np.sqrt(np.average(resid_var, weights=w))),
            tol.relative,
        )
    )
    out.append(
        ck.relative(
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
                ck.relative(
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
            x = np.sort(_sample(sel))
            mus = [math.log(target * k.ticket_multiplier / mix) for k in used]
            cdf = ck.lognormal_cdf(x, mus, c.ticket_sigma, [getattr(k, attr) for k in used])
            out.append(
                ck.ks(
                    "cards",
                    f"KS of {ch} purchase amounts vs the profile's lognormal mixture",
                    ck.ks_sorted(x, cdf),
                    tol.shape_l1,
                    "KS tolerance = the profile's shape tolerance",
                )
            )
    del names
    return out


def atm(run: RunData) -> list[Check]:
    a, tol = run.profile.atm, run.profile.tolerances.relative
    honest = run.honest.filter(pl.col("tx_type") == "atm_withdrawal")
    kinds = run.table("cards").select("card_id", "kind")
    rows = honest.join(kinds, on="card_id", how="left")
    s = "atm"
    amounts = rows["amount"].to_numpy()
    out: list[Check] = []
    if len(amounts):
        out.append(
            ck.relative(
                s,
                "ATM amount median",
                a.amount_median,
                float(np.median(amounts)),
                tol,
                "amounts rounded to the step; income scales them",
            )
        )
        out.append(
            ck.relative(
                s, "ATM amount sigma (log sd)", a.amount_sigma, float(np.log(amounts).std()), tol
            )
        )
        on_step = np.abs(amounts / a.amount_step - np.round(amounts / a.amount_step)) < 1e-6
        out.append(
            ck.absolute(s, "ATM amounts on the step (share)", 1.0, float(on_step.mean()), 0.0)
        )
    credit = run.table("cards").filter(pl.col("kind") == "credit").height
    if credit:
        advances = rows.filter(pl.col("kind") == "credit").height
        out.append(
            ck.relative(
                s,
                "cash advances per credit card per month",
                a.cash_advances_per_credit_card_month,
                advances / credit / run.months,
                tol,
            )
        )
    return out


def transfers(run: RunData) -> list[Check]:
    t, tol = run.profile.transfers, run.profile.tolerances
    h = run.honest
    n = run.table("customers").height
    months = run.months
    s = "transfers"
    kind = pl.col("tx_type")
    out_p2p = h.filter((kind == "p2p_transfer") & (pl.col("direction") == "debit"))
    in_p2p = h.filter((kind == "p2p_transfer") & (pl.col("direction") == "credit"))
    deposits = h.filter(kind == "cash_deposit")
    accounts = run.table("accounts")
    savings_ids = accounts.filter(pl.col("kind") == "savings")["account_id"]
    withdrawals = h.filter(
        (kind == "savings_transfer") & pl.col("account_id").is_in(savings_ids.implode())
    )
    bills = h.filter(kind == "bill_payment")
    rent = h.filter(kind == "rent")
    out = [
        ck.relative(
            s,
            "P2P transfers sent per customer per month",
            t.p2p_per_customer_month,
            out_p2p.height / n / months,
            tol.relative,
        ),
        ck.relative(
            s,
            "P2P transfers received from outside per customer per month",
            t.incoming_p2p_per_customer_month,
            in_p2p.height / n / months,
            tol.relative,
        ),
        ck.relative(
            s,
            "P2P external share",
            t.p2p_external_share,
            float(out_p2p["counterparty_account_id"].is_null().mean() or 0),
            tol.relative,
        ),
        ck.relative(
            s,
            "cash deposits per customer per month",
            t.cash_deposits_per_customer_month,
            deposits.height / n / months,
            tol.relative,
        ),
        ck.relative(
            s,
            "savings withdrawals per saver per month",
            t.savings_withdrawals_per_saver_month,
            withdrawals.height / max(len(savings_ids), 1) / months,
            tol.relative,
        ),
    ]
    if bills.height:
        # Bill days follow the profile's day-of-month weights on business days: the expected
        # number of monthly bill dates inside this run's calendar.
        _, expected = _day_shape(run, bills, run.profile.calendar.bill_day_weights)
        out.append(
            ck.relative(
                s,
                "bills per customer per month (per bill date in the run)",
                t.bills_per_customer,
                bills.height / n / max(expected.sum(), 1e-9),
                tol.relative,
                f"the run's calendar holds {expected.sum():.2f} months of bill dates",
            )
        )
    for label, rows, median, sigma in (
        ("cash deposit", deposits, t.cash_deposit_median, t.cash_deposit_sigma),
        ("P2P", out_p2p, t.p2p_amount_median, t.p2p_amount_sigma),
        ("bill", bills, t.bill_amount_median, t.bill_amount_sigma),
    ):
        x = rows["amount"].to_numpy()
        if len(x) < 30:
            continue
        out.append(
            ck.relative(s, f"{label} amount median", median, float(np.median(x)), tol.relative)
        )
        out.append(
            ck.relative(
                s, f"{label} amount sigma (log sd)", sigma, float(np.log(x).std()), tol.relative
            )
        )
        out.append(
            ck.ks(
                s,
                f"KS of {label} amounts vs lognormal(median, sigma)",
                ck.ks_lognormal(_sample(x), median, sigma),
                tol.shape_l1,
                "KS tolerance = the profile's shape tolerance",
            )
        )
    income = _monthly_income(run).select("customer_id", "monthly")
    if rent.height:
        out.append(
            ck.relative(
                s,
                "rent share of customers",
                t.rent_share_of_customers,
                rent["customer_id"].n_unique() / n,
                tol.relative,
            )
        )
    standing = h.filter((kind == "savings_transfer") & (pl.col("channel") == "standing_order"))
    for label, rows, target in (
        ("rent", rent, t.rent_share_of_income),
        ("savings", standing, t.savings_share_of_income),
    ):
        if rows.height:
            ratio = rows.join(income, on="customer_id")
            share = float((ratio["amount"] / ratio["monthly"]).median())
            name = f"{label} share of income (median)"
            out.append(ck.relative(s, name, target, share, tol.relative))
    repay = h.filter(kind == "card_repayment")
    if repay.height:
        out.append(
            ck.at_most(
                s,
                "card repayment day of month (latest)",
                t.card_repayment_day_max,
                float(repay["day_of_month"].max()),
                "weekend due days move to the previous business day",
            )
        )
    return out


def balances(run: RunData) -> list[Check]:
    b, tol = run.profile.balances, run.profile.tolerances.relative
    acc = run.table("accounts").join(
        _monthly_income(run).select("customer_id", "monthly", "income_band"), on="customer_id"
    )
    s = "balances"
    out: list[Check] = []
    checking = acc.filter(pl.col("kind") == "checking")
    months = (checking["opening_balance"] / checking["monthly"]).to_numpy()
    positive = months[months > 0]
    out.append(
        ck.relative(
            s,
            "checking balance, months of income (median)",
            b.checking_months_median,
            float(np.median(months)),
            tol,
        )
    )
    if len(positive) > 30:
        out.append(
            ck.relative(
                s,
                "checking balance sigma (log sd)",
                b.checking_sigma,
                float(np.log(positive).std()),
                tol,
            )
        )
    savings = acc.filter(pl.col("kind") == "savings")
    if savings.height:
        out.append(
            ck.relative(
                s,
                "savings balance, months of income (median)",
                b.savings_months_median,
                float((savings["opening_balance"] / savings["monthly"]).median()),
                tol,
            )
        )
    for i, band in enumerate(("low", "lower_middle", "upper_middle", "high")):
        sel = checking.filter(pl.col("income_band") == band)
        if sel.height:
            got = float((-sel["limit"] / sel["monthly"]).median())
            target = b.overdraft_months_by_income_band[i]
            note = "limits are rounded to 100"
            if target == 0:
                out.append(
                    ck.absolute(s, f"overdraft, months of income, {band}", 0.0, got, 0.0, note)
                )
            else:
                out.append(
                    ck.relative(s, f"overdraft, months of income, {band}", target, got, tol, note)
                )
    credit = acc.filter(pl.col("kind") == "credit")
    if credit.height:
        limit = -credit["limit"]
        above_min = credit.filter(-pl.col("limit") > b.credit_limit_min + 100)
        out.append(
            ck.relative(
                s,
                "credit limit, months of income (median, above the minimum)",
                b.credit_limit_months,
                float((-above_min["limit"] / above_min["monthly"]).median()),
                tol,
                "limits are rounded to 100",
            )
        )
        out.append(
            ck.absolute(s, "credit limit minimum", b.credit_limit_min, float(limit.min()), 0.0)
        )
    return out


def _day_shape(
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


def calendar(run: RunData) -> list[Check]:
    cal, tol = run.profile.calendar, run.profile.tolerances.shape_l1
    h = run.honest
    s = "calendar"
    out: list[Check] = []
    pay = h.filter(pl.col("tx_type").is_in(["salary", "pension"]))
    if pay.height:
        counts, expected = _day_shape(run, pay, cal.payday_weights)
        out.append(
            ck.shape(
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
        counts, expected = _day_shape(run, bills, cal.bill_day_weights)
        out.append(
            ck.shape(
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
        out.append(
            ck.shape(
                s,
                "hour-of-day shape of ATM withdrawals",
                cal.hour_weights,
                np.bincount(atm_rows["hour"].to_numpy(), minlength=24)[:24],
                tol,
            )
        )
    return out


def _payday_boost(run: RunData) -> Check:
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
    return ck.relative(
        "calendar",
        f"payday boost (purchases in the {k} days after payday vs days 0-27)",
        cal.payday_boost,
        float(boost),
        run.profile.tolerances.relative,
        "first payday in the run per customer",
    )


def events(run: RunData) -> list[Check]:
    e, tol = run.profile.events, run.profile.tolerances.relative
    table = run.table("events").filter(pl.col("episode_id").is_null())
    n = run.table("customers").height
    counts = dict(table.group_by("event_type").len().iter_rows())
    out = []
    for name, target in e:
        kind = name.removesuffix("_per_customer_month")
        out.append(
            ck.relative(
                "events",
                f"{kind.replace('_', ' ')} events per customer per month",
                target,
                counts.get(kind, 0) / n / run.months,
                tol,
            )
        )
    return out


def fraud(run: RunData) -> list[Check]:
    """Fraud timing and reporting targets (only when the run has fraud episodes)."""

    f, tol = run.profile.fraud, run.profile.tolerances
    ep = run.table("episodes").filter(pl.col("is_fraud"))
    s = "fraud"
    if ep.height == 0:
        return []
    hours = np.bincount(ep["start"].dt.hour().to_numpy(), minlength=24)[:24]
    noise = 24 * math.sqrt(2 * (1 / 24) * (23 / 24) / (math.pi * ep.height))
    out = [
        ck.shape(
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
            ck.at_most(
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
            ck.relative(
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
                ck.relative(
                    s,
                    "never-reported share of fraud episodes",
                    f.never_reported_share,
                    float((~reported[counted]).mean()),
                    tol.relative,
                    f"{int(counted.sum())} card, account, scam and AML episodes",
                )
            )
    return out


def fidelity(run: RunData) -> list[Check]:
    """Every check, each with the reason it misses (if it does)."""
    out: list[Check] = []
    for part in (population, merchants, cards, atm, transfers, balances, calendar, events, fraud):
        out.extend(part(run))
    return [explain(c, run) for c in out]


def summary(checks: list[Check]) -> dict[str, object]:
    counted = [c for c in checks if c["passed"] is not None]
    passed = sum(1 for c in counted if c["passed"])
    return {
        "passed": passed,
        "total": len(counted),
        "share": passed / len(counted) if counted else None,
        "not_measured": len(checks) - len(counted),
        "failed": [c["name"] for c in counted if not c["passed"]],
    }
