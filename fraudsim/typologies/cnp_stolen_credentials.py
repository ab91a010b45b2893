"""CNP with stolen credentials: leaked card data spent online over days, amounts inflated."""

from __future__ import annotations

import math

import numpy as np
from pydantic import Field

from fraudsim.core.units import DAY
from fraudsim.typologies.base import Episode, Process
from fraudsim.typologies.carding import CardFraud, RingParams
from fraudsim.typologies.registry import register


class CnpStolenCredentialsParams(RingParams):
    purchases: int = Field(
        default=15, ge=1, le=100, description="most online purchases with the leaked card"
    )
    days: float | None = Field(
        default=None,
        ge=1,
        le=60,
        description="mean days the card is used (default: the profile's card_fraud.spree_days)",
    )
    # choice: leaked data is sold and used within days of the leak
    first_use_days: float = Field(
        default=1.0, gt=0, le=30, description="mean days from the episode start to first use"
    )
    inflation: float | None = Field(
        default=None,
        ge=1,
        le=100,
        description="median ticket over the shop's usual one (default: the profile's "
        "card_fraud cash-out median)",
    )
    inflation_sigma: float | None = Field(
        default=None, gt=0, le=2, description="log-spread of the tickets (default: profile's)"
    )
    # choice, informed by UK Finance Annual Fraud Reports 2024-2025 (one-time passcodes
    # obtained by social engineering) and Cifas Fraudscape 2025 (unauthorised SIM swaps up
    # tenfold in 2024): a minority of leaks come with a way to answer the bank's challenge
    otp_share: float = Field(
        default=0.1,
        ge=0,
        le=1,
        description="share of leaks whose fraudster also gets the one-time codes (phishing "
        "page relaying them, or a swapped SIM)",
    )
    min_inflation: float = Field(
        default=0.0,
        ge=0,
        le=50,
        description="tickets are drawn above this multiple of the shop's usual one (0: none)",
    )


@register("cnp_stolen_credentials.v1")
class CnpStolenCredentials(CardFraud):
    family = "card"
    description = (
        "Leaked card data is used for online purchases over days, interleaved with the owner's "
        "own spending, at amounts inflated over the owner's usual tickets."
    )
    report_kind = "card"
    default_rate_per_day = 0.5
    rows_per_episode = 6.0
    Params = CnpStolenCredentialsParams

    def expected_rows(self) -> float:
        p = self.params
        assert isinstance(p, CnpStolenCredentialsParams)
        per_day = self.ch.world.profile.card_fraud.transactions_per_card_day
        days = p.days or self.ch.world.profile.card_fraud.spree_days
        return float(min(p.purchases, per_day * days))

    def _cash_out_law(self, ticket: float) -> tuple[float, float, float]:
        p = self.params
        assert isinstance(p, CnpStolenCredentialsParams)
        mu, sigma, _ = super()._cash_out_law(ticket)
        if p.inflation is not None:
            mu = math.log(ticket * p.inflation)
        if p.inflation_sigma is not None:
            sigma = p.inflation_sigma
        if self.learnt > 0:
            # Learnt from detector blocks: tickets closer to what the shop usually sells.
            mu = math.log(ticket) + (mu - math.log(ticket)) * (1.0 - self.learnt)
        return mu, sigma, ticket * p.min_inflation

    def _victim_card(self) -> tuple[int, int]:
        """A card that leaked: cards used often and online leak more (shop breaches, phishing
        pages), so draw by online propensity times the card's activity."""
        ch, rng = self.ch, self.rng
        pool = ch.sample_customers(rng, 200)
        cards = np.flatnonzero(np.isin(ch.pop.cards["customer_idx"], pool))
        owners = ch.pop.cards["customer_idx"][cards]
        weight = ch.pop.cards["monthly_rate"][cards] * ch.pop.customers["cnp_propensity"][owners]
        if weight.sum() <= 0:
            weight = np.ones(len(cards))
        card = int(rng.choice(cards, p=weight / weight.sum()))
        return int(ch.pop.cards["customer_idx"][card]), card

    def run(self, ep: Episode) -> Process:
        p = self.params
        assert isinstance(p, CnpStolenCredentialsParams)
        ch, rng, s = self.ch, self.rng, ep.state
        if "card" not in s:
            victim, card = self._victim_card()
            s.update(
                victim=victim, card=card, cap=p.purchases, otp=bool(rng.random() < p.otp_share)
            )
            self._join_ring(ep)
            ep.victims.add(victim)
            # The leaked card is the episode's from the start: a report blocks it even unused.
            ep.cards.add(card)
            # Used on a few days (slower once the rings learnt), amid the owner's own shopping.
            first = ch.now + int(rng.exponential(p.first_use_days * DAY))
            days = (p.days or ch.world.profile.card_fraud.spree_days) * (1.0 + 2.0 * self.learnt)
            self._queue_card(ep, card, first, days)
        yield from self._cash_out(ep)

    def on_interrupt(self, ep: Episode, cause: str) -> bool:
        # The card was blocked after the owner reported it: these credentials are dead.
        return False
