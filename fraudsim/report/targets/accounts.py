"""Targets of accounts: transfers (P2P, deposits, bills, rent, savings, repayments) and
opening balances, overdrafts and credit limits."""

from __future__ import annotations

import numpy as np
import polars as pl

from fraudsim.export import fidelity as fc
from fraudsim.export.fidelity import FidelityCheck
from fraudsim.report.run import RunData
from fraudsim.report.targets.calendar import day_shape
from fraudsim.report.targets.common import ks_lognormal, monthly_income, sample


def transfers(run: RunData) -> list[FidelityCheck]:
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
        fc.relative(
            s,
            "P2P transfers sent per customer per month",
            t.p2p_per_customer_month,
            out_p2p.height / n / months,
            tol.relative,
        ),
        fc.relative(
            s,
            "P2P transfers received from outside per customer per month",
            t.incoming_p2p_per_customer_month,
            in_p2p.height / n / months,
            tol.relative,
        ),
        fc.relative(
            s,
            "P2P external share",
            t.p2p_external_share,
            float(out_p2p["counterparty_account_id"].is_null().mean() or 0),
            tol.relative,
        ),
        fc.relative(
            s,
            "cash deposits per customer per month",
            t.cash_deposits_per_customer_month,
            deposits.height / n / months,
            tol.relative,
        ),
        fc.relative(
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
        _, expected = day_shape(run, bills, run.profile.calendar.bill_day_weights)
        out.append(
            fc.relative(
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
            fc.relative(s, f"{label} amount median", median, float(np.median(x)), tol.relative)
        )
        out.append(
            fc.relative(
                s, f"{label} amount sigma (log sd)", sigma, float(np.log(x).std()), tol.relative
            )
        )
        out.append(
            fc.ks(
                s,
                f"KS of {label} amounts vs lognormal(median, sigma)",
                ks_lognormal(sample(x), median, sigma),
                tol.shape_l1,
                "KS tolerance = the profile's shape tolerance",
            )
        )
    income = monthly_income(run).select("customer_id", "monthly")
    if rent.height:
        out.append(
            fc.relative(
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
            out.append(fc.relative(s, name, target, share, tol.relative))
    repay = h.filter(kind == "card_repayment")
    if repay.height:
        out.append(
            fc.at_most(
                s,
                "card repayment day of month (latest)",
                t.card_repayment_day_max,
                float(repay["day_of_month"].max()),
                "weekend due days move to the previous business day",
            )
        )
    return out


def balances(run: RunData) -> list[FidelityCheck]:
    b, tol = run.profile.balances, run.profile.tolerances.relative
    acc = run.table("accounts").join(
        monthly_income(run).select("customer_id", "monthly", "income_band"), on="customer_id"
    )
    s = "balances"
    out: list[FidelityCheck] = []
    checking = acc.filter(pl.col("kind") == "checking")
    months = (checking["opening_balance"] / checking["monthly"]).to_numpy()
    positive = months[months > 0]
    out.append(
        fc.relative(
            s,
            "checking balance, months of income (median)",
            b.checking_months_median,
            float(np.median(months)),
            tol,
        )
    )
    if len(positive) > 30:
        out.append(
            fc.relative(
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
            fc.relative(
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
                    fc.absolute(s, f"overdraft, months of income, {band}", 0.0, got, 0.0, note)
                )
            else:
                out.append(
                    fc.relative(s, f"overdraft, months of income, {band}", target, got, tol, note)
                )
    credit = acc.filter(pl.col("kind") == "credit")
    if credit.height:
        limit = -credit["limit"]
        above_min = credit.filter(-pl.col("limit") > b.credit_limit_min + 100)
        out.append(
            fc.relative(
                s,
                "credit limit, months of income (median, above the minimum)",
                b.credit_limit_months,
                float((-above_min["limit"] / above_min["monthly"]).median()),
                tol,
                "limits are rounded to 100",
            )
        )
        out.append(
            fc.absolute(s, "credit limit minimum", b.credit_limit_min, float(limit.min()), 0.0)
        )
    return out
