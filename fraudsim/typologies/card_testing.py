"""Card testing: a bot tries many stolen cards with tiny online payments at one or a few
merchants within minutes; carders who buy the cards that pass cash them out days later."""

from __future__ import annotations

from pydantic import Field

from fraudsim.core.units import DAY
from fraudsim.typologies.base import Episode, Outcome, Process
from fraudsim.typologies.carding import DEAD, CardFraud, RingParams
from fraudsim.typologies.registry import register


class CardTestingParams(RingParams):
    cards: int = Field(default=25, ge=1, le=10_000, description="stolen cards tried per episode")
    merchants: int = Field(default=2, ge=1, le=20, description="online merchants attacked")
    # ULB/Worldline 2013 (real): 36.8% of frauds are <= 1.00, the test amounts
    amount_min: float = Field(default=0.5, gt=0, description="smallest test amount, major units")
    amount_max: float = Field(default=2.0, gt=0, description="largest test amount, major units")
    # bots fire within seconds (a real signal: velocity during card testing)
    seconds_between: float = Field(default=12.0, gt=0, description="mean pause between tries")
    stale_share: float = Field(
        default=0.6, ge=0, le=1, description="share of card data that is stale (wrong CVV/expiry)"
    )
    # choice: a bot cycles a rejected card through the dump's other expiry/CVV guesses
    retry_share: float = Field(
        default=0.6, ge=0, le=1, description="share of declined tests tried again at once"
    )
    retries: int = Field(default=2, ge=0, le=10, description="most retries of one card")
    # choice: carding shops sell nearly every validated card, and buyers use most of them
    cash_out_share: float = Field(
        default=0.8, ge=0, le=1, description="share of working cards a carder buys and cashes out"
    )
    # choice: validated cards go stale fast (owners notice, banks reissue): used within a day
    # or two, often the same day
    cash_out_days: float = Field(default=1.0, gt=0, description="mean days before cash-out")


@register("card_testing.v1")
class CardTesting(CardFraud):
    family = "card"
    description = (
        "Bot tests stolen cards with tiny CNP payments at few merchants within "
        "minutes; most attempts decline; working cards are cashed out later."
    )
    report_kind = "card"
    default_rate_per_day = 0.3
    rows_per_episode = 40.0
    Params = CardTestingParams

    def expected_rows(self) -> float:
        p = self.params
        assert isinstance(p, CardTestingParams)
        tests = 1 + sum((p.stale_share * p.retry_share) ** k for k in range(1, p.retries + 1))
        return p.cards * (tests + (1 - p.stale_share) * p.cash_out_share * self.spree_rows())

    def setup(self) -> None:
        super().setup()
        p = self.params
        assert isinstance(p, CardTestingParams)
        self._plan_test_shops(p.merchants)

    def run(self, ep: Episode) -> Process:
        p = self.params
        assert isinstance(p, CardTestingParams)
        ch, rng, s = self.ch, self.rng, ep.state
        minor = ch.world.profile.minor_per_major
        if "cards" not in s:
            victims = ch.sample_customers(rng, p.cards)
            s["cards"] = [int(rng.choice(ch.cards_of(int(v)))) for v in victims]
            s["next"] = 0
            s["bot"] = ch.new_device()
            s["max_amount"] = p.amount_max
            self._join_ring(ep)  # the ring's test shops, and its carders' cash-out shops
            s["merchants"] = list(self.test_lists[s["ring"]]) if s["ring"] >= 0 else []
            s["merchants"] = s["merchants"] or self._test_shops(rng, p.merchants, set())
            # Learnt from detector blocks: tests look like small ordinary purchases, paced
            # out over more shops, from devices the card owners use.
            e = self.learnt
            s["amount_scale"] = 1.0 + 9.0 * e
            s["pace"] = 1.0 + 30.0 * e
            if int(3 * e):
                s["merchants"] += self._test_shops(rng, int(3 * e), set(s["merchants"]))
        while s["next"] < len(s["cards"]):
            card = s["cards"][s["next"]]
            s["next"] += 1  # advance first: a block on this card resumes with the next one
            stale = bool(rng.random() < p.stale_share)
            outcome = self._test(ep, card, stale, minor)
            for _ in range(p.retries):
                retry = not outcome.approved and outcome.reason not in DEAD
                if not (retry and rng.random() < p.retry_share):
                    break
                yield ch.wait(rng.exponential(p.seconds_between))
                # The next guess from the dump: right this time as often as data is fresh.
                outcome = self._test(ep, card, bool(rng.random() < p.stale_share), minor)
            if outcome.approved and rng.random() < p.cash_out_share:
                # Sold to a carder, who uses it days later at the ring's shops.
                later = ch.now + int(rng.exponential(p.cash_out_days * DAY))
                self._queue_card(ep, card, later)
            yield ch.wait(rng.exponential(p.seconds_between * s.get("pace", 1.0)))
        yield from self._cash_out(ep)

    def _test(self, ep: Episode, card: int, stale: bool, minor: int) -> Outcome:
        p = self.params
        assert isinstance(p, CardTestingParams)
        ch, rng, s = self.ch, self.rng, ep.state
        merchant = s["merchants"][int(rng.integers(0, len(s["merchants"])))]
        s["tested"] = merchant
        amount = rng.uniform(p.amount_min, max(s["max_amount"], p.amount_min))
        amount *= s.get("amount_scale", 1.0)
        device = s["bot"]
        if s.get("spoof"):
            device = ch.device_of(int(ch.pop.cards["customer_idx"][card]))
        s["shop"] = None  # a test shop is not one of the ring's
        return ch.card_payment(
            ep, card, merchant, round(amount * minor), "cnp", device, stale_data=stale
        )

    def on_declined(self, ep: Episode, outcome: Outcome) -> None:
        s = ep.state
        if s.get("next", 0) < len(s.get("cards", [])) and s.get("merchants"):
            if outcome.reason == "step_up_failed" and s.get("tested") in s["merchants"]:
                # The test shop switched on step-up: the ring moves its bots, smaller amounts.
                s["merchants"] = self._replace_test_shop(ep, s["tested"])
                s["max_amount"] = max(s.get("max_amount", 2.0) * 0.5, 0.1)
                ep.adaptations += 1
            return
        super().on_declined(ep, outcome)

    def on_interrupt(self, ep: Episode, cause: str) -> bool:
        # A card was blocked (velocity or report): go on with the next card or cash-out.
        s = ep.state
        return s.get("next", 0) < len(s.get("cards", [])) or bool(s.get("queue"))
