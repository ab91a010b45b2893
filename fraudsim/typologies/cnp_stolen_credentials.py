"""CNP with stolen credentials: leaked card data spent online over days, amounts inflated."""

from __future__ import annotations

import numpy as np
from pydantic import Field

from fraudsim.core.units import DAY
from fraudsim.typologies.base import Episode, Outcome, Process, Typology, TypologyParams
from fraudsim.typologies.registry import register

# Online shops whose goods resell well or are delivered at once (choice); any shop as fallback.
RESALE_CATEGORIES = ("electronics", "general_retail", "digital_goods", "travel", "apparel")


class CnpStolenCredentialsParams(TypologyParams):
    purchases: int = Field(
        default=6, ge=1, le=100, description="online purchases planned with the leaked card"
    )
    days: float = Field(
        default=5.0, gt=0, le=60, description="days over which the purchases are spread"
    )
    merchants: int = Field(
        default=3, ge=1, le=20, description="online shops the fraudster buys from"
    )
    inflation: float = Field(
        default=4.0,
        ge=1.5,
        le=100,
        description="median fraud ticket over the owner's usual ticket (multiplier)",
    )
    inflation_sigma: float = Field(
        default=0.4, ge=0, le=2, description="log-spread of the inflation multiplier"
    )
    min_inflation: float = Field(
        default=2.0, ge=1, le=50, description="no purchase is below this multiple of the usual"
    )
    max_split: int = Field(
        default=3, ge=1, le=10, description="most pieces a purchase is split into under step-up"
    )
    retries: int = Field(
        default=2, ge=0, le=10, description="retries of one purchase after a step-up decline"
    )
    retry_minutes: float = Field(
        default=10.0, gt=0, le=1_440, description="mean minutes before retrying after a decline"
    )


@register("cnp_stolen_credentials.v1")
class CnpStolenCredentials(Typology):
    family = "card"
    description = (
        "Leaked card data is used for online purchases over days, interleaved with the owner's "
        "own spending, at amounts inflated over the owner's usual tickets."
    )
    report_kind = "card"
    default_rate_per_day = 0.5
    rows_per_episode = 8.0
    Params = CnpStolenCredentialsParams

    def expected_rows(self) -> float:
        p = self.params
        assert isinstance(p, CnpStolenCredentialsParams)
        if not self.adaptive:
            return float(p.purchases)
        # One step-up decline, then purchases split under the threshold (typical ticket).
        profile = self.ch.world.profile
        typical = p.inflation * profile.cards.ticket_median_cnp * profile.minor_per_major
        pieces = min(int(np.ceil(typical / max(self.ch.bank.sca_threshold, 1))), p.max_split)
        return float(1 + p.purchases * pieces)

    # -- choices -----------------------------------------------------------------------------

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

    def _usual_ticket(self, customer: int) -> float:
        """The owner's typical card ticket (major units), as their spending history shows it:
        the larger of the profile's store and online medians, scaled by income like honest
        traffic's tickets (a fraudster sizes purchases to what the card usually carries)."""
        profile = self.ch.world.profile
        income = float(self.ch.pop.customers["income"][customer])
        factor = (income / profile.population.annual_income_median) ** (
            profile.cards.income_elasticity
        )
        return float(max(profile.cards.ticket_median_cnp, profile.cards.ticket_median_pos)) * factor

    def _shops(self, n: int, avoid: list[int]) -> list[int]:
        out: list[int] = []
        for category in (*self.rng.permutation(RESALE_CATEGORIES).tolist(), None):
            try:
                picks = self.ch.merchants(self.rng, 4, online=True, category=category)
            except ValueError:
                continue
            out += [int(m) for m in picks if int(m) not in avoid and int(m) not in out]
            if len(out) >= n:
                break
        return out[:n] or [int(self.ch.merchants(self.rng, 1, online=True)[0])]

    # -- behaviour ---------------------------------------------------------------------------

    def run(self, ep: Episode) -> Process:
        p = self.params
        assert isinstance(p, CnpStolenCredentialsParams)
        ch, rng, s = self.ch, self.rng, ep.state
        minor = ch.world.profile.minor_per_major
        if "card" not in s:
            victim, card = self._victim_card()
            s.update(
                victim=victim,
                card=card,
                usual=self._usual_ticket(victim),
                shops=self._shops(p.merchants, []),
                # Learnt from detector blocks: a spoofed fingerprint of the victim's own device.
                device=ch.device_of(victim) if self.evades() else ch.new_device(),
                pace=1.0 + 2.0 * self.learnt,  # learnt: fewer purchases a day
                done=0,
                cap=None,  # minor units; set once step-up shows where the threshold is
                retry=False,
                tries=0,
                basket=[],
            )
            ep.victims.add(victim)
            # The leaked card is the episode's from the start: a report blocks it even unused.
            ep.cards.add(card)
        while s["done"] < p.purchases:
            if not s["basket"]:
                if not s["retry"]:
                    # Spread over days, like the owner's own shopping, which carries on.
                    yield ch.wait(rng.exponential(p.days * DAY / p.purchases * s.get("pace", 1)))
                s["basket"] = self._basket(s["usual"] * minor, s["cap"])
                s["shop"] = s["shops"][int(rng.integers(0, len(s["shops"])))]
            outcome = ch.card_payment(
                ep, s["card"], s["shop"], s["basket"][0], channel="cnp", device=s["device"]
            )
            if outcome.reason in ("card_blocked", "account_frozen"):
                return  # the owner has had the card blocked: these credentials are dead
            if (
                not outcome.approved
                and outcome.reason == "step_up_failed"
                and self.adaptive
                and s["tries"] < p.retries
            ):
                # The same purchase again shortly, adapted by on_declined (amount or shop).
                s.update(tries=s["tries"] + 1, retry=True, basket=[])
                yield ch.wait(rng.exponential(p.retry_minutes * 60))
                continue
            s["basket"].pop(0)
            if s["basket"]:
                # The rest of a split purchase follows within minutes.
                yield ch.wait(rng.exponential(p.retry_minutes * 60 / 2))
            else:
                s.update(done=s["done"] + 1, tries=0, retry=False)

    def _basket(self, usual: float, cap: int | None) -> list[int]:
        """One purchase's amounts (minor units): inflated over the owner's usual ticket, split
        into pieces under the step-up threshold once step-up has been met (adapted)."""
        p = self.params
        assert isinstance(p, CnpStolenCredentialsParams)
        rng = self.rng
        multiple = max(p.inflation * rng.lognormal(0.0, p.inflation_sigma), p.min_inflation)
        if self.learnt > 0:
            # Learnt from detector blocks: tickets close to what the owner usually spends.
            multiple = 1.0 + (multiple - 1.0) * (1.0 - self.learnt) * rng.uniform(0.5, 1.0)
        amount = round(usual * multiple)
        if cap is None or amount <= cap or cap <= 0:
            # No room under the threshold (a zero threshold: every payment steps up).
            return [amount]
        pieces = min(int(np.ceil(amount / cap)), p.max_split)
        return [round(cap * rng.uniform(0.6, 0.99)) for _ in range(pieces)]

    # -- adaptation --------------------------------------------------------------------------

    def on_declined(self, ep: Episode, outcome: Outcome) -> None:
        s = ep.state
        if outcome.reason != "step_up_failed" or "card" not in s:
            return
        threshold = self.ch.bank.sca_threshold
        if outcome.amount > threshold:
            # Step-up on a large ticket: keep later tickets under the threshold.
            s["cap"] = threshold
        else:
            # Step-up below the threshold: this shop demands it for every payment; drop it.
            shops = [m for m in s["shops"] if m != s.get("shop")]
            s["shops"] = shops or self._shops(1, s["shops"])
        ep.adaptations += 1

    def on_interrupt(self, ep: Episode, cause: str) -> bool:
        # The card was blocked after the owner reported it: these credentials are dead.
        return False
