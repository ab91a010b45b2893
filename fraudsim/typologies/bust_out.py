"""Bust-out: a credit customer behaves for months, gets a higher limit, maxes out, vanishes."""

from __future__ import annotations

import datetime as dt

import numpy as np
from pydantic import Field, model_validator

from fraudsim.core.units import DAY, HOUR
from fraudsim.typologies import human
from fraudsim.typologies.base import Episode, Outcome, Process, Typology, TypologyParams
from fraudsim.typologies.registry import register

MIN_GAP = 480  # seconds between burst attempts: stays under the 8-per-hour velocity rule
ATM_MAX = 500.0  # largest single cash advance, major units
# Resellable goods bought in the burst (first ones that exist in the world are used).
BURST_CATEGORIES = ("electronics", "general_retail", "travel", "apparel")
Step = tuple[int, str, int]  # (time, action, amount or index)


class BustOutParams(TypologyParams):
    # choice: bust-outs are both established customers turning bad (first-party fraud) and
    # new applicants (often synthetic identities); no published split
    existing_share: float = Field(
        default=0.5, ge=0, le=1, description="share by an existing customer with a credit card"
    )
    credit_limit: float | None = Field(
        default=None,
        ge=100,
        le=100_000,
        description="a new applicant's first credit limit, major units (None: what the bank "
        "grants their income, as for everyone)",
    )
    limit_raise_factor: float = Field(
        default=3.0, gt=1, le=20, description="limit after the raise / limit before"
    )
    # TYPOLOGIES.md: "behaves well for months" (choice: median three months)
    nurture_days: float = Field(
        default=90.0, ge=1, le=720, description="median days a new applicant behaves well"
    )
    nurture_sigma: float = Field(
        default=0.5, ge=0, le=2, description="lognormal sigma of the nurture period"
    )
    burst_days: float = Field(default=2.0, gt=0, le=30, description="days of the spending burst")
    income_uplift: float = Field(
        default=1.15,
        ge=1,
        le=3,
        description="a new applicant's stated income over a newcomer's (choice: a little "
        "inflated to get credit)",
    )
    burst_purchases: int = Field(
        default=12, ge=1, le=200, description="purchases in the final burst"
    )
    burst_atm_share: float = Field(
        default=0.2, ge=0, le=1, description="share of the burst taken as ATM cash advances"
    )
    burst_fill: float = Field(
        default=0.95, gt=0, le=1, description="share of the available credit the burst uses"
    )
    charge_off_days: float = Field(
        default=60.0, gt=0, le=120, description="median days from the burst to the write-off"
    )
    min_age: int = Field(default=18, ge=18, le=99, description="youngest applicant")
    max_age: int = Field(default=99, ge=18, le=99, description="oldest applicant")

    @model_validator(mode="after")
    def _ages(self) -> BustOutParams:
        if self.max_age < self.min_age:
            raise ValueError("max_age must be >= min_age")
        return self


@register("bust_out.v1")
class BustOut(Typology):
    """Every row is on the bust-out customer's own accounts: role "fraudster".

    An existing customer's good record is their honest life before and during the run; a new
    applicant builds one in the run: pay arrives monthly, the cards are used at honest rates and
    tickets and repaid in full each month, for a nurture period drawn in weeks to months (cut
    to the days the run has left). The bank learns of it when the card is written off after
    missed payments, `charge_off_days` after the burst: the episode sets its report time
    itself, since the engine's draw counts from the episode start, which is too early.
    """

    family = "card"
    description = (
        "A customer (existing or newly opened) with a credit card uses it and repays it for "
        "weeks to months, gets a higher limit, then maxes the card out and never repays."
    )
    report_kind = "dispute"  # the write-off is always found (no never-reported share)
    default_rate_per_day = 0.05
    rows_per_episode = 60.0
    Params = BustOutParams
    params: BustOutParams

    def expected_rows(self) -> float:
        p = self.params
        months = p.nurture_days / 30
        nurture = months * (2 * 12 + 2) + 2  # two cards' purchases, pay and repayment, deposit
        burst = p.burst_purchases + 4
        return burst + (1 - p.existing_share) * nurture

    def setup(self) -> None:
        # Work-around: Population.ibans is a lazy cached_property sized on the accounts that
        # exist when first read; read it before any account is opened, or the exported
        # accounts table gets IBANs for the new accounts twice.
        _ = self.ch.pop.ibans

    def run(self, ep: Episode) -> Process:
        ch = self.ch
        if "plan" not in ep.state:
            self._setup(ep)  # before the first yield: the report time must be set now
        plan: list[Step] = ep.state["plan"]
        while ep.state["step"] < len(plan):
            t, kind, amount = plan[ep.state["step"]]
            slow = ep.state["slow"] if kind in ("burst", "cash") else 0
            yield ch.wait(t + slow - ch.now)
            self._act(ep, kind, amount)
            ep.state["step"] += 1

    # -- planning ----------------------------------------------------------------------------

    def _setup(self, ep: Episode) -> None:
        p, ch, rng = self.params, self.ch, self.rng
        left = ch.world.config.days * DAY - ch.now
        existing = rng.random() < p.existing_share
        if existing:
            customer = int(ch.sample_customers(rng, 1, with_credit_card=True)[0])
            checking = ch.checking(customer)
            credit = int(ch.pop.customers["credit_idx"][customer])
            card = next(
                int(c) for c in ch.cards_of(customer) if ch.pop.cards["account_idx"][c] == credit
            )
            limit = -int(ch.bank.floors[credit])
            plan: list[Step] = []
            # Their months of good record are their life before: the raise comes soon.
            raise_at = ch.daytime(rng, ch.now + int(rng.uniform(0, 3) * DAY))
        else:
            customer, checking, card, credit, limit, plan = self._applicant(ep, left)
            raise_at = max([t for t, _, _ in plan] + [ch.now]) + int(rng.uniform(0.2, 1.5) * DAY)
            raise_at = ch.daytime(rng, raise_at)
        plan.append((raise_at, "raise", 0))
        burst_at = raise_at + int(rng.uniform(0.5, 1.5) * DAY)
        # Cash advances of at most ATM_MAX each; their count is fixed now, amounts at the burst.
        new_limit = limit * p.limit_raise_factor / ch.world.profile.minor_per_major
        n_cash = int(np.ceil(new_limit * p.burst_fill * p.burst_atm_share / ATM_MAX))
        n = p.burst_purchases + n_cash
        room = max(ch.world.config.days * DAY - burst_at - 3600, 0)
        span = max(min(p.burst_days * DAY, 0.9 * room), (MIN_GAP + 120) * n)
        gaps = MIN_GAP + (span - MIN_GAP * n) * rng.dirichlet(np.ones(n))
        steps = [("burst", j) for j in range(p.burst_purchases)] + [
            ("cash", j) for j in range(n_cash)
        ]
        for t, k in zip(np.cumsum(gaps).tolist(), rng.permutation(n).tolist(), strict=True):
            plan.append((burst_at + int(t), *steps[k]))
        end = burst_at + int(span) + int(rng.uniform(600, 6 * HOUR))
        plan.append((end, "vanish", 0))
        plan.sort(key=lambda x: x[0])
        ep.report_at = end + int(p.charge_off_days * DAY * rng.lognormal(0, 0.3))
        owed = -int(ch.bank.balances[credit]) if existing else 0
        ep.state.update(
            customer=customer,
            checking=checking,
            card=card,
            credit=credit,
            limit=limit,
            existing=existing,
            region=int(ch.pop.customers["region"][customer]),
            plan=plan,
            step=0,
            owed=max(owed, 0),  # card spend not yet repaid, minor units
            cash=0,  # a new applicant's money on checking (inflows less spending), minor units
            slow=0,  # extra seconds added to burst steps after a velocity decline
        )

    def _applicant(self, ep: Episode, left: int) -> tuple[int, int, int, int, int, list[Step]]:
        """A new applicant like any newcomer (a little inflated income), their cards, and the
        steps of their nurture period: (customer, checking, card, credit, limit, plan)."""
        p, ch, rng = self.params, self.ch, self.rng
        prof = ch.world.profile
        customer, checking = human.open_like_newcomer(
            ch, rng, p.income_uplift, (p.min_age, p.max_age)
        )
        income = float(ch.pop.customers["income"][customer])
        # Opened online, as newcomers open theirs: a first login from their phone.
        ch.event(ep, customer, "login", device=ch.device_of(customer), account=checking)
        debit = ch.issue_card(customer, "debit")
        months = prof.balances.credit_limit_months
        limit_major = p.credit_limit or max(income / 12 * months, prof.balances.credit_limit_min)
        card = ch.issue_card(customer, "credit", round(limit_major, -2))
        credit = int(ch.pop.cards["account_idx"][card])
        limit = -int(ch.bank.floors[credit])
        # Weeks to months of good behaviour, cut to what is left of the run (the raise and
        # the burst need a few days after it).
        nurture = p.nurture_days * DAY * float(rng.lognormal(0, p.nurture_sigma))
        nurture = int(min(nurture, max(left - 4 * DAY, 0.5 * left)))
        start, end = ch.now, ch.now + nurture
        t, amount, cash = human.first_deposit(rng, prof, start)
        plan: list[Step] = [(t, "deposit_cash" if cash else "deposit", amount)]
        payday = int(ch.pop.customers["payday"][customer])
        first = ch.world.config.start_date
        pay = human.paydays(rng, prof, first, (start, end), income, payday)
        plan += [(at, "salary", a) for at, a in pay]
        for at, k, online in human.card_use(ch, rng, customer, 2, (start + HOUR, end)):
            plan.append((at, "buy_online" if online else "buy", k))
        # The card is repaid in full on its own day each month, as honest cards are.
        due = int(rng.integers(1, prof.transfers.card_repayment_day_max + 1))
        for day in range(start // DAY + 1, end // DAY):
            if (first + dt.timedelta(days=day)).day == due:
                at = human.business_day(day * DAY + int(rng.uniform(4, 5) * HOUR), first)
                if start < at < end:
                    plan.append((at, "repay", 0))
        ep.state["debit"] = debit
        return customer, checking, card, credit, limit, plan

    # -- actions -----------------------------------------------------------------------------

    def _act(self, ep: Episode, kind: str, amount: int) -> None:
        p, ch, s = self.params, self.ch, ep.state
        device = ch.device_of(s["customer"])
        if kind in ("deposit", "deposit_cash"):
            human.post_deposit(ch, ep, s["checking"], amount, kind == "deposit_cash", "fraudster")
            s["cash"] += amount
        elif kind == "salary":
            ch.credit(ep, s["checking"], amount, tx_type="salary", role="fraudster")
            s["cash"] += amount
        elif kind in ("buy", "buy_online"):
            # `amount` is which card: 0 the debit card, 1 the credit card.
            self._everyday(ep, kind == "buy_online", amount == 1)
        elif kind == "repay" and s["owed"] > 0:
            # A full, on-time repayment: what the issuer's scoring rewards.
            pay = min(s["owed"], max(s["cash"], 0))
            if pay > 0:
                outcome = ch.transfer(
                    ep,
                    s["checking"],
                    s["credit"],
                    pay,
                    tx_type="card_repayment",
                    channel="standing_order",
                    role="fraudster",
                )
                if outcome.approved:
                    s["cash"] -= pay
                    s["owed"] -= pay
        elif kind == "raise":
            ch.event(ep, s["customer"], "login", device=device, account=s["credit"])
            raised = round(s["limit"] * p.limit_raise_factor / ch.world.profile.minor_per_major, -2)
            ch.set_limit(s["credit"], raised)
            s["limit"] = -int(ch.bank.floors[s["credit"]])
        elif kind in ("burst", "cash"):
            if "amounts" not in s:
                self._burst_amounts(ep)
            amount = s["amounts"][kind][amount]  # here `amount` is the step's index
            if kind == "cash":
                outcome = ch.atm_withdrawal(ep, s["card"], amount, role="fraudster")
                if outcome.approved:
                    s["owed"] += amount
            else:
                self._purchase(ep, amount)
        elif kind == "vanish":
            self._vanish(ep, device)

    def _everyday(self, ep: Episode, online: bool, on_credit: bool) -> None:
        """An ordinary purchase at an honest ticket, with the debit card while there is money
        on checking, the credit card kept to low use (what earns the limit raise)."""
        ch, rng, s = self.ch, self.rng, ep.state
        merchant = self._merchant(online, False, None if online else s["region"])
        if merchant < 0:
            online, merchant = True, self._merchant(True, False, None)
        amount = human.everyday_ticket(ch, rng, merchant, online)
        if not on_credit and amount > s["cash"] // 2:
            on_credit = True
        if on_credit and s["owed"] + amount > 0.3 * s["limit"]:
            return  # they hold back rather than run the card up before the raise
        card = s["card"] if on_credit else s["debit"]
        outcome = self._pay(ep, card, merchant, amount, online)
        if outcome.approved:
            if on_credit:
                s["owed"] += amount
            else:
                s["cash"] -= amount

    def _purchase(self, ep: Episode, amount: int) -> None:
        rng, s = self.rng, ep.state
        online = rng.random() < 0.6
        merchant = self._merchant(online, True, s["region"])
        if merchant < 0:
            online, merchant = True, self._merchant(True, True, None)
        price = self.ch.shop_price(rng, merchant, amount / self.ch.world.profile.minor_per_major)
        outcome = self._pay(ep, s["card"], merchant, min(price, amount), online)
        if outcome.approved:
            s["owed"] += outcome.amount

    def _pay(self, ep: Episode, card: int, merchant: int, amount: int, online: bool) -> Outcome:
        ch, s = self.ch, ep.state
        return ch.card_payment(
            ep,
            card,
            merchant,
            amount,
            channel="cnp" if online else "pos",
            device=ch.own_device(self.rng, s["customer"]) if online else -1,
            role="fraudster",
            has_otp=True,  # their own card and phone: step-up passes
        )

    def _vanish(self, ep: Episode, device: int) -> None:
        """The money on checking leaves too (bar some change); nothing is ever repaid."""
        ch, s, prof = self.ch, ep.state, self.ch.world.profile
        if s["existing"]:
            # All the account allows, overdraft included, so later statements bounce.
            available = int(ch.bank.balances[s["checking"]] - ch.bank.floors[s["checking"]])
        else:
            available = s["cash"]
        change = int(self.rng.uniform(0.5, 40.0) * prof.minor_per_major)
        if available > change:
            out = available - change
            ch.transfer(ep, s["checking"], -1, out, device=device, role="fraudster")
            s["cash"] -= out

    def _burst_amounts(self, ep: Episode) -> None:
        """Split what is left of the raised limit over the burst's purchases and cash."""
        p, s, rng = self.params, ep.state, self.rng
        minor = self.ch.world.profile.minor_per_major
        budget = int((s["limit"] - s["owed"]) * p.burst_fill)
        n_cash = sum(1 for step in s["plan"] if step[1] == "cash")
        note = 10 * minor
        cash_budget = budget * p.burst_atm_share if n_cash else 0
        # Cash in notes, at most the machine's limit each, rarely twice the same sum.
        shares = rng.dirichlet(np.full(max(n_cash, 1), 4.0))[:n_cash]
        cash = [int(min(cash_budget * w, ATM_MAX * minor)) // note * note for w in shares]
        cash = [max(c, 2 * note) for c in cash]
        weights = rng.dirichlet(np.full(p.burst_purchases, 3.0))
        buys = np.floor(weights * max(budget - sum(cash), 0)).astype(int).tolist()
        s["amounts"] = {"burst": [max(b, minor) for b in buys], "cash": cash}

    def _merchant(self, online: bool, big: bool, region: int | None) -> int:
        ch, rng = self.ch, self.rng
        categories = BURST_CATEGORIES if big else (None,)
        for category in categories:
            try:
                return int(ch.merchants(rng, 1, online, category, None if online else region)[0])
            except ValueError:
                continue
        return -1 if not online else int(ch.merchants(rng, 1, online=True)[0])

    # -- adaptation --------------------------------------------------------------------------

    def on_declined(self, ep: Episode, outcome: Outcome) -> None:
        if outcome.reason == "rule":
            # The velocity rule fired: space the rest of the burst out (and keep the budget).
            ep.state["slow"] = ep.state.get("slow", 0) + HOUR
            ep.adaptations += 1

    def on_interrupt(self, ep: Episode, cause: str) -> bool:
        # The bank froze or blocked the account: the identity is burnt, the fraudster is gone.
        return False
