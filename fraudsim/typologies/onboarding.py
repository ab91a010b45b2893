"""New honest customers opening accounts during the run: the look-alike of synthetic identities
and bust-outs, so that an account's late start does not by itself reveal fraud."""

from __future__ import annotations

import calendar
import datetime as dt

import numpy as np
from pydantic import Field

from fraudsim.core.units import DAY, HOUR
from fraudsim.typologies.base import Episode, Process, TypologyParams
from fraudsim.typologies.honest import Honest
from fraudsim.typologies.registry import register


class NewCustomerParams(TypologyParams):
    credit_card_share: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="share who also take a credit card; none: the profile's share for their "
        "income band, as for everyone",
    )
    credit_limit: float | None = Field(
        default=None,
        gt=0,
        description="their first credit limit; none: the profile's months of income",
    )
    first_deposit: float = Field(default=500.0, gt=0, description="median opening deposit")
    branch_share: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="first deposits paid in as cash at a branch; the rest is transferred from "
        "their old bank (choice)",
    )


@register("new_customer.v1")
class NewCustomer(Honest):
    description = (
        "An honest newcomer opens an account mid-run, pays in a first deposit, "
        "gets cards and lives an ordinary financial life from then on."
    )
    default_rate_per_day = 0.5
    rows_per_episode = 12.0
    honest_rate = "new_customers_per_customer_month"
    Params = NewCustomerParams
    params: NewCustomerParams

    def behave(self, ep: Episode) -> Process:
        p, ch, rng = self.params, self.ch, self.rng
        prof = ch.world.profile
        minor = prof.minor_per_major
        if "customer" not in ep.state:
            # A newcomer like the customers already here: the age, income, sex and home of
            # one of them (newcomers are not a type of their own), with their own income.
            twin = self._someone()
            c = ch.pop.customers
            income = float(c["income"][twin]) * float(rng.lognormal(0, 0.15))
            customer, account = ch.open_account(
                age=int(c["age"][twin]),
                income=income,
                region=int(c["region"][twin]),
                sex=str(c["sex"][twin]),
            )
            card = ch.issue_card(customer, "debit")
            band = int(c["income_band"][customer])
            share = p.credit_card_share
            if share is None:
                share = prof.population.credit_card_share_by_income_band[band]
            credit = -1
            if rng.random() < share:
                limit = p.credit_limit or max(
                    income / 12 * prof.balances.credit_limit_months, prof.balances.credit_limit_min
                )
                credit = ch.issue_card(customer, "credit", round(limit, -2))
            ep.state.update(customer=customer, account=account, card=card, credit=credit)
            device = ch.own_device(rng, customer)
            ch.event(ep, customer, "login", device=device, account=account)
            deposit = float(p.first_deposit * rng.lognormal(0, 0.6))
            if rng.random() < p.branch_share:
                # Cash is paid in as notes, in branch opening hours (as honest cash deposits).
                step = prof.transfers.cash_deposit_step
                now = ch.now % DAY
                if not 9 * HOUR <= now < 17 * HOUR:
                    yield ch.wait((9 * HOUR - now) % DAY + rng.integers(0, 8 * HOUR))
                cash = max(round(deposit / step), 1) * step * minor
                ch.credit(ep, account, cash, tx_type="cash_deposit", channel="branch", role="none")
            else:
                ch.credit(
                    ep,
                    account,
                    self._typed(deposit),
                    tx_type="p2p_transfer",
                    channel="online_banking",
                    role="none",
                )
        s = ep.state
        s.setdefault("payday", self._payday())
        cards = [s["card"]] + ([s["credit"]] if s["credit"] >= 0 else [])
        # An ordinary life from day one, at the profile's rates, amounts and hours: card
        # purchases, cash, transfers to people and the monthly pay (never only purchases).
        rates = np.array(
            [
                prof.cards.purchases_per_card_month * len(cards),
                prof.atm.withdrawals_per_debit_card_month,
                prof.transfers.p2p_per_customer_month,
            ]
        )
        end = ch.world.config.days * DAY
        while ch.now < end:
            kind = int(np.searchsorted(np.cumsum(rates), rng.random() * rates.sum(), "right"))
            online = kind == 0 and rng.random() < prof.cards.cnp_share
            channel = ("cnp" if online else "pos", "atm", "online_banking")[kind]
            at = ch.now + self._at_hour(
                channel, not_before=ch.now + rng.exponential(30 * DAY / rates.sum())
            )
            pay_at = self._pay_time(s["payday"])
            if pay_at < at:  # payday comes first: the salary, then draw again
                yield ch.wait(pay_at - ch.now)
                if ch.now < end:
                    salary = round(float(ch.pop.customers["income"][s["customer"]]) / 12 * minor)
                    ch.credit(ep, s["account"], salary, tx_type="salary", role="none")
                continue
            yield ch.wait(at - ch.now)
            if ch.now < end:
                self._live(ep, kind, online, cards)

    def _live(self, ep: Episode, kind: int, online: bool, cards: list[int]) -> None:
        """One everyday act: a card purchase, a cash withdrawal or a transfer to someone."""
        ch, rng, s = self.ch, self.rng, ep.state
        prof = ch.world.profile
        minor = prof.minor_per_major
        if kind == 0:
            median = prof.cards.ticket_median_cnp if online else prof.cards.ticket_median_pos
            amount = round(median * rng.lognormal(0, prof.cards.ticket_sigma) * minor)
            merchant = self._merchant(None, online)
            card = int(cards[int(rng.integers(0, len(cards)))])
            self._shop(
                ep, card, merchant, max(amount, minor), "cnp" if online else "pos", s["customer"]
            )
        elif kind == 1:
            atm = prof.atm
            cash = atm.amount_median * rng.lognormal(0, atm.amount_sigma)
            cash = max(round(cash / atm.amount_step), 1) * atm.amount_step
            ch.atm_withdrawal(ep, s["card"], round(cash * minor), role="none")
        else:
            t = prof.transfers
            external = rng.random() < t.p2p_external_share
            dst = -1 if external else ch.checking(self._someone(exclude=(s["customer"],)))
            amount = self._typed(float(t.p2p_amount_median * rng.lognormal(0, t.p2p_amount_sigma)))
            self._pay(ep, s["account"], dst, amount)

    def _payday(self) -> int:
        """Day of the month the newcomer is paid (31: the last day), as the profile's."""
        cdf = np.cumsum(self.ch.world.profile.calendar.payday_weights)
        return int(np.searchsorted(cdf, self.rng.random() * cdf[-1], "right")) + 1

    def _pay_time(self, payday: int) -> int:
        """The next time pay arrives (the early-morning run, as honest salaries)."""
        start, now = self.ch.world.config.start_date, self.ch.now
        today = start + dt.timedelta(days=int(now // DAY))
        for months in (0, 1):
            year, month = (
                today.year + (today.month + months - 1) // 12,
                (today.month + months - 1) % 12 + 1,
            )
            day = min(payday, calendar.monthrange(year, month)[1])
            t = (dt.date(year, month, day) - start).days * DAY + int(
                self.rng.integers(2 * HOUR, 5 * HOUR)
            )
            if t > now:
                return t
        return now + 31 * DAY
