"""Friendly fraud (first-party): a cardholder buys normally, then disputes it weeks later."""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import Field

from fraudsim.core.units import DAY
from fraudsim.typologies.base import Episode, Outcome, Process, Typology, TypologyParams
from fraudsim.typologies.carding import truncated_lognormal
from fraudsim.typologies.registry import register

# Goods people most often claim "not received" or "not as described" (choice).
Category = Literal["general_retail", "electronics", "apparel", "travel", "digital_goods"]


class FriendlyFraudParams(TypologyParams):
    categories: tuple[Category, ...] = Field(
        default=("electronics", "general_retail", "apparel", "travel"),
        min_length=1,
        description="merchant categories of the disputed purchase (one drawn per episode)",
    )
    amount_median: float = Field(
        default=90.0, gt=0, le=100_000, description="median disputed purchase, major units"
    )
    amount_sigma: float = Field(
        default=0.7, ge=0, le=3, description="lognormal spread of the disputed amount"
    )
    online_share: float = Field(
        default=0.8, ge=0, le=1, description="share of disputed purchases made online (cnp)"
    )
    max_share_of_funds: float = Field(
        default=0.5, gt=0, le=1, description="a genuine buyer spends at most this share of funds"
    )
    min_dispute_days: float = Field(
        default=10.0,
        ge=0,
        le=120,
        description="the dispute comes at least this many days after the purchase (statement)",
    )
    # practitioner range (low authority): chargebacks arrive 30-90 days after the transaction;
    # with the profile's median (45 days) a log-spread of 0.5 puts ~70% of disputes there
    dispute_sigma: float = Field(
        default=0.5, gt=0, le=2, description="log-spread of the days from purchase to dispute"
    )
    chargeback_days: float = Field(
        default=3.0, gt=0, le=60, description="mean days from dispute to the chargeback credit"
    )
    chargeback: bool = Field(
        default=True, description="post the chargeback credit (a refund) when it falls in the run"
    )


@register("friendly_fraud.v1")
class FriendlyFraud(Typology):
    family = "card"
    description = (
        "A genuine cardholder makes an ordinary purchase with their own card and device, "
        "then disputes it weeks later and gets a chargeback (first-party, labelled legit)."
    )
    report_kind = "dispute"
    # Ground truth: the payment was authorised by its owner, so the rows are not fraud; the
    # fraud_type, episode_id and reported_at say a dispute followed.
    is_fraud = False
    default_rate_per_day = 0.5
    rows_per_episode = 1.3
    Params = FriendlyFraudParams

    def expected_rows(self) -> float:
        p = self.params
        assert isinstance(p, FriendlyFraudParams)
        # The chargeback often lands after the end of short runs.
        return 1.0 + (0.3 if p.chargeback else 0.0)

    def run(self, ep: Episode) -> Process:
        p = self.params
        assert isinstance(p, FriendlyFraudParams)
        ch, rng = self.ch, self.rng
        minor = ch.world.profile.minor_per_major
        if "customer" not in ep.state:
            self._plan(ep, p)
            # The cardholder disputes weeks after the purchase, once the statement shows it
            # and the goods "never came", within the network's window: days drawn from the
            # purchase, cut (not piled up) at both ends. The engine's report process reads
            # ep.report_at after this first step of ours (it is started after this process).
            fraud = ch.world.profile.fraud
            days = truncated_lognormal(
                rng,
                math.log(fraud.dispute_median_days),
                p.dispute_sigma,
                fraud.max_report_days,
                min(p.min_dispute_days, fraud.max_report_days / 2),
            )
            ep.report_at = ep.state["buy_at"] + int(days * DAY)
        if not ep.state.get("bought"):
            yield ch.wait(ep.state["buy_at"] - ch.now)
            customer, card, merchant = ep.state["customer"], ep.state["card"], ep.state["merchant"]
            account = int(ch.pop.cards["account_idx"][card])
            funds = int(ch.bank.balances[account] - ch.bank.floors[account])
            # A real buyer only buys what they can afford; amounts keep honest cents.
            amount = min(ep.state["amount"], max(int(funds * p.max_share_of_funds), minor))
            online = ep.state["online"]
            outcome = ch.card_payment(
                ep,
                card,
                merchant,
                amount,
                channel="cnp" if online else "pos",
                device=ch.own_device(rng, customer) if online else -1,
                role="none",
                has_otp=True,  # the owner passes step-up with their own phone
            )
            ep.state.update(bought=True, paid=amount if outcome.approved else 0)
        if not p.chargeback or ep.state["paid"] == 0 or ep.report_at is None:
            return
        # Chargeback: the issuer credits the disputed amount back some days after the dispute.
        yield ch.wait(ep.report_at + rng.exponential(p.chargeback_days * DAY) - ch.now)
        if ep.accepted >= ep.state["paid"] and not ep.state.get("refunded"):
            # ep.accepted counts settled amounts: no chargeback for a purchase the bank declined.
            card = ep.state["card"]
            ch.credit(
                ep,
                int(ch.pop.cards["account_idx"][card]),
                ep.state["paid"],
                tx_type="refund",
                merchant=ep.state["merchant"],
                card=card,
                role="none",
                channel="incoming",  # the issuer's credit, not a sale at the till
            )
            ep.state["refunded"] = True

    def _plan(self, ep: Episode, p: FriendlyFraudParams) -> None:
        """Choose the cardholder, their own card, a merchant, the amount and a daytime hour."""
        ch, rng = self.ch, self.rng
        people = ch.sample_customers(rng, 5)
        customer = next((int(c) for c in people if len(ch.cards_of(int(c)))), int(people[0]))
        cards = ch.cards_of(customer)
        usable = [int(c) for c in cards if ch.bank.card_blocked_at[c] > ch.now] or [
            int(c) for c in cards
        ]
        card = int(rng.choice(usable))
        online = bool(rng.random() < p.online_share)
        merchant = self._merchant(p, online, int(ch.pop.customers["region"][customer]))
        if merchant < 0:  # no store of those kinds in the region: buy online
            online, merchant = True, self._merchant(p, True, None)
        minor = ch.world.profile.minor_per_major
        # An ordinary purchase: the shop's own price endings.
        amount = ch.shop_price(rng, merchant, p.amount_median * rng.lognormal(0.0, p.amount_sigma))
        ep.state.update(
            customer=customer,
            card=card,
            merchant=merchant,
            online=online,
            amount=max(amount, minor),
            buy_at=ch.daytime(rng, ch.now),
        )

    def _merchant(self, p: FriendlyFraudParams, online: bool, region: int | None) -> int:
        for category in self.rng.permutation(np.array(p.categories)).tolist():
            try:
                return int(self.ch.merchants(self.rng, 1, online, category, region)[0])
            except ValueError:
                continue
        if online:
            return int(self.ch.merchants(self.rng, 1, online=True)[0])
        return -1

    def on_declined(self, ep: Episode, outcome: Outcome) -> None:
        # A genuine buyer whose purchase declines does not dispute anything: nothing to adapt.
        return None

    def on_interrupt(self, ep: Episode, cause: str) -> bool:
        # Nothing of a legitimate episode is ever blocked; if it were, the buyer gives up.
        return False
