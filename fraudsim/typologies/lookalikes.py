"""Legitimate look-alikes: honest behaviour shaped like fraud or laundering (camouflage)."""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from fraudsim.core.units import DAY, HOUR
from fraudsim.typologies.base import Episode, Outcome, Process, TypologyParams
from fraudsim.typologies.honest import _NOT_SHOPS, Honest
from fraudsim.typologies.registry import register


class PayrollParams(TypologyParams):
    employees: int = Field(default=6, ge=2, le=500, description="median staff paid in one run")
    salary: float = Field(default=2_400.0, gt=0, le=1e6, description="median net monthly pay")
    salary_sigma: float = Field(default=0.35, ge=0, le=2, description="lognormal sigma of pay")
    revenue_payments: int = Field(default=6, ge=0, le=200, description="client payments first")
    revenue_days: float = Field(default=3.0, gt=0, le=30, description="days revenue arrives over")
    outside_share: float = Field(default=0.2, ge=0, le=1, description="staff banking elsewhere")
    spacing_minutes: float = Field(default=2.0, gt=0, le=120, description="mean gap in the batch")


@register("payroll_fan_out.v1")
class PayrollFanOut(Honest):
    description = "A small employer receives client payments, then pays many employees at once."
    honest_rate = "payroll_per_customer_month"
    Params = PayrollParams
    params: PayrollParams

    def expected_rows(self) -> float:
        return self.params.employees + self.params.revenue_payments

    def behave(self, ep: Episode) -> Process:
        p, ch, rng, st = self.params, self.ch, self.rng, ep.state
        if "staff" not in st:
            boss = self._someone(min_age=30)
            # Most employers are micro firms: head counts spread around the median (>= 2).
            n = max(2, round(rng.lognormal(np.log(p.employees), 0.5)))
            staff = [ch.checking(c) for c in self._people(n, exclude=boss)]
            outside = rng.random(len(staff)) < p.outside_share
            pay = rng.lognormal(np.log(p.salary), p.salary_sigma, len(staff))
            st.update(
                employer=ch.checking(boss),
                staff=[-1 if o else s for s, o in zip(staff, outside, strict=True)],
                pay=[int(x * self.minor) for x in pay],
                revenue=sum(int(x * self.minor) for x in pay) * rng.uniform(1.05, 1.3),
                revenue_done=0,
                paid=0,
            )
        employer, total = st["employer"], st["revenue"]
        while st["revenue_done"] < p.revenue_payments:
            st["revenue_done"] += 1
            yield ch.wait(rng.exponential(p.revenue_days * DAY / p.revenue_payments))
            yield ch.wait(self._at_hour("online_banking"))
            share = rng.uniform(0.5, 1.5) / p.revenue_payments
            self._receive(ep, employer, int(total * share))
        # Payroll goes out later, as one batch from the business's online banking.
        yield ch.wait(rng.uniform(2, 20) * HOUR)
        yield ch.wait(self._at_hour("online_banking"))
        while st["paid"] < len(st["staff"]):
            i = st["paid"]
            st["paid"] += 1
            self._pay(ep, employer, st["staff"][i], st["pay"][i])
            yield ch.wait(rng.exponential(p.spacing_minutes * 60))


class BillSplitParams(TypologyParams):
    friends: int = Field(default=4, ge=1, le=20, description="most friends paying a share back")
    bill: float = Field(default=180.0, gt=0, le=1e5, description="median bill, major units")
    online_share: float = Field(default=0.3, ge=0, le=1, description="bills paid online (trips)")
    hours: float = Field(default=20.0, gt=0, le=24 * 14, description="mean hours to pay back")
    outside_share: float = Field(default=0.25, ge=0, le=1, description="friends banking elsewhere")
    equal_share: float = Field(
        default=0.6,
        ge=0,
        le=1,
        description="bills split equally, shares rounded up to whole units (choice; the others "
        "pay for what they had)",
    )


@register("bill_split_fan_in.v1")
class BillSplitFanIn(Honest):
    description = "One person pays a shared bill by card and friends each transfer their share."
    honest_rate = "bill_split_per_customer_month"
    Params = BillSplitParams
    params: BillSplitParams

    def expected_rows(self) -> float:
        return 1 + (1 + self.params.friends) / 2

    def behave(self, ep: Episode) -> Process:
        p, ch, rng, st = self.params, self.ch, self.rng, ep.state
        if "payer" not in st:
            payer = self._someone()
            friends = self._people(int(rng.integers(1, p.friends + 1)), payer, contacts_of=payer)
            outside = rng.random(len(friends)) < p.outside_share
            bill = float(rng.lognormal(np.log(p.bill), 0.5))
            each = bill / (len(friends) + 1)
            if rng.random() < p.equal_share:  # rounded up to whole units, as friends do
                shares = [int(np.ceil(each)) * self.minor] * len(friends)
            else:  # each pays for what they had: a whole sum or the exact one
                had = each * rng.lognormal(0, 0.3, len(friends))
                shares = [self._typed(float(x), round_share=0.0) for x in had]
            st.update(
                payer=payer,
                friends=[
                    -1 if o else ch.checking(f) for f, o in zip(friends, outside, strict=True)
                ],
                bill=bill,
                shares=shares,
                paid=0,
                back=0,
            )
        payer, account = st["payer"], ch.checking(st["payer"])
        if not st["paid"]:
            online = rng.random() < p.online_share
            channel = "cnp" if online else "pos"
            yield ch.wait(self._at_hour(channel))
            category = "travel" if online else "restaurants"
            region = int(ch.pop.customers["region"][payer])
            merchant = self._merchant(category, online, None if online else region)
            self._shop(
                ep, self._card(payer), merchant, int(st["bill"] * self.minor), channel, payer
            )
            st["paid"] = 1
        while st["back"] < len(st["friends"]):
            friend, share = st["friends"][st["back"]], st["shares"][st["back"]]
            st["back"] += 1
            yield ch.wait(rng.exponential(p.hours * HOUR / len(st["friends"])))
            yield ch.wait(self._at_hour("online_banking"))
            if friend < 0:
                self._receive(ep, account, share)
            else:
                self._pay(ep, friend, account, share)


class FamilyParams(TypologyParams):
    amount: float = Field(default=800.0, gt=0, le=1e6, description="median sum lent")
    hops: int = Field(default=1, ge=1, le=4, description="relatives it passes before returning")
    return_days: float = Field(default=5.0, gt=0, le=90, description="mean days per hop")
    installments: int = Field(default=3, ge=1, le=6, description="most repayments of the last hop")
    patience_days: int = Field(default=14, ge=0, le=60, description="days waited for funds")
    exact_share: float = Field(
        default=0.55, ge=0, le=1, description="loans repaid to the unit (choice)"
    )
    partial_share: float = Field(
        default=0.25,
        ge=0,
        le=1,
        description="loans repaid only in part, the rest forgiven (choice); the others come "
        "back with a little extra",
    )


@register("family_round_trip.v1")
class FamilyRoundTrip(Honest):
    description = "Money lent to a relative (possibly passed on in the family) mostly comes back."
    honest_rate = "family_loan_per_customer_month"
    Params = FamilyParams
    params: FamilyParams

    def expected_rows(self) -> float:
        return self.params.hops + (1 + self.params.installments) / 2

    def behave(self, ep: Episode) -> Process:
        p, ch, rng, st = self.params, self.ch, self.rng, ep.state
        if "chain" not in st:
            lent = float(rng.lognormal(np.log(p.amount), 0.6))
            parent, _, _ = self._afford(lent * self.minor * 1.5, min_age=40, credit=False)
            family = self._people(p.hops, exclude=parent, contacts_of=parent)
            # Each relative passes on all of it or a part; sums typed as people type them.
            sums = [self._typed(lent)]
            for _ in family[1:]:
                part = 1.0 if rng.random() < 0.6 else rng.uniform(0.5, 0.95)
                sums.append(self._typed(sums[-1] / self.minor * part))
            owed = sums[-1] / self.minor
            u = rng.random()
            if u >= p.exact_share + p.partial_share:  # a little extra, as thanks
                owed *= rng.uniform(1.02, 1.15)
            elif u >= p.exact_share:
                owed *= rng.uniform(0.3, 0.9)
            back = sums[-1] if u < p.exact_share else self._typed(owed)
            st.update(
                chain=[ch.checking(c) for c in [parent, *family]],
                sums=sums,
                parts=self._split(back, int(rng.integers(1, p.installments + 1))),
                hop=0,
            )
        chain = st["chain"]
        while st["hop"] < len(chain) - 1:
            src, dst, amount = chain[st["hop"]], chain[st["hop"] + 1], st["sums"][st["hop"]]
            st["hop"] += 1
            yield from self._funds(src, amount, p.patience_days)
            yield ch.wait(self._at_hour("online_banking"))
            self._pay(ep, src, dst, amount)
            yield ch.wait(rng.exponential(p.return_days * DAY))
        # The last relative pays back the origin, in a few uneven installments.
        done = st.setdefault("repaid", 0)
        for part in st["parts"][done:]:
            yield from self._funds(chain[-1], part, p.patience_days)
            yield ch.wait(self._at_hour("online_banking"))
            self._pay(ep, chain[-1], chain[0], part)
            st["repaid"] += 1
            yield ch.wait(rng.exponential(p.return_days * DAY / len(st["parts"])))


class HolidayParams(TypologyParams):
    # Eurostat: EU residents spent EUR 353 per trip on average (2013), travel and lodging
    # mostly paid before leaving: a few card payments a day on site (choice).
    days: int = Field(default=5, ge=1, le=30, description="mean days away")
    purchases_per_day: float = Field(default=2.0, gt=0, le=30, description="mean card payments")
    atm_per_day: float = Field(default=0.4, ge=0, le=5, description="mean ATM withdrawals")
    purchase: float = Field(default=35.0, gt=0, le=1e4, description="median purchase")
    cash: float = Field(default=150.0, gt=0, le=1e4, description="median ATM withdrawal")


@register("holiday_abroad.v1")
class HolidayAbroad(Honest):
    description = "A traveller pays in shops and uses ATMs in another region for several days."
    honest_rate = "trips_away_per_customer_month"
    Params = HolidayParams
    params: HolidayParams

    def expected_rows(self) -> float:
        return self.params.days * (self.params.purchases_per_day + self.params.atm_per_day)

    def behave(self, ep: Episode) -> Process:
        p, ch, rng, st = self.params, self.ch, self.rng, ep.state
        if "away" not in st:
            days = 1 + int(rng.poisson(p.days - 1))  # trips last a few days to a fortnight
            budget = days * (p.purchases_per_day * p.purchase + p.atm_per_day * p.cash) * self.minor
            traveller, card, _ = self._afford(budget, min_age=20, credit=False)
            m, home = ch.pop.merchants, int(ch.pop.customers["region"][traveller])
            cats = [ch.pop.categories.index(c) for c in _NOT_SHOPS]
            shop = ~m["online"] & (m["region"] >= 0) & ~np.isin(m["category"], cats)
            away = [int(r) for r in np.unique(m["region"][shop]) if r != home]
            where = int(rng.choice(away)) if away else home
            st.update(
                who=traveller, card=card, away=where, days=days, day=0, day0=ch.now - ch.now % DAY
            )
        while st["day"] < st["days"]:
            day = st["day0"] + st["day"] * DAY
            st["day"] += 1
            n, k = int(rng.poisson(p.purchases_per_day)), int(rng.poisson(p.atm_per_day))
            if st["day"] == 1 and p.atm_per_day > 0:
                k = max(k, 1)  # local cash on arrival
            acts = sorted(
                [(self._hour("pos") * HOUR + int(rng.integers(0, HOUR)), "pos") for _ in range(n)]
                + [(self._hour("atm") * HOUR + int(rng.integers(0, HOUR)), "atm") for _ in range(k)]
            )
            for t, kind in acts:
                if day + t <= ch.now:
                    continue  # the first day starts on arrival
                yield ch.wait(day + t - ch.now)
                if kind == "atm":
                    cash = max(round(rng.lognormal(np.log(p.cash), 0.5) / 10) * 10, 20) * self.minor
                    ch.atm_withdrawal(ep, st["card"], cash, role="none", region=st["away"])
                    continue
                merchant = self._merchant(None, False, st["away"])
                amount = int(rng.lognormal(np.log(p.purchase), 0.8) * self.minor)
                self._shop(ep, st["card"], merchant, amount, "pos", st["who"])


class NewPhoneParams(TypologyParams):
    transfers: int = Field(default=2, ge=0, le=20, description="transfers from the new phone")
    amount: float = Field(default=120.0, gt=0, le=1e5, description="median transfer")
    hours: float = Field(default=24.0, gt=0, le=24 * 14, description="mean hours to a transfer")
    reset_share: float = Field(default=0.3, ge=0, le=1, description="chance of a password reset")
    payee_share: float = Field(default=0.3, ge=0, le=1, description="chance of a new payee")


@register("new_phone_login.v1")
class NewPhoneLogin(Honest):
    description = "A customer logs in from a new phone (maybe resets the password), then banks."
    honest_rate = "new_phone_banking_per_customer_month"
    Params = NewPhoneParams
    params: NewPhoneParams

    def expected_rows(self) -> float:
        return float(self.params.transfers)

    def behave(self, ep: Episode) -> Process:
        p, ch, rng, st = self.params, self.ch, self.rng, ep.state
        if "phone" not in st:
            who = self._someone()
            st.update(who=who, phone=ch.new_device(owner=who), sent=0)
            st["payees"] = [ch.checking(c) for c in self._people(2, exclude=who, contacts_of=who)]
        who, phone, account, payees = st["who"], st["phone"], ch.checking(st["who"]), st["payees"]
        if st["sent"] == 0 and "setup" not in st:
            st["setup"] = True
            yield ch.wait(self._at_hour("online_banking"))
            ch.event(ep, who, "device_change", device=phone, account=account)
            yield ch.wait(rng.uniform(30, 600))
            if rng.random() < p.reset_share:  # forgot the password on the new phone
                ch.event(ep, who, "password_reset", device=phone, account=account)
                yield ch.wait(rng.uniform(60, 900))
            ch.event(ep, who, "login", device=phone, account=account)
            if rng.random() < p.payee_share:
                yield ch.wait(rng.uniform(60, 1_800))
                payees[0] = ch.checking(self._someone(exclude=(who,)))
                ch.event(ep, who, "new_payee", device=phone, account=account)
        while st["sent"] < p.transfers:
            st["sent"] += 1
            yield ch.wait(rng.exponential(p.hours * HOUR))
            yield ch.wait(self._at_hour("online_banking"))
            ch.event(ep, who, "login", device=phone, account=account)
            amount = self._typed(float(rng.lognormal(np.log(p.amount), 0.7)))
            dst = payees[int(rng.integers(0, len(payees)))]
            ch.transfer(ep, account, dst, amount, device=phone, role="none")


class LargePurchaseParams(TypologyParams):
    amount: float = Field(default=1_500.0, gt=0, le=1e6, description="median purchase")
    sigma: float = Field(default=0.5, ge=0, le=2, description="lognormal sigma of the amount")
    online_share: float = Field(default=0.6, ge=0, le=1, description="share bought online")
    category: Literal["electronics", "travel", "general_retail", "apparel"] | None = Field(
        default=None, description="merchant category; none: electronics or travel"
    )


@register("large_one_off_purchase.v1")
class LargeOneOffPurchase(Honest):
    description = "A customer makes one unusually large purchase, passing step-up if online."
    honest_rate = "large_purchase_per_customer_month"
    Params = LargePurchaseParams
    params: LargePurchaseParams

    def expected_rows(self) -> float:
        return 1.0

    def behave(self, ep: Episode) -> Process:
        p, ch, rng, st = self.params, self.ch, self.rng, ep.state
        if "card" not in st:
            amount = int(rng.lognormal(np.log(p.amount), p.sigma) * self.minor)
            who, card, room = self._afford(amount * 1.2, min_age=22, credit=True)
            amount = min(amount, int(room * rng.uniform(0.5, 0.9))) if room > 0 else amount
            online = bool(rng.random() < p.online_share)
            category = p.category or str(rng.choice(["electronics", "travel"]))
            st.update(who=who, card=card, amount=amount, online=online, category=category, tries=0)
        who, online = st["who"], st["online"]
        channel, device = "cnp" if online else "pos", ch.own_device(rng, who)
        yield ch.wait(self._at_hour(channel))
        while st["tries"] < 2:
            st["tries"] += 1
            merchant = self._merchant(
                st["category"], online, None if online else int(ch.pop.customers["region"][who])
            )
            if online:
                # The cardholder approves the payment in the banking app.
                ch.event(ep, who, "login", device=device, account=ch.checking(who))
            outcome = self._shop(ep, st["card"], merchant, st["amount"], channel, who, device)
            if outcome.approved or not st.get("retry"):
                break
            yield ch.wait(rng.uniform(60, 600))  # a mistyped CVV: type it again

    def on_declined(self, ep: Episode, outcome: Outcome) -> None:
        ep.state["retry"] = outcome.reason == "rule"
