"""BIN attack: a bot enumerates neighbouring card numbers of one BIN at one online merchant;
the numbers it finds working are sold and cashed out days later."""

from __future__ import annotations

import numpy as np
from pydantic import Field, model_validator

from fraudsim.core.units import DAY
from fraudsim.typologies.base import Episode, Outcome, Process
from fraudsim.typologies.carding import CardFraud, RingParams
from fraudsim.typologies.registry import register


class BinAttackParams(RingParams):
    cards: int = Field(
        default=40, ge=2, le=5_000, description="neighbouring card numbers of the BIN walked"
    )
    guesses_max: int = Field(
        default=3,
        ge=1,
        le=7,
        description="most expiry/CVV guesses per card number (kept under the velocity rule)",
    )
    hit_rate: float = Field(
        default=0.08,
        ge=0,
        le=1,
        description="chance that one guess has the right expiry and CVV (otherwise stale data)",
    )
    amount_min: float = Field(default=0.5, gt=0, le=30, description="smallest try, major units")
    amount_max: float = Field(default=3.0, gt=0, le=30, description="largest try, major units")
    seconds_between: float = Field(
        default=2.5, gt=0, le=600, description="mean seconds between two tries in a burst"
    )
    burst_size: int = Field(
        default=30, ge=1, le=10_000, description="mean tries before the bot pauses"
    )
    pause_minutes: float = Field(
        default=3.0, ge=0, le=1_440, description="mean pause between bursts, minutes"
    )
    # choice: a found number with its expiry and CVV is sold on, like a tested card
    cash_out_share: float = Field(
        default=0.5, ge=0, le=1, description="share of found numbers a carder cashes out"
    )
    cash_out_days: float = Field(
        default=2.0, gt=0, le=30, description="mean days from the find to the cash-out"
    )

    @model_validator(mode="after")
    def _amounts(self) -> BinAttackParams:
        if self.amount_max < self.amount_min:
            raise ValueError("amount_max must be >= amount_min")
        return self


@register("bin_attack.v1")
class BinAttack(CardFraud):
    family = "card"
    description = (
        "A bot enumerates neighbouring card numbers within one BIN at one online merchant "
        "in bursts seconds apart, guessing expiry and CVV; most tries decline."
    )
    report_kind = "card"
    default_rate_per_day = 0.05
    rows_per_episode = 60.0
    Params = BinAttackParams

    def expected_rows(self) -> float:
        p = self.params
        assert isinstance(p, BinAttackParams)
        # Guesses per number: up to guesses_max, fewer when one hits (rough mean); a few finds
        # are cashed out.
        found = p.cards * min(1.0, p.hit_rate * p.guesses_max)
        return p.cards * (1 + p.guesses_max) / 2 + found * p.cash_out_share * self.spree_rows()

    # -- target selection --------------------------------------------------------------------

    def _run_of_cards(self, n: int) -> list[int]:
        """A contiguous run of the bank's card numbers (sorted by PAN) within one BIN.

        Enumeration tries every number in a range; the issuer only sees the ones it issued, so
        from its side the attack is a walk over neighbouring PANs of its own cards.
        """
        pans = self.ch.pop.card_details["pan"]  # initial cards only: index = card idx
        bins = pans.astype("U6")  # the 6-digit BIN (a narrower string dtype truncates)
        values, counts = np.unique(bins, return_counts=True)
        chosen = values[self.rng.choice(len(values), p=counts / counts.sum())]
        members = np.flatnonzero(bins == chosen)
        members = members[np.argsort(pans[members], kind="stable")]
        n = min(n, len(members))
        first = int(self.rng.integers(0, len(members) - n + 1))
        return [int(c) for c in members[first : first + n]]

    def setup(self) -> None:
        super().setup()
        self._plan_test_shops(1)  # each ring's bot goes back to the checkout that let it in

    # -- behaviour ---------------------------------------------------------------------------

    def run(self, ep: Episode) -> Process:
        p = self.params
        assert isinstance(p, BinAttackParams)
        ch, rng, s = self.ch, self.rng, ep.state
        if "cards" not in s:
            self._join_ring(ep)  # the ring's test shop, and its carders' cash-out shops
            shops = self.test_lists[s["ring"]] if s["ring"] >= 0 else []
            s.update(
                cards=self._run_of_cards(p.cards),
                next=0,
                merchant=shops[0] if shops else self._test_shops(rng, 1, set())[0],
                bot=ch.new_device(),
                amount_max=p.amount_max,
                since_pause=0,
                burst=int(rng.poisson(p.burst_size)) + 1,
                found=[],
            )
        while s["next"] < len(s["cards"]):
            card = s["cards"][s["next"]]
            s["next"] += 1  # advance first: a block on this card resumes with the next one
            guesses = int(rng.integers(1, p.guesses_max + 1))
            for _ in range(guesses):
                hit = bool(rng.random() < p.hit_rate)
                amount = rng.uniform(min(p.amount_min, s["amount_max"]), s["amount_max"])
                outcome = ch.card_payment(
                    ep,
                    card,
                    s["merchant"],
                    round(amount * ch.world.profile.minor_per_major),
                    channel="cnp",
                    device=s["bot"],
                    stale_data=not hit,
                )
                yield from self._pace(ep)
                if outcome.approved:
                    s["found"].append(card)  # a working number + expiry + CVV: sold on
                    if rng.random() < p.cash_out_share:
                        later = ch.now + int(rng.exponential(p.cash_out_days * DAY))
                        self._queue_card(ep, card, later)
                    break
                if outcome.reason in ("card_blocked", "account_frozen"):
                    break
        yield from self._cash_out(ep)

    def _pace(self, ep: Episode) -> Process:
        """Seconds between tries; a pause of minutes after each burst (rate-limit evasion)."""
        p = self.params
        assert isinstance(p, BinAttackParams)
        s = ep.state
        s["since_pause"] += 1
        if s["since_pause"] >= s["burst"] and p.pause_minutes > 0:
            s["since_pause"] = 0
            s["burst"] = int(self.rng.poisson(p.burst_size)) + 1
            yield self.ch.wait(self.rng.exponential(p.pause_minutes * 60))
        else:
            yield self.ch.wait(self.rng.exponential(p.seconds_between))

    # -- adaptation --------------------------------------------------------------------------

    def on_declined(self, ep: Episode, outcome: Outcome) -> None:
        if ep.state.get("next", 0) >= len(ep.state.get("cards", [])):
            super().on_declined(ep, outcome)  # cashing out: the ring learns
        elif outcome.reason == "step_up_failed" and "merchant" in ep.state:
            # The merchant switched on step-up (or the amount crossed the threshold): move the
            # bot to another merchant and stay well under the step-up threshold.
            ep.state["merchant"] = self._replace_test_shop(ep, ep.state["merchant"])[0]
            ceiling = 0.5 * self.ch.bank.sca_threshold / self.ch.world.profile.minor_per_major
            ep.state["amount_max"] = max(min(ep.state["amount_max"], ceiling), 0.01)
            ep.adaptations += 1

    def on_interrupt(self, ep: Episode, cause: str) -> bool:
        # One enumerated number was blocked: the bot goes on with the next one, the carders
        # with the other numbers found.
        s = ep.state
        return s.get("next", 0) < len(s.get("cards", [])) or bool(s.get("queue"))
