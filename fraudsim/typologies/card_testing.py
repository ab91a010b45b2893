"""Card testing: a bot tries many stolen cards with tiny online payments at one or a few
merchants within minutes; cards that pass are used days later for larger purchases."""

from __future__ import annotations

from pydantic import Field

from fraudsim.typologies.base import Episode, Outcome, Process, Typology, TypologyParams
from fraudsim.typologies.registry import register


class CardTestingParams(TypologyParams):
    cards: int = Field(default=25, ge=1, le=10_000, description="stolen cards tried per episode")
    merchants: int = Field(default=2, ge=1, le=20, description="online merchants attacked")
    amount_min: float = Field(default=0.5, gt=0, description="smallest test amount, major units")
    amount_max: float = Field(default=2.0, gt=0, description="largest test amount, major units")
    seconds_between: float = Field(default=12.0, gt=0, description="mean pause between tries")
    stale_share: float = Field(
        default=0.6, ge=0, le=1, description="share of card data that is stale (wrong CVV/expiry)"
    )
    cash_out_share: float = Field(
        default=0.5, ge=0, le=1, description="share of working cards used for a purchase later"
    )
    cash_out_days: float = Field(default=2.0, gt=0, description="mean days before cash-out")
    cash_out_amount: float = Field(default=120.0, gt=0, description="median cash-out purchase")


@register("card_testing.v1")
class CardTesting(Typology):
    family = "card"
    description = (
        "Bot tests stolen cards with tiny CNP payments at few merchants within "
        "minutes; most attempts decline; working cards are cashed out later."
    )
    report_kind = "card"
    default_rate_per_day = 0.3
    rows_per_episode = 32.0
    Params = CardTestingParams

    def expected_rows(self) -> float:
        p = self.params
        assert isinstance(p, CardTestingParams)
        # A cash-out above the step-up threshold (30 EUR by default) is split into ~5 pieces.
        pieces = max(1.0, p.cash_out_amount / 30.0 * 1.2)
        return p.cards * (1 + (1 - p.stale_share) * p.cash_out_share * pieces)

    def run(self, ep: Episode) -> Process:
        p = self.params
        assert isinstance(p, CardTestingParams)
        ch, rng = self.ch, self.rng
        minor = ch.world.profile.minor_per_major
        if "cards" not in ep.state:
            victims = ch.sample_customers(rng, p.cards)
            ep.state["cards"] = [int(rng.choice(ch.cards_of(int(v)))) for v in victims]
            ep.state["merchants"] = [int(m) for m in ch.merchants(rng, p.merchants, online=True)]
            ep.state["next"] = 0
            ep.state["device"] = ch.new_device()
            ep.state["max_amount"] = p.amount_max
            # Learnt from detector blocks: tests look like small ordinary purchases, paced
            # out over more shops, from devices the card owners use.
            e = self.learnt
            ep.state["amount_scale"] = 1.0 + 9.0 * e
            ep.state["pace"] = 1.0 + 30.0 * e
            if int(3 * e):
                more = ch.merchants(rng, int(3 * e), online=True)
                ep.state["merchants"] += [int(m) for m in more]
        working: list[int] = ep.state.setdefault("working", [])
        while ep.state["next"] < len(ep.state["cards"]):
            card = ep.state["cards"][ep.state["next"]]
            ep.state["next"] += 1
            merchant = ep.state["merchants"][int(rng.integers(0, len(ep.state["merchants"])))]
            amount = rng.uniform(p.amount_min, max(ep.state["max_amount"], p.amount_min))
            amount *= ep.state.get("amount_scale", 1.0)
            stale = rng.random() < p.stale_share
            device = ep.state["device"]
            if self.evades():
                device = ch.device_of(int(ch.pop.cards["customer_idx"][card]))
            outcome = ch.card_payment(
                ep,
                card,
                merchant,
                round(amount * minor),
                channel="cnp",
                device=device,
                stale_data=stale,
            )
            if outcome.approved:
                working.append(card)
            yield ch.wait(rng.exponential(p.seconds_between * ep.state.get("pace", 1.0)))
        # Cash-out: some working cards buy goods days later, elsewhere.
        for card in working:
            if rng.random() >= p.cash_out_share:
                continue
            yield ch.wait(rng.exponential(p.cash_out_days * 86_400 / max(len(working), 1)))
            merchant = int(ch.merchants(rng, 1, online=True)[0])
            amount = rng.lognormal(0.0, 0.6) * p.cash_out_amount
            outcome = ch.card_payment(
                ep, card, merchant, round(amount * minor), channel="cnp", device=ep.state["device"]
            )
            if not outcome.approved and outcome.reason == "step_up_failed" and self.adaptive:
                # Adapt: split the purchase into pieces under the step-up threshold (whole
                # minor units); stop when a piece is declined.
                limit = self.ch.bank.sca_threshold
                left = round(amount * minor)
                while left >= minor and limit > minor:
                    piece = min(left, round(limit * rng.uniform(0.7, 0.98)))
                    yield ch.wait(rng.exponential(300))
                    done = ch.card_payment(
                        ep, card, merchant, piece, channel="cnp", device=ep.state["device"]
                    )
                    left -= piece
                    if not done.approved:
                        break
                ep.adaptations += 1

    def on_declined(self, ep: Episode, outcome: Outcome) -> None:
        if outcome.reason == "step_up_failed" and len(ep.state.get("merchants", [])) > 0:
            # The merchant switched on step-up: move to another merchant, smaller amounts.
            ep.state["merchants"] = [int(m) for m in self.ch.merchants(self.rng, 1, online=True)]
            ep.state["max_amount"] = max(ep.state.get("max_amount", 2.0) * 0.5, 0.1)
            ep.adaptations += 1

    def on_interrupt(self, ep: Episode, cause: str) -> bool:
        # A card was blocked (velocity or report): go on with the next card.
        return ep.state.get("next", 0) < len(ep.state.get("cards", []))
