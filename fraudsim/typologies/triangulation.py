"""Triangulation: a fake storefront takes real buyers' orders and fills them with stolen cards."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import Field, model_validator

from fraudsim.core.units import DAY, HOUR
from fraudsim.typologies.base import Episode, Outcome, Process, Typology, TypologyParams
from fraudsim.typologies.registry import register

if TYPE_CHECKING:
    pass

# Declines that mean "this stolen card is burnt": the fraudster moves to the next one.
_CARD_DEAD = {"card_blocked", "account_frozen", "rule"}


class TriangulationParams(TypologyParams):
    category: Literal["general_retail", "electronics", "apparel"] = Field(
        default="general_retail", description="what the storefront sells (and the real merchant)"
    )
    orders: int = Field(default=8, ge=1, le=500, description="buyers' orders per storefront")
    storefront_days: float = Field(
        default=4.0, gt=0, le=120, description="days the storefront takes orders before vanishing"
    )
    order_median: float = Field(
        default=45.0, gt=0, le=10_000, description="median order at the storefront, major units"
    )
    order_sigma: float = Field(default=0.6, ge=0, le=3, description="lognormal spread of orders")
    stolen_cards: int = Field(
        default=4, ge=1, le=500, description="stolen cards available to fill the orders"
    )
    card_refills: int = Field(
        default=2, ge=0, le=50, description="times the fraudster buys a fresh batch of cards"
    )
    real_merchants: int = Field(
        default=2, ge=1, le=20, description="real merchants where the orders are filled"
    )
    fill_delay_hours: float = Field(
        default=1.5, gt=0, le=72, description="mean hours from an order to its fill"
    )
    fill_ratio_min: float = Field(
        default=1.0, gt=0, le=3, description="lowest real price / storefront price (lure discount)"
    )
    fill_ratio_max: float = Field(
        default=1.2, gt=0, le=3, description="highest real price / storefront price"
    )
    max_pieces_per_card: int = Field(
        default=5, ge=1, le=50, description="split pieces per card before switching (velocity)"
    )

    @model_validator(mode="after")
    def _ratio_order(self) -> TriangulationParams:
        if self.fill_ratio_max < self.fill_ratio_min:
            raise ValueError("fill_ratio_max must be >= fill_ratio_min")
        return self


@register("triangulation.v1")
class Triangulation(Typology):
    """Labels: every row is caused by the scheme, so is_fraud is True throughout.

    - Buyers' payments to the storefront: role "victim" -- the buyers are deceived (they pay a
      sham shop; goods bought with stolen cards are often reclaimed). Their cards are not
      compromised, so they are kept out of `ep.cards` and are never blocked by the report.
    - Fills at the real merchant with stolen cards: role "victim" -- the cardholder's loss,
      and what the report (the cardholder noticing, report_kind "card") blocks.
    The storefront itself is a new online merchant honest customers never pick.
    """

    family = "card"
    description = (
        "A fake online storefront takes real buyers' orders and fills each within hours by "
        "buying the same goods at a real merchant with a stolen card."
    )
    report_kind = "card"
    default_rate_per_day = 0.05
    rows_per_episode = 20.0
    Params = TriangulationParams

    def expected_rows(self) -> float:
        p = self.params
        assert isinstance(p, TriangulationParams)
        # One order row, one fill, plus split pieces when a fill is above step-up.
        return p.orders * 2.6

    def run(self, ep: Episode) -> Process:
        p = self.params
        assert isinstance(p, TriangulationParams)
        ch = self.ch
        if "plan" not in ep.state:
            self._setup(ep, p)
        plan: list[tuple[int, str, int]] = ep.state["plan"]
        while ep.state["step"] < len(plan):
            t, kind, order = plan[ep.state["step"]]
            yield ch.wait(t - ch.now)
            if kind == "order":
                self._take_order(ep, order)
            else:
                yield from self._fill(ep, p, order)
            ep.state["step"] += 1

    # -- planning ----------------------------------------------------------------------------

    def _setup(self, ep: Episode, p: TriangulationParams) -> None:
        ch, rng = self.ch, self.rng
        minor = ch.world.profile.minor_per_major
        buyers = ch.sample_customers(rng, p.orders)
        try:
            real = ch.merchants(rng, p.real_merchants, online=True, category=p.category)
        except ValueError:  # no such online shop in a tiny world: any online shop
            real = ch.merchants(rng, p.real_merchants, online=True)
        # Orders arrive while the storefront is up, at the hours honest people shop.
        window = min(p.storefront_days * DAY, max(ch.world.config.days * DAY - ch.now, HOUR))
        times = np.sort([ch.daytime(rng, ch.now + int(rng.uniform(0, window))) for _ in buyers])
        plan: list[tuple[int, str, int]] = []
        for i, t in enumerate(times.tolist()):
            plan.append((t, "order", i))
            plan.append((t + int(rng.exponential(p.fill_delay_hours * HOUR)) + 60, "fill", i))
        plan.sort()
        ep.state.update(
            storefront=ch.open_merchant(p.category, online=True),
            buyers=[int(b) for b in buyers],
            real=[int(m) for m in real],
            device=ch.new_device(),
            amounts=[
                max(int(round(p.order_median * rng.lognormal(0, p.order_sigma) * minor)), minor)
                for _ in buyers
            ],
            paid=[False] * len(buyers),
            plan=plan,
            step=0,
            card=0,  # index into `stolen` of the card in use
            burnt=[],  # indices of stolen cards that stopped working
            split=False,
        )
        ep.state["stolen"] = self._stolen_cards(ep, p.stolen_cards)

    # -- actions -----------------------------------------------------------------------------

    def _take_order(self, ep: Episode, i: int) -> None:
        """A real buyer pays the storefront with their own card, device and passcode."""
        ch = self.ch
        buyer = ep.state["buyers"][i]
        cards = [int(c) for c in ch.cards_of(buyer) if ch.bank.card_blocked_at[c] > ch.now]
        if not cards:
            return
        card = int(self.rng.choice(cards))
        outcome = ch.card_payment(
            ep,
            card,
            ep.state["storefront"],
            ep.state["amounts"][i],
            channel="cnp",
            device=ch.own_device(self.rng, buyer),
            role="victim",
            has_otp=True,
        )
        # The buyer's card is not compromised: a report on the scheme must not block it.
        ep.cards.discard(card)
        ep.state["paid"][i] = outcome.approved

    def _fill(self, ep: Episode, p: TriangulationParams, i: int) -> Process:
        """Buy the ordered goods at a real merchant with a stolen card, shipped to the buyer.

        Progress lives in ep.state["fill"] so an interrupted fill resumes where it stopped.
        """
        if not ep.state["paid"][i]:
            return  # no paid order, nothing to ship
        ch, rng = self.ch, self.rng
        fill = ep.state.get("fill")
        if fill is None or fill["order"] != i:
            self._next_card(ep)  # one card per order, in turn: spreads the losses
            fill = ep.state["fill"] = {
                "order": i,
                "left": int(
                    ep.state["amounts"][i] * rng.uniform(p.fill_ratio_min, p.fill_ratio_max)
                ),
                "merchant": ep.state["real"][int(rng.integers(0, len(ep.state["real"])))],
                "whole": True,
                "pieces": 0,
            }
        threshold = ch.bank.sca_threshold
        if fill["whole"]:
            fill["whole"] = False
            if not (ep.state["split"] and fill["left"] > threshold):
                outcome = self._attempt(ep, fill["merchant"], fill["left"])
                if outcome is not None and outcome.reason in _CARD_DEAD:
                    # The card is burnt: retry the whole basket on the next card.
                    yield ch.wait(rng.exponential(600))
                    outcome = self._attempt(ep, fill["merchant"], fill["left"])
                if outcome is None or outcome.approved:
                    fill["left"] = 0
                if fill["left"] == 0 or outcome is None:
                    return
                if outcome.reason != "step_up_failed" or not self.adaptive:
                    fill["left"] = 0  # the order is simply not filled
                    return
        # Split the basket into separate orders under the step-up threshold.
        while fill["left"] > 0:
            piece = min(fill["left"], int(threshold * rng.uniform(0.7, 0.98)))
            yield ch.wait(rng.exponential(240))
            if fill["pieces"] >= p.max_pieces_per_card:  # stay under the hourly velocity rule
                self._next_card(ep)
                fill["pieces"] = 0
            outcome = self._attempt(ep, fill["merchant"], piece)
            if outcome is None:
                return
            fill["pieces"] += 1
            if outcome.approved or outcome.reason not in _CARD_DEAD:
                fill["left"] -= piece  # a piece that fails step-up is dropped, not retried

    def _attempt(self, ep: Episode, merchant: int, amount: int) -> Outcome | None:
        """One CNP attempt with the current stolen card; None when no card is left."""
        if len(ep.state["burnt"]) >= len(ep.state["stolen"]):
            return None
        card = ep.state["stolen"][ep.state["card"]]
        outcome = self.ch.card_payment(
            ep, card, merchant, amount, channel="cnp", device=ep.state["device"], role="victim"
        )
        if not outcome.approved and outcome.reason in _CARD_DEAD and not self.adaptive:
            self._burn(ep)  # even a naive fraudster drops a card that stops working
        return outcome

    def _next_card(self, ep: Episode) -> None:
        """Move to the next stolen card still believed to work (round robin)."""
        n = len(ep.state["stolen"])
        for step in range(1, n + 1):
            i = (ep.state["card"] + step) % n
            if i not in ep.state["burnt"]:
                ep.state["card"] = i
                return

    def _burn(self, ep: Episode) -> None:
        if ep.state["card"] not in ep.state["burnt"]:
            ep.state["burnt"].append(ep.state["card"])
        self._next_card(ep)

    # -- adaptation --------------------------------------------------------------------------

    def on_declined(self, ep: Episode, outcome: Outcome) -> None:
        if outcome.reason == "step_up_failed":
            # The issuer asks for a passcode the fraudster lacks: from now on, split baskets
            # above the threshold into several smaller orders up front.
            if not ep.state.get("split"):
                ep.state["split"] = True
                ep.adaptations += 1
        elif outcome.reason in _CARD_DEAD and "stolen" in ep.state:
            self._burn(ep)  # this card is burnt: take the next one
            ep.adaptations += 1

    def on_interrupt(self, ep: Episode, cause: str) -> bool:
        # The report blocked every stolen card used so far: drop them and go on with unused
        # ones while orders remain, buying a fresh batch of card data if none is left.
        p = self.params
        assert isinstance(p, TriangulationParams)
        stolen: list[int] = ep.state.get("stolen", [])
        burnt: list[int] = ep.state.get("burnt", [])
        for i, card in enumerate(stolen):
            if card in ep.cards and i not in burnt:
                burnt.append(i)
        if ep.state.get("step", 0) >= len(ep.state.get("plan", [])):
            return False
        if len(burnt) >= len(stolen):
            if ep.state.get("refills", 0) >= p.card_refills:
                return False
            ep.state["refills"] = ep.state.get("refills", 0) + 1
            stolen.extend(self._stolen_cards(ep, p.stolen_cards))
        if ep.state["card"] in burnt:
            self._next_card(ep)
        return True

    def _stolen_cards(self, ep: Episode, n: int) -> list[int]:
        """Card data of `n` more people, none of them a buyer of this storefront."""
        ch, rng = self.ch, self.rng
        taken = set(ep.state.get("buyers", []))
        taken |= {int(ch.pop.cards["customer_idx"][c]) for c in ep.state.get("stolen", [])}
        people = [int(c) for c in ch.sample_customers(rng, n + len(taken)) if int(c) not in taken]
        return [int(rng.choice(ch.cards_of(c))) for c in people[:n] if len(ch.cards_of(c))]
