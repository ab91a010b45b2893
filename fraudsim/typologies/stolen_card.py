"""Stolen card: a lost or stolen physical card spent in store until blocked: PIN-less taps
under the contactless limits, chip-and-PIN purchases and cash only when the PIN was seen."""

from __future__ import annotations

import math

import numpy as np
from pydantic import Field

from fraudsim.core.units import DAY, HOUR
from fraudsim.typologies.base import Episode, Outcome, Process, Typology, TypologyParams
from fraudsim.typologies.carding import DEAD, truncated_lognormal
from fraudsim.typologies.registry import register

OPEN_HOURS = (7.0, 22.0)  # local hours when shops take card payments (choice)
# Stores where a thief turns a card into resellable goods fast (choice); fall back to any store.
HIGH_VALUE_CATEGORIES = ("electronics", "apparel", "general_retail")
TAP_CATEGORIES = ("fuel", "grocery", "pharmacy", "fast_food", "general_retail", "apparel")


class StolenCardParams(TypologyParams):
    # RTS Art. 11 lets the bank stop asking for the PIN after 5 taps or EUR 150 since the last
    # PIN; the thief taps until a terminal asks for it (the owner's own taps count too)
    taps: int = Field(default=6, ge=0, le=10, description="most PIN-less taps the thief tries")
    contactless_limit: float | None = Field(
        default=None,
        gt=0,
        le=500,
        description="PIN-less limit of one tap, major units (default: the profile's sca limit)",
    )
    # choice: taps sized by what sells (cigarettes, drinks, fuel), spread below the limit
    tap_median: float = Field(
        default=30.0, gt=0, le=500, description="median tap the thief tries, major units"
    )
    # choice, informed by ECB Sixth report on card fraud (2020): ATM 6% vs POS 15% of SEPA
    # card fraud value, i.e. cash with the PIN is a large minority of card-present fraud
    pin_known_share: float = Field(
        default=0.2, ge=0, le=1, description="share of thefts where the PIN was seen"
    )
    purchases: int = Field(
        default=3, ge=0, le=30, description="chip-and-PIN store purchases when the PIN is known"
    )
    amount_median: float = Field(
        default=320.0, gt=0, le=20_000, description="median chip-and-PIN purchase, major units"
    )
    amount_sigma: float = Field(
        default=0.5, ge=0, le=2, description="log-spread of the chip-and-PIN purchases"
    )
    # choice: a thief with the PIN empties the daily cash limit (Central Bank of Ireland: the
    # average withdrawal is EUR 139)
    atm_amount_median: float = Field(
        default=250.0, gt=0, le=5_000, description="median cash withdrawal, major units"
    )
    minutes_between: float = Field(
        default=25.0, gt=0, le=600, description="mean minutes between two stores"
    )
    notice_hours: float = Field(
        default=3.0,
        gt=0,
        le=72,
        description="median hours before the victim notices the loss and calls the bank",
    )
    max_hours: float = Field(
        default=8.0, gt=0, le=72, description="the thief gives up on the card after this long"
    )
    credit_first: bool = Field(
        default=True, description="a wallet's credit card is used before its debit card"
    )


@register("stolen_card.v1")
class StolenCard(Typology):
    family = "card"
    description = (
        "A lost or stolen physical card is used in store in the victim's region for a few "
        "hours: PIN-less taps under the contactless limits, cash and chip-and-PIN purchases "
        "only when the PIN was seen, until it is blocked."
    )
    report_kind = "card"
    default_rate_per_day = 0.2
    rows_per_episode = 6.0
    Params = StolenCardParams

    def expected_rows(self) -> float:
        p = self.params
        assert isinstance(p, StolenCardParams)
        # Taps until a terminal asks for the PIN (the counters allow up to five); with the PIN
        # also cash and purchases. The spree is cut by the block: notice time over the pace.
        planned = min(p.taps, 4) + p.pin_known_share * (p.taps - min(p.taps, 4) + p.purchases + 1)
        paced = 1 + p.notice_hours * 60 / p.minutes_between
        return float(min(planned, paced))

    # -- choices -----------------------------------------------------------------------------

    def _card_of(self, customer: int) -> int:
        p = self.params
        assert isinstance(p, StolenCardParams)
        cards = self.ch.cards_of(customer)
        kinds = self.ch.pop.cards["kind"][cards]
        if p.credit_first and (kinds == 1).any():
            cards = cards[kinds == 1]
        return int(self.rng.choice(cards))

    def _store(self, region: int, categories: tuple[str, ...], avoid: list[int]) -> int:
        """A physical store near the victim, preferring the categories, new to this spree.

        Reads the merchant table directly (drawn by size like `ch.merchants`) so that small
        shops are found too: tiny worlds have regions with a handful of shops.
        """
        pop = self.ch.pop
        m = pop.merchants
        shop = ~m["online"] & ~np.isin(
            m["category"],
            [pop.categories.index(c) for c in ("atm", "utilities", "telecom", "insurance")],
        )
        fresh = shop & ~np.isin(np.arange(len(shop)), avoid)
        wanted = np.isin(m["category"], [pop.categories.index(c) for c in categories])
        near = self._regions_near(region)
        # Fresh wanted shops at home, any fresh shop at home, then the same in the neighbours;
        # a shop already visited before going far.
        masks = [fresh & wanted, fresh]
        tiers = [(mask, [r]) for r in near for mask in masks] + [(shop, near), (shop, None)]
        for mask, regions in tiers:
            pool = np.flatnonzero(mask if regions is None else mask & np.isin(m["region"], regions))
            if len(pool):
                w = m["size"][pool]
                return int(self.rng.choice(pool, p=w / w.sum()))
        raise ValueError("the world has no physical shop")

    def _regions_near(self, region: int) -> list[int]:
        """The victim's region, then the two nearest (small worlds have regions without shops)."""
        r = self.ch.pop.regions
        d = (r["lat"] - r["lat"][region]) ** 2 + (r["lon"] - r["lon"][region]) ** 2
        return [int(i) for i in np.argsort(d, kind="stable")[:3]]

    # -- behaviour ---------------------------------------------------------------------------

    def run(self, ep: Episode) -> Process:
        p = self.params
        assert isinstance(p, StolenCardParams)
        ch, rng, s = self.ch, self.rng, ep.state
        if "card" not in s:
            holders = [int(c) for c in ch.sample_customers(rng, 20) if len(ch.cards_of(int(c)))]
            victim = holders[0]
            pin = bool(rng.random() < p.pin_known_share)
            # Learnt from detector blocks: purchases sized like the owner's, more taps.
            taps = min(p.taps + round(3 * self.learnt), 10)
            s.update(
                victim=victim,
                card=self._card_of(victim),
                region=int(ch.pop.customers["region"][victim]),
                pin=pin,
                plan=self._plan(taps, pin),
                step=0,
                stores=[],
                amount_scale=1.0 - 0.75 * self.learnt,
            )
            # The card is in the thief's hands from now: a report blocks it even before use,
            # and its owner no longer pays with it.
            ep.cards.add(s["card"])
            ch.card_lost(s["card"])
            ep.victims.add(victim)
            # Shops are shut at night: a card taken at night is first used at opening time,
            # and its owner (asleep too) misses it only from then on.
            hour = (ch.now % DAY) / HOUR
            opens = 0.0 if OPEN_HOURS[0] <= hour < OPEN_HOURS[1] else (OPEN_HOURS[0] - hour) % 24
            awake = ch.now + int(opens * HOUR)
            # The owner misses the wallet within hours and calls the bank (far sooner than a
            # statement-driven card report). The engine reads report_at when its report process
            # first runs, which is after this first step, so the block follows this time.
            notice = int(p.notice_hours * HOUR * rng.lognormal(0.0, 0.6))
            if ep.report_at is not None:
                ep.report_at = min(ep.report_at, awake + max(notice, 600))
            s["deadline"] = awake + int(p.max_hours * HOUR)
            # The thief needs a little while to reach the first shop.
            yield ch.wait(opens * HOUR + rng.exponential(p.minutes_between * 60 / 2))
        while s["step"] < len(s["plan"]) and ch.now < s["deadline"]:
            kind = s["plan"][s["step"]]
            s["step"] += 1
            outcome = self._attempt(ep, kind)
            if outcome.reason in DEAD:
                return  # the terminal says the card is blocked: the thief drops it
            if outcome.reason == "step_up_failed" and not s["pin"]:
                return  # a terminal asks for the PIN the thief does not have: he walks off
            yield ch.wait(rng.exponential(p.minutes_between * 60))

    def _plan(self, taps: int, pin: bool) -> list[str]:
        """Taps first; with the PIN, cash at once and chip-and-PIN purchases between taps."""
        p = self.params
        assert isinstance(p, StolenCardParams)
        plan = ["tap"] * taps
        if pin:
            buys = ["buy"] * p.purchases
            mixed = [kind for pair in zip(plan, buys, strict=False) for kind in pair]
            rest = plan[len(buys) :] + buys[len(plan) :]
            plan = ["atm", *mixed, *rest]
        return plan

    def _attempt(self, ep: Episode, kind: str) -> Outcome:
        """One try in a store (a tap, or chip and PIN) or at a cash machine near home."""
        p = self.params
        assert isinstance(p, StolenCardParams)
        ch, rng, s = self.ch, self.rng, ep.state
        minor = ch.world.profile.minor_per_major
        if kind == "atm":
            tens = max(round(p.atm_amount_median * rng.lognormal(0.0, 0.3) / 10), 2)
            return ch.atm_withdrawal(ep, s["card"], tens * 10 * minor)
        tap = kind == "tap"
        store = self._store(
            s["region"], TAP_CATEGORIES if tap else HIGH_VALUE_CATEGORIES, s["stores"]
        )
        s["stores"].append(store)
        scale = s.get("amount_scale", 1.0)
        if tap:
            limit = p.contactless_limit or ch.world.profile.sca.contactless_limit
            # Goods that fit under the limit: the tail is cut, not piled up at the limit.
            amount = truncated_lognormal(rng, math.log(p.tap_median * scale), 0.5, limit)
            price = min(ch.shop_price(rng, store, amount), int(limit * minor))
        else:
            amount = p.amount_median * scale * rng.lognormal(0.0, p.amount_sigma)
            price = ch.shop_price(rng, store, amount)
        return ch.card_payment(ep, s["card"], store, price, channel="pos", has_pin=s["pin"])

    # -- adaptation --------------------------------------------------------------------------

    def on_declined(self, ep: Episode, outcome: Outcome) -> None:
        if outcome.reason == "rule":
            # Too many tries too fast for the issuer: slow down is not an option for a thief
            # racing the block, so go smaller to look like an ordinary shopper.
            ep.state["amount_scale"] = max(ep.state.get("amount_scale", 1.0) * 0.5, 0.1)
            ep.adaptations += 1

    def on_interrupt(self, ep: Episode, cause: str) -> bool:
        # The card is blocked: a physical card cannot be swapped for another, the spree ends.
        return False
