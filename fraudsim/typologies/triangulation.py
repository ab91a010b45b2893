"""Triangulation: a fake storefront takes real buyers' orders and fills them with stolen cards."""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from fraudsim.core.units import DAY, HOUR
from fraudsim.typologies.base import Episode, Outcome, Process, Typology, TypologyParams
from fraudsim.typologies.registry import register

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
    # choice: a challenged fill is first taken to another shop of the same kind, and only split
    # under the low-value limit when no shop takes it (fraudsters adapt by merchant first)
    merchant_moves: int = Field(
        default=2, ge=0, le=10, description="other real merchants tried after a challenge"
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
        # One order row, one fill, plus retries elsewhere or split pieces after challenges
        # (~5 rows an order, measured on scenarios/card_fraud.toml).
        return p.orders * 5.0

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
        real = self._real_shops(p.real_merchants, [])
        # Orders arrive while the storefront is up, at the hours honest people shop.
        window = min(p.storefront_days * DAY, max(ch.world.config.days * DAY - ch.now, HOUR))
        times = np.sort([ch.daytime(rng, ch.now + int(rng.uniform(0, window))) for _ in buyers])
        plan: list[tuple[int, str, int]] = []
        for i, t in enumerate(times.tolist()):
            plan.append((t, "order", i))
            plan.append((t + int(rng.exponential(p.fill_delay_hours * HOUR)) + 60, "fill", i))
        plan.sort()
        storefront = ch.open_merchant(p.category, online=True)
        ep.state.update(
            storefront=storefront,
            buyers=[int(b) for b in buyers],
            real=real,
            tried=list(real),  # real merchants used or given up on
            device=ch.new_device(),
            # The storefront's prices, with the price endings of its kind of shop.
            amounts=[
                max(
                    ch.shop_price(
                        rng, storefront, p.order_median * rng.lognormal(0, p.order_sigma)
                    ),
                    minor,
                )
                for _ in buyers
            ],
            paid=[False] * len(buyers),
            plan=plan,
            step=0,
            card=0,  # index into `stolen` of the card in use
            card_fills=0,  # fills made with it
            card_quota=self._quota(),  # fills it makes before the next card is taken
            burnt=[],  # indices of stolen cards that stopped working
            split=False,
        )
        ep.state["stolen"] = self._stolen_cards(ep, p.stolen_cards)

    def _real_shops(self, n: int, avoid: list[int]) -> list[int]:
        """Real online shops of the storefront's kind to fill orders at: like carding rings,
        the fraudster favours shops that take a card payment without a challenge."""
        p = self.params
        assert isinstance(p, TriangulationParams)
        ch, rng = self.ch, self.rng
        cf = ch.world.profile.card_fraud
        shops = ch.online_shops([p.category])
        w = shops["size"] ** cf.shop_size_exponent
        w = w * np.where(shops["no_sca"], cf.no_sca_shop_weight, 1.0)
        w[np.isin(shops["merchant"], avoid)] = 0.0
        k = min(n, int(np.count_nonzero(w)))
        if k == 0:  # no (fresh) such online shop in a tiny world: any online shop
            return [int(m) for m in ch.merchants(rng, n, online=True)]
        picks = rng.choice(shops["merchant"], size=k, replace=False, p=w / w.sum())
        return [int(m) for m in picks]

    def _quota(self) -> int:
        """Fills one stolen card makes before the next is taken (Fraud Detection Handbook,
        real data: ~3 fraudulent transactions per compromised card a day)."""
        per_day = self.ch.world.profile.card_fraud.transactions_per_card_day
        return 1 + int(self.rng.poisson(per_day - 1))

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

        A challenged fill goes to another real merchant of the kind (`merchant_moves`); only
        when none takes it is it split, adapted, into smaller orders under the low-value
        limit. Progress lives in ep.state["fill"] so an interrupted fill resumes where it
        stopped.
        """
        if not ep.state["paid"][i]:
            return  # no paid order, nothing to ship
        ch, rng = self.ch, self.rng
        minor = ch.world.profile.minor_per_major
        fill = ep.state.get("fill")
        if fill is None or fill["order"] != i:
            self._card_for_fill(ep)
            merchant = ep.state["real"][int(rng.integers(0, len(ep.state["real"])))]
            goods = ep.state["amounts"][i] * rng.uniform(p.fill_ratio_min, p.fill_ratio_max)
            fill = ep.state["fill"] = {
                "order": i,
                "left": ch.shop_price(rng, merchant, goods / minor),
                "merchant": merchant,
                "whole": True,
                "moves": 0,
                "pieces": [],
                "on_card": 0,
            }
        threshold = ch.bank.sca_threshold
        while fill["whole"] and not (ep.state["split"] and fill["left"] > threshold):
            outcome = self._attempt(ep, fill["merchant"], fill["left"])
            if outcome is not None and outcome.reason in _CARD_DEAD:
                # The card is burnt: retry the whole basket on the next card.
                yield ch.wait(rng.exponential(600))
                outcome = self._attempt(ep, fill["merchant"], fill["left"])
            if outcome is None or outcome.approved:
                fill["left"] = 0
                return
            if outcome.reason != "step_up_failed" or not self.adaptive:
                fill["left"] = 0  # the order is simply not filled
                return
            ep.adaptations += 1
            if fill["moves"] >= p.merchant_moves:
                ep.state["split"] = True  # no shop of the kind takes it: smaller orders
                break
            # This shop challenges: take the basket to another one of the kind.
            fill["moves"] += 1
            moved = self._move(ep, fill["merchant"])
            if moved == fill["merchant"]:
                ep.state["split"] = True  # no other shop of the kind: smaller orders
                break
            fill["merchant"] = moved
            yield ch.wait(rng.exponential(600))
        fill["whole"] = False
        if not fill["pieces"] and fill["left"] > 0:
            fill["pieces"] = self._pieces(fill["left"], threshold)
        # Separate orders of parts of the basket, minutes apart.
        while fill["pieces"]:
            yield ch.wait(rng.exponential(240))
            if fill["on_card"] >= p.max_pieces_per_card:  # stay under the hourly velocity rule
                self._next_card(ep)
                fill["on_card"] = 0
            piece = fill["pieces"][0]
            outcome = self._attempt(ep, fill["merchant"], piece)
            if outcome is None:
                return
            fill["on_card"] += 1
            if outcome.approved or outcome.reason not in _CARD_DEAD:
                fill["pieces"].pop(0)  # a piece that fails step-up is dropped, not retried
        fill["left"] = 0

    def _pieces(self, amount: int, limit: int) -> list[int]:
        """A basket split into parts under `limit` (minor units): uneven, as the items of a
        basket are, not equal slices just under the limit."""
        rng = self.rng
        k = max(int(np.ceil(amount / max(0.7 * limit, 1))), 1)
        while True:
            parts = np.floor(amount * rng.dirichlet(np.full(k, 2.0))).astype(np.int64)
            if parts.max() <= limit or k > 50:
                return [int(x) for x in parts if x > 0]
            k += 1

    def _move(self, ep: Episode, merchant: int) -> int:
        """Give up on a challenging real merchant for another of the kind: a fresh one if any,
        else another on the list; `merchant` itself when there is none."""
        tried = ep.state["tried"]
        fresh = [m for m in self._real_shops(1, tried) if m not in tried]
        others = [m for m in ep.state["real"] if m != merchant]
        new = fresh[0] if fresh else others[0] if others else merchant
        if fresh:
            tried.append(new)
            ep.state["real"] = [new if m == merchant else m for m in ep.state["real"]]
        return new

    def _card_for_fill(self, ep: Episode) -> None:
        """Keep the stolen card for a few fills (its quota), then take the next one."""
        s = ep.state
        if s["card_fills"] >= s["card_quota"] or s["card"] in s["burnt"]:
            self._next_card(ep)
            s["card_fills"], s["card_quota"] = 0, self._quota()
        s["card_fills"] += 1

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
        # A challenge (step-up) is handled by the fill itself: another shop, then pieces.
        if outcome.reason in _CARD_DEAD and "stolen" in ep.state:
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
