"""Legitimate look-alikes: honest behaviour shaped like fraud or laundering (camouflage)."""

from __future__ import annotations

from abc import abstractmethod
from typing import ClassVar, Literal

import numpy as np
from pydantic import Field

from fraudsim.core.units import DAY, HOUR
from fraudsim.typologies.base import Episode, Outcome, Process, Typology, TypologyParams
from fraudsim.typologies.registry import register

_NOT_SHOPS = ("atm", "utilities", "telecom", "insurance")  # categories ch.merchants never picks


class _Honest(Typology):
    """Real customers acting for themselves: their own cards and devices, role "none", never
    reported. `run` names the pattern on the episode so every row carries it."""

    family = "lookalike"
    report_kind = "never"
    is_fraud: ClassVar[bool] = False
    default_rate_per_day = 0.3

    def run(self, ep: Episode) -> Process:
        ep.pattern = self.name.split(".")[0]
        yield from self.behave(ep)

    @abstractmethod
    def behave(self, ep: Episode) -> Process:
        """The honest behaviour (a SimPy generator); `run` names the pattern first."""

    # -- helpers -------------------------------------------------------------------------------

    def _until(self, lo: int = 8, hi: int = 21) -> float:
        """Seconds to wait until a waking hour in [lo, hi): people act in the daytime."""
        now = self.ch.now
        hour = (now % DAY) / HOUR
        if lo <= hour < hi - 1:
            return 1.0
        day = now - now % DAY + (DAY if hour >= lo else 0)
        return float(day + self.rng.integers(lo * HOUR, hi * HOUR) - now)

    def _pay(self, ep: Episode, src: int, dst: int, amount: int) -> Outcome:
        """An own-device transfer; dst -1 pays someone at another bank."""
        device = self.ch.device_of(int(self.ch.pop.accounts["customer_idx"][src]))
        return self.ch.transfer(ep, src, dst, amount, device=device, role="none")

    def _funds(self, account: int, amount: int, days: int = 14) -> Process:
        """Wait (a day at a time, at most `days`) until the account can pay `amount`: a
        relative repays once the money is there, e.g. after payday."""
        bank = self.ch.bank
        for _ in range(days):
            if bank.balances[account] - bank.floors[account] >= amount:
                return
            yield self.ch.wait(DAY)

    def _receive(self, ep: Episode, account: int, amount: int) -> Outcome:
        """A transfer arriving from someone at another bank."""
        return self.ch.credit(
            ep, account, amount, tx_type="p2p_transfer", channel="online_banking", role="none"
        )

    def _card(self, customer: int, prefer_credit: bool = False) -> int:
        cards = self.ch.cards_of(customer)
        kinds = self.ch.pop.cards["kind"][cards]
        preferred = cards[kinds == (1 if prefer_credit else 0)]
        return int((preferred if len(preferred) else cards)[0])

    def _afford(self, amount: float, min_age: int, credit: bool) -> tuple[int, int, int]:
        """(customer, card, room): the first of a few customers whose card has room for
        `amount` (minor units), else the roomiest: people spend when they can afford it."""
        rooms = []
        for c in self.ch.sample_customers(self.rng, 20, min_age=min_age).tolist():
            card = self._card(int(c), prefer_credit=credit)
            acct = int(self.ch.pop.cards["account_idx"][card])
            rooms.append((int(self.ch.bank.balances[acct] - self.ch.bank.floors[acct]), c, card))
        room, who, card = next((r for r in rooms if r[0] >= amount), max(rooms))
        return int(who), card, room

    def _people(self, n: int, exclude: int, contacts_of: int | None = None) -> list[int]:
        """n distinct customers: the person's own contacts first, then others."""
        picked: list[int] = []
        if contacts_of is not None:
            picked = [int(c) for c in dict.fromkeys(self.ch.pop.contacts[contacts_of].tolist())]
        picked += [int(c) for c in self.ch.sample_customers(self.rng, n + len(picked) + 2)]
        return [c for c in dict.fromkeys(picked) if c != exclude][:n]

    def _merchant(self, category: str | None, online: bool, region: int | None = None) -> int:
        """A merchant of the category (in the region if any exists there, else anywhere)."""
        for cat, reg in ((category, region), (category, None), (None, region), (None, None)):
            try:
                return int(
                    self.ch.merchants(self.rng, 1, online=online, category=cat, region=reg)[0]
                )
            except ValueError:
                continue
        raise ValueError("no merchant at all")


class PayrollParams(TypologyParams):
    employees: int = Field(default=12, ge=2, le=500, description="staff paid in one run")
    salary: float = Field(default=2_400.0, gt=0, le=1e6, description="median net monthly pay")
    salary_sigma: float = Field(default=0.35, ge=0, le=2, description="lognormal sigma of pay")
    revenue_payments: int = Field(default=6, ge=0, le=200, description="client payments first")
    revenue_days: float = Field(default=3.0, gt=0, le=30, description="days revenue arrives over")
    outside_share: float = Field(default=0.2, ge=0, le=1, description="staff banking elsewhere")
    spacing_minutes: float = Field(default=2.0, gt=0, le=120, description="mean gap in the batch")


@register("payroll_fan_out.v1")
class PayrollFanOut(_Honest):
    description = "A small employer receives client payments, then pays many employees at once."
    Params = PayrollParams
    params: PayrollParams

    def expected_rows(self) -> float:
        return self.params.employees + self.params.revenue_payments

    def behave(self, ep: Episode) -> Process:
        p, ch, rng, st = self.params, self.ch, self.rng, ep.state
        if "staff" not in st:
            boss = int(ch.sample_customers(rng, 1, min_age=30)[0])
            staff = [ch.checking(c) for c in self._people(p.employees, exclude=boss)]
            outside = rng.random(len(staff)) < p.outside_share
            pay = rng.lognormal(np.log(p.salary), p.salary_sigma, len(staff))
            st.update(
                employer=ch.checking(boss),
                staff=[-1 if o else s for s, o in zip(staff, outside, strict=True)],
                pay=[int(x * 100) for x in pay],
                revenue=sum(int(x * 100) for x in pay) * rng.uniform(1.05, 1.3),
                revenue_done=0,
                paid=0,
            )
        employer, total = st["employer"], st["revenue"]
        while st["revenue_done"] < p.revenue_payments:
            st["revenue_done"] += 1
            yield ch.wait(rng.exponential(p.revenue_days * DAY / p.revenue_payments))
            yield ch.wait(self._until(8, 19))
            share = rng.uniform(0.5, 1.5) / p.revenue_payments
            self._receive(ep, employer, int(total * share))
        # Payroll goes out on a later morning, as one batch from the business's online banking.
        yield ch.wait(rng.uniform(2, 20) * HOUR)
        yield ch.wait(self._until(9, 16))
        while st["paid"] < len(st["staff"]):
            i = st["paid"]
            st["paid"] += 1
            self._pay(ep, employer, st["staff"][i], st["pay"][i])
            yield ch.wait(rng.exponential(p.spacing_minutes * 60))


class BillSplitParams(TypologyParams):
    friends: int = Field(default=4, ge=1, le=20, description="friends who pay their share back")
    bill: float = Field(default=180.0, gt=0, le=1e5, description="median bill, major units")
    online_share: float = Field(default=0.3, ge=0, le=1, description="bills paid online (trips)")
    hours: float = Field(default=20.0, gt=0, le=24 * 14, description="mean hours to pay back")
    outside_share: float = Field(default=0.25, ge=0, le=1, description="friends banking elsewhere")


@register("bill_split_fan_in.v1")
class BillSplitFanIn(_Honest):
    description = "One person pays a shared bill by card and friends each transfer their share."
    Params = BillSplitParams
    params: BillSplitParams

    def expected_rows(self) -> float:
        return 1 + self.params.friends

    def behave(self, ep: Episode) -> Process:
        p, ch, rng, st = self.params, self.ch, self.rng, ep.state
        if "payer" not in st:
            payer = int(ch.sample_customers(rng, 1, min_age=18)[0])
            friends = self._people(p.friends, exclude=payer, contacts_of=payer)
            outside = rng.random(len(friends)) < p.outside_share
            st.update(
                payer=payer,
                friends=[
                    -1 if o else ch.checking(f) for f, o in zip(friends, outside, strict=True)
                ],
                bill=float(rng.lognormal(np.log(p.bill), 0.5)),
                paid=0,
                back=0,
            )
        payer, account = st["payer"], ch.checking(st["payer"])
        if not st["paid"]:
            yield ch.wait(self._until(11, 23))
            online = rng.random() < p.online_share
            category = "travel" if online else "restaurants"
            region = int(ch.pop.customers["region"][payer])
            merchant = self._merchant(category, online, None if online else region)
            channel, bill = "cnp" if online else "pos", int(st["bill"] * 100)
            device = ch.device_of(payer)  # the cardholder passes step-up: has_otp
            ch.card_payment(
                ep, self._card(payer), merchant, bill, channel, device, role="none", has_otp=True
            )
            st["paid"] = 1
        # Shares are rounded up to whole units, as friends do.
        share = int(np.ceil(st["bill"] / (len(st["friends"]) + 1))) * 100
        while st["back"] < len(st["friends"]):
            friend = st["friends"][st["back"]]
            st["back"] += 1
            yield ch.wait(rng.exponential(p.hours * HOUR / len(st["friends"])))
            yield ch.wait(self._until(7, 24))
            if friend < 0:
                self._receive(ep, account, share)
            else:
                self._pay(ep, friend, account, share)


class FamilyParams(TypologyParams):
    amount: float = Field(default=800.0, gt=0, le=1e6, description="median sum lent")
    hops: int = Field(default=1, ge=1, le=4, description="relatives it passes before returning")
    return_days: float = Field(default=5.0, gt=0, le=90, description="mean days per hop")
    installments: int = Field(default=1, ge=1, le=6, description="repayments of the last hop")
    patience_days: int = Field(default=14, ge=0, le=60, description="days waited for funds")


@register("family_round_trip.v1")
class FamilyRoundTrip(_Honest):
    description = "Money lent to a relative (possibly passed on in the family) comes back whole."
    Params = FamilyParams
    params: FamilyParams

    def expected_rows(self) -> float:
        return self.params.hops + self.params.installments

    def behave(self, ep: Episode) -> Process:
        p, ch, rng, st = self.params, self.ch, self.rng, ep.state
        if "chain" not in st:
            amount = max(round(rng.lognormal(np.log(p.amount), 0.6) / 50) * 50, 50)
            parent, _, _ = self._afford(amount * 150, min_age=40, credit=False)  # can lend it
            family = self._people(p.hops, exclude=parent, contacts_of=parent)
            st.update(chain=[ch.checking(c) for c in [parent, *family]], amount=amount * 100, hop=0)
        chain, amount = st["chain"], st["amount"]
        while st["hop"] < len(chain) - 1:
            src, dst = chain[st["hop"]], chain[st["hop"] + 1]
            st["hop"] += 1
            yield from self._funds(src, amount, p.patience_days)
            yield ch.wait(self._until())
            self._pay(ep, src, dst, amount)
            yield ch.wait(rng.exponential(p.return_days * DAY))
        # The last relative pays it back to the origin, in installments adding up exactly.
        parts = [amount // p.installments] * p.installments
        parts[-1] += amount - sum(parts)
        done = st.setdefault("repaid", 0)
        for part in parts[done:]:
            yield from self._funds(chain[-1], part, p.patience_days)
            yield ch.wait(self._until())
            self._pay(ep, chain[-1], chain[0], part)
            st["repaid"] += 1
            yield ch.wait(rng.exponential(p.return_days * DAY / p.installments))


class SubscriptionParams(TypologyParams):
    charges: int = Field(default=12, ge=3, le=500, description="recurring charges")
    amount: float = Field(default=0.99, gt=0, le=5, description="charge, major units")
    period_hours: float = Field(default=24.0, ge=1, le=744, description="hours between charges")
    jitter_minutes: float = Field(default=5.0, ge=0, le=120, description="timing noise (sd)")
    merchants: int = Field(default=1, ge=1, le=3, description="services charging the card")


@register("subscription_micro_charges.v1")
class SubscriptionMicroCharges(_Honest):
    description = "Tiny recurring online charges by one or two services on one card, on a clock."
    Params = SubscriptionParams
    params: SubscriptionParams

    def expected_rows(self) -> float:
        return float(self.params.charges)

    def behave(self, ep: Episode) -> Process:
        p, ch, rng, st = self.params, self.ch, self.rng, ep.state
        if "card" not in st:
            customer = int(ch.sample_customers(rng, 1)[0])
            services = [self._merchant("digital_goods", True) for _ in range(p.merchants)]
            st.update(card=self._card(customer), services=services, done=0)
        while st["done"] < p.charges:
            merchant = st["services"][st["done"] % len(st["services"])]
            st["done"] += 1
            # Merchant-initiated recurring charges are exempt from step-up.
            ch.card_payment(
                ep, st["card"], merchant, round(p.amount * 100), role="none", has_otp=True
            )
            gap = p.period_hours * HOUR / len(st["services"])
            yield ch.wait(gap + rng.normal(0, p.jitter_minutes * 60))


class HolidayParams(TypologyParams):
    days: int = Field(default=5, ge=1, le=30, description="days away")
    purchases_per_day: float = Field(default=4.0, gt=0, le=30, description="mean card payments")
    atm_per_day: float = Field(default=0.4, ge=0, le=5, description="mean ATM withdrawals")
    purchase: float = Field(default=35.0, gt=0, le=1e4, description="median purchase")
    cash: float = Field(default=150.0, gt=0, le=1e4, description="median ATM withdrawal")


@register("holiday_abroad.v1")
class HolidayAbroad(_Honest):
    description = "A traveller pays in shops and uses ATMs in another region for several days."
    Params = HolidayParams
    params: HolidayParams

    def expected_rows(self) -> float:
        return self.params.days * (self.params.purchases_per_day + self.params.atm_per_day)

    def behave(self, ep: Episode) -> Process:
        p, ch, rng, st = self.params, self.ch, self.rng, ep.state
        if "away" not in st:
            budget = p.days * (p.purchases_per_day * p.purchase + p.atm_per_day * p.cash) * 100
            traveller, card, _ = self._afford(budget, min_age=20, credit=False)
            m, home = ch.pop.merchants, int(ch.pop.customers["region"][traveller])
            cats = [ch.pop.categories.index(c) for c in _NOT_SHOPS]
            shop = ~m["online"] & (m["region"] >= 0) & ~np.isin(m["category"], cats)
            shops = np.unique(m["region"][shop])
            away = [int(r) for r in shops if r != home]
            where = int(rng.choice(away)) if away else home
            st.update(card=card, away=where, day=0, day0=(ch.now // DAY + 1) * DAY)
        while st["day"] < p.days:
            day = st["day0"] + st["day"] * DAY
            st["day"] += 1
            n, k = int(rng.poisson(p.purchases_per_day)), int(rng.poisson(p.atm_per_day))
            if st["day"] == 1 and p.atm_per_day > 0:
                k = max(k, 1)  # local cash on arrival
            acts = sorted(
                [(int(t), "pos") for t in rng.integers(9 * HOUR, 23 * HOUR, n)]
                + [(int(t), "atm") for t in rng.integers(9 * HOUR, 21 * HOUR, k)]
            )
            for t, kind in acts:
                if day + t > ch.now:
                    yield ch.wait(day + t - ch.now)
                if kind == "atm":
                    cash = max(round(rng.lognormal(np.log(p.cash), 0.5) / 10) * 10, 20) * 100
                    ch.atm_withdrawal(ep, st["card"], cash, role="none", region=st["away"])
                    continue
                merchant = self._merchant(None, False, st["away"])
                amount = int(rng.lognormal(np.log(p.purchase), 0.8) * 100)
                ch.card_payment(ep, st["card"], merchant, amount, channel="pos", role="none")


class NewPhoneParams(TypologyParams):
    transfers: int = Field(default=2, ge=0, le=20, description="transfers from the new phone")
    amount: float = Field(default=120.0, gt=0, le=1e5, description="median transfer")
    hours: float = Field(default=24.0, gt=0, le=24 * 14, description="mean hours to a transfer")
    reset_share: float = Field(default=0.3, ge=0, le=1, description="chance of a password reset")
    payee_share: float = Field(default=0.3, ge=0, le=1, description="chance of a new payee")


@register("new_phone_login.v1")
class NewPhoneLogin(_Honest):
    description = "A customer logs in from a new phone (maybe resets the password), then banks."
    Params = NewPhoneParams
    params: NewPhoneParams

    def expected_rows(self) -> float:
        return float(self.params.transfers)

    def behave(self, ep: Episode) -> Process:
        p, ch, rng, st = self.params, self.ch, self.rng, ep.state
        if "phone" not in st:
            who = int(ch.sample_customers(rng, 1)[0])
            st.update(who=who, phone=ch.new_device(owner=who), sent=0)
        who, phone, account = st["who"], st["phone"], ch.checking(st["who"])
        payees = [ch.checking(c) for c in self._people(2, exclude=who, contacts_of=who)]
        if st["sent"] == 0 and "setup" not in st:
            st["setup"] = True
            yield ch.wait(self._until())
            ch.event(ep, who, "device_change", device=phone, account=account)
            yield ch.wait(rng.uniform(30, 600))
            if rng.random() < p.reset_share:  # forgot the password on the new phone
                ch.event(ep, who, "password_reset", device=phone, account=account)
                yield ch.wait(rng.uniform(60, 900))
            ch.event(ep, who, "login", device=phone, account=account)
            if rng.random() < p.payee_share:
                yield ch.wait(rng.uniform(60, 1_800))
                stranger = int(ch.sample_customers(rng, 1)[0])
                payees[0] = ch.checking(stranger)
                ch.event(ep, who, "new_payee", device=phone, account=account)
        while st["sent"] < p.transfers:
            st["sent"] += 1
            yield ch.wait(rng.exponential(p.hours * HOUR))
            yield ch.wait(self._until())
            ch.event(ep, who, "login", device=phone, account=account)
            amount = int(rng.lognormal(np.log(p.amount), 0.7) * 100)
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
class LargeOneOffPurchase(_Honest):
    description = "A customer makes one unusually large purchase, passing step-up if online."
    Params = LargePurchaseParams
    params: LargePurchaseParams

    def expected_rows(self) -> float:
        return 1.0

    def behave(self, ep: Episode) -> Process:
        p, ch, rng, st = self.params, self.ch, self.rng, ep.state
        if "card" not in st:
            amount = int(rng.lognormal(np.log(p.amount), p.sigma) * 100)
            who, card, room = self._afford(amount * 1.2, min_age=22, credit=True)
            amount = min(amount, int(room * 0.9)) if room > 0 else amount
            online = bool(rng.random() < p.online_share)
            category = p.category or str(rng.choice(["electronics", "travel"]))
            st.update(who=who, card=card, amount=amount, online=online, category=category, tries=0)
        who, online = st["who"], st["online"]
        yield ch.wait(self._until(9, 22))
        while st["tries"] < 2:
            st["tries"] += 1
            merchant = self._merchant(
                st["category"], online, None if online else int(ch.pop.customers["region"][who])
            )
            if online:
                # The cardholder approves the payment in the banking app.
                ch.event(ep, who, "login", device=ch.device_of(who), account=ch.checking(who))
            channel, device = "cnp" if online else "pos", ch.device_of(who)
            outcome = ch.card_payment(  # the real cardholder passes step-up: has_otp
                ep, st["card"], merchant, st["amount"], channel, device, role="none", has_otp=True
            )
            if outcome.approved or not st.get("retry"):
                break
            yield ch.wait(rng.uniform(60, 600))  # a mistyped CVV: type it again

    def on_declined(self, ep: Episode, outcome: Outcome) -> None:
        ep.state["retry"] = outcome.reason == "rule"
