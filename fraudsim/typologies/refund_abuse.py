"""Refund abuse: a colluding merchant refunds mule cards far more than it sold; mules cash out."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import Field

from fraudsim.core.units import DAY, HOUR
from fraudsim.typologies.base import Episode, Outcome, Process, Typology, TypologyParams
from fraudsim.typologies.registry import register

if TYPE_CHECKING:
    pass

_DEAD = {"card_blocked", "account_frozen", "rule"}


class RefundAbuseParams(TypologyParams):
    category: Literal["general_retail", "electronics", "apparel", "digital_goods", "travel"] = (
        Field(default="electronics", description="what the colluding (online) merchant sells")
    )
    new_merchant_share: float = Field(
        default=0.5, ge=0, le=1, description="share of episodes with a newly opened merchant"
    )
    mules: int = Field(default=3, ge=1, le=100, description="mule cards receiving refunds")
    sale_share: float = Field(
        default=0.7, ge=0, le=1, description="share of mules making a tiny cover sale first"
    )
    sale_max: float = Field(
        default=12.0, gt=0, le=100, description="largest cover sale, major units (tiny)"
    )
    refunds_per_mule: int = Field(default=2, ge=1, le=50, description="refunds to each mule")
    refund_median: float = Field(
        default=280.0, gt=0, le=100_000, description="median refund, major units"
    )
    refund_sigma: float = Field(default=0.5, ge=0, le=3, description="lognormal refund spread")
    campaign_days: float = Field(
        default=3.0, gt=0, le=120, description="days over which mules are brought in"
    )
    refund_delay_hours: float = Field(
        default=8.0, gt=0, le=240, description="mean hours from cover sale to a refund"
    )
    cash_out_hours: float = Field(
        default=3.0, gt=0, le=240, description="mean hours from a refund to its cash-out"
    )
    # choice: the mule keeps a cut of about a tenth, not the same share every time
    cash_out_share: float = Field(
        default=0.9, gt=0, le=1, description="mean share of each refund the mule passes on"
    )
    atm_share: float = Field(
        default=0.6, ge=0, le=1, description="share of cash-outs at an ATM (else transfer out)"
    )
    atm_max: float = Field(default=500.0, gt=0, le=10_000, description="largest ATM withdrawal")


@register("refund_abuse.v1")
class RefundAbuse(Typology):
    """Roles: every row is on a mule's account (role "mule"): the cover sales, the refunds
    credited to the mule cards and the cash-outs. The loss is the acquirer's and merchant
    bank's, found by investigation (report_kind "aml"), which then blocks and freezes the mules.
    """

    family = "card"
    description = (
        "A colluding merchant makes tiny sales to mule cards and refunds them many times "
        "over; the mules withdraw the money at ATMs or wire it out within hours."
    )
    report_kind = "aml"
    default_rate_per_day = 0.05
    rows_per_episode = 14.0
    Params = RefundAbuseParams

    def expected_rows(self) -> float:
        p = self.params
        assert isinstance(p, RefundAbuseParams)
        # sale + refunds + cash-outs (an ATM cash-out may take a few withdrawals)
        return p.mules * (p.sale_share + p.refunds_per_mule * 2.3)

    def run(self, ep: Episode) -> Process:
        p = self.params
        assert isinstance(p, RefundAbuseParams)
        ch = self.ch
        if "plan" not in ep.state:
            self._setup(ep, p)
        plan: list[tuple[int, str, int, int]] = ep.state["plan"]
        while ep.state["step"] < len(plan):
            t, kind, mule, amount = plan[ep.state["step"]]
            yield ch.wait(t - ch.now)
            # A caught mule gets no more sales or refunds; it still tries to pass on money it
            # holds, by transfer, unless its account is frozen.
            if kind == "cash" and mule not in ep.state["frozen"]:
                yield from self._cash_out(ep, p, mule, amount)
            elif kind != "cash" and mule not in ep.state["dropped"]:
                if kind == "sale":
                    self._sale(ep, mule, amount)
                else:
                    self._refund(ep, mule, amount)
            ep.state["step"] += 1

    # -- planning ----------------------------------------------------------------------------

    def _setup(self, ep: Episode, p: RefundAbuseParams) -> None:
        ch, rng = self.ch, self.rng
        if rng.random() < p.new_merchant_share:
            merchant = ch.open_merchant(p.category, online=True)
        else:
            try:  # an existing shop turned (or set up by) an insider
                merchant = int(ch.merchants(rng, 1, online=True, category=p.category)[0])
            except ValueError:
                merchant = ch.open_merchant(p.category, online=True)
        people = ch.sample_customers(
            rng, 3 * p.mules, max_age=ch.world.profile.fraud.mule_max_age
        ).tolist()
        cards = [c for c in (_debit_card(ch.world, int(m), rng) for m in people) if c >= 0]
        cards = cards[: p.mules]
        plan: list[tuple[int, str, int, int]] = []
        for i in range(len(cards)):
            t = ch.daytime(rng, ch.now + int(rng.uniform(0, p.campaign_days * DAY)))
            if rng.random() < p.sale_share:
                sale = ch.shop_price(rng, merchant, rng.uniform(1.0, p.sale_max))
                plan.append((t, "sale", i, sale))
            for _ in range(p.refunds_per_mule):
                t += int(rng.exponential(p.refund_delay_hours * HOUR)) + 60
                refund = ch.shop_price(
                    rng, merchant, p.refund_median * rng.lognormal(0, p.refund_sigma)
                )
                plan.append((t, "refund", i, refund))
                # "About 90%": a beta draw around the mule's agreed cut.
                keep = max(1 - p.cash_out_share, 1e-3)
                share = rng.beta(20 * (1 - keep), 20 * keep)
                cash = int(refund * share)
                plan.append(
                    (t + int(rng.exponential(p.cash_out_hours * HOUR)) + 60, "cash", i, cash)
                )
        plan.sort()
        ep.state.update(
            merchant=merchant,
            cards=cards,
            # ATM or transfer per mule: a mule keeps to one habit unless the bank stops it
            route=["atm" if rng.random() < p.atm_share else "transfer" for _ in cards],
            received=[0] * len(cards),
            dropped=[],  # mules caught: no more refunds to them
            frozen=[],  # mules whose account is frozen: nothing more at all
            plan=plan,
            step=0,
        )

    # -- actions -----------------------------------------------------------------------------

    def _sale(self, ep: Episode, i: int, amount: int) -> None:
        """A tiny genuine-looking purchase: gives the refunds something to point at."""
        ch = self.ch
        card = ep.state["cards"][i]
        customer = int(ch.pop.cards["customer_idx"][card])
        ch.card_payment(
            ep,
            card,
            ep.state["merchant"],
            amount,
            channel="cnp",
            device=ch.own_device(self.rng, customer),
            role="mule",
            has_otp=True,  # the mule is the cardholder
        )

    def _refund(self, ep: Episode, i: int, amount: int) -> None:
        """The merchant pushes a refund to the mule card (credited to its account)."""
        ch = self.ch
        card = ep.state["cards"][i]
        account = int(ch.pop.cards["account_idx"][card])
        ch.credit(
            ep,
            account,
            amount,
            tx_type="refund",
            merchant=ep.state["merchant"],
            card=card,
            role="mule",
            channel="cnp",
        )
        ep.state["received"][i] += amount

    def _cash_out(self, ep: Episode, p: RefundAbuseParams, i: int, amount: int) -> Process:
        """The mule passes the money on: cash at ATMs (round sums) or a transfer out."""
        ch, rng = self.ch, self.rng
        minor = ch.world.profile.minor_per_major
        card = ep.state["cards"][i]
        account = int(ch.pop.cards["account_idx"][card])
        customer = int(ch.pop.cards["customer_idx"][card])
        amount = min(amount, ep.state["received"][i])
        if ep.state["route"][i] == "atm":
            step = 10 * minor
            left = amount - amount % step
            while left > 0:
                # Near the machine's limit, not the same note count every time.
                top = int(p.atm_max * rng.uniform(0.6, 1.0) * minor) // step * step
                cash = min(left, max(top, step))
                outcome = ch.atm_withdrawal(ep, card, cash, role="mule")
                if not outcome.approved:
                    break  # on_declined has switched this mule to transfers
                left -= cash
                ep.state["received"][i] -= cash
                if left > 0:
                    yield ch.wait(rng.uniform(60, 600))
            if left <= 0 or ep.state["route"][i] == "atm":
                return
            amount = left
        outcome = ch.transfer(
            ep, account, -1, amount, device=ch.own_device(rng, customer), role="mule"
        )
        if outcome.approved:
            ep.state["received"][i] -= amount

    # -- adaptation --------------------------------------------------------------------------

    def on_declined(self, ep: Episode, outcome: Outcome) -> None:
        if outcome.reason not in _DEAD or "cards" not in ep.state:
            return
        i = ep.state["plan"][min(ep.state["step"], len(ep.state["plan"]) - 1)][2]
        self._caught(ep, i, frozen=outcome.reason == "account_frozen")
        ep.adaptations += 1

    def on_interrupt(self, ep: Episode, cause: str) -> bool:
        # The bank blocked mule cards or froze accounts while waiting (the mules tell the
        # organiser): drop the mules it caught, carry on with the others.
        ch = self.ch
        for i, card in enumerate(ep.state.get("cards", [])):
            account = int(ch.pop.cards["account_idx"][card])
            if ch.bank.account_frozen_at[account] <= ch.now:
                self._caught(ep, i, frozen=True)
            elif ch.bank.card_blocked_at[card] <= ch.now:
                self._caught(ep, i, frozen=False)
        alive = len(ep.state.get("dropped", [])) < len(ep.state.get("cards", []))
        return alive and ep.state.get("step", 0) < len(ep.state.get("plan", []))

    def _caught(self, ep: Episode, i: int, frozen: bool) -> None:
        """A mule's card stopped working: no more refunds; wire out what it holds instead."""
        if i not in ep.state["dropped"]:
            ep.state["dropped"].append(i)
        ep.state["route"][i] = "transfer"
        if frozen and i not in ep.state["frozen"]:
            ep.state["frozen"].append(i)


def _debit_card(world: Any, customer: int, rng: np.random.Generator) -> int:
    """The mule's card on their checking account (cash comes out of it), else any; -1: none."""
    cards = np.flatnonzero(world.population.cards["customer_idx"] == customer)
    checking = world.population.customers["checking_idx"][customer]
    debit = cards[world.population.cards["account_idx"][cards] == checking]
    if len(cards) == 0:
        return -1
    return int(rng.choice(debit if len(debit) else cards))
