"""Compromised terminal: a skimmer or breached shop harvests cards, defrauded days later."""

from __future__ import annotations

import numpy as np
from pydantic import Field

from fraudsim.core.units import DAY, HOUR
from fraudsim.typologies.base import Episode, Outcome, Process, Typology, TypologyParams
from fraudsim.typologies.registry import register

# Online shops whose goods resell well (choice); any online shop as fallback.
RESALE_CATEGORIES = ("electronics", "general_retail", "digital_goods", "travel")


class CompromisedTerminalParams(TypologyParams):
    terminals: int = Field(
        default=2, ge=1, le=100, description="physical merchants compromised (chosen at setup)"
    )
    window_days: float = Field(
        default=3.0, gt=0, le=60, description="days the skimmer or breach collects card data"
    )
    delay_days: float = Field(
        default=3.0, ge=0, le=60, description="mean days from the end of collection to cash-out"
    )
    share: float = Field(
        default=0.4, gt=0, le=1, description="share of harvested cards that are defrauded"
    )
    max_cards: int = Field(default=25, ge=1, le=10_000, description="most cards defrauded")
    cnp_share: float = Field(
        default=0.75,
        ge=0,
        le=1,
        description="share of cards used online; the rest are cloned and cashed at far ATMs",
    )
    uses_per_card: int = Field(
        default=3, ge=1, le=20, description="most purchases or withdrawals per card"
    )
    cnp_amount_median: float = Field(
        default=140.0, gt=0, le=20_000, description="median online purchase, major units"
    )
    atm_amount_median: float = Field(
        default=300.0, gt=0, le=5_000, description="median ATM withdrawal, major units"
    )
    hours_per_card: float = Field(
        default=4.0, gt=0, le=240, description="mean hours between two cards being cashed out"
    )


@register("compromised_terminal.v1")
class CompromisedTerminal(Typology):
    family = "card"
    description = (
        "A skimmer or breached shop records every card used there during a window; days later "
        "a share of those cards is defrauded elsewhere, mostly online, some as far-away ATM cash."
    )
    report_kind = "card"
    default_rate_per_day = 0.05
    rows_per_episode = 50.0
    Params = CompromisedTerminalParams
    compromised: list[int]  # merchant idx with a skimmer or breach (from setup)
    episodes_started: int

    def expected_rows(self) -> float:
        p = self.params
        assert isinstance(p, CompromisedTerminalParams)
        # A busy shop (drawn by size) sees ~40 cards a day (measured in small worlds); each
        # defrauded card is used 1..uses_per_card times.
        cards = min(p.max_cards, max(1.0, p.share * 40.0 * p.window_days))
        return cards * (1 + p.uses_per_card) / 2

    # -- setup: where the skimmers sit -------------------------------------------------------

    def setup(self) -> None:
        p = self.params
        assert isinstance(p, CompromisedTerminalParams)
        # Busy shops (drawn by size) are worth a skimmer; watching records their card traffic.
        # The same shops in every shard: merchants are shared, so the choice is too.
        picks = self.ch.merchants(self.shared_rng, 4 * p.terminals, online=False)
        self.compromised = list(dict.fromkeys(int(m) for m in picks))[: p.terminals]
        for m in self.compromised:
            self.ch.watch_merchant(m)
        self.episodes_started = 0

    # -- behaviour ---------------------------------------------------------------------------

    def run(self, ep: Episode) -> Process:
        p = self.params
        assert isinstance(p, CompromisedTerminalParams)
        ch, rng, s = self.ch, self.rng, ep.state
        if "merchant" not in s:
            merchant = self.compromised[self.episodes_started % len(self.compromised)]
            self.episodes_started += 1
            window_end = ep.start + int(p.window_days * DAY)
            # Harvested data is read once the window's last day is settled (and recorded),
            # then sold or cloned: cash-out starts days later.
            settled = (window_end // DAY + 1) * DAY + HOUR
            delay = p.delay_days * DAY * rng.gamma(2.0, 0.5)  # mean delay_days, rarely ~0
            cash_out = max(settled, window_end + int(delay))
            s.update(
                merchant=merchant,
                window=(ep.start, window_end),
                cash_out=cash_out,
                targets=None,
                next=0,
                device=ch.new_device(),
                cap=None,
                avoid=[merchant],
            )
            # Victims report the unknown charges they see, so the report clock starts at the
            # cash-out, not when the skimmer went in. The engine reads report_at when its
            # report process first runs, which is after this first step.
            if ep.report_at is not None:
                ep.report_at += cash_out - ep.start
        if s["targets"] is None:
            yield ch.wait(s["cash_out"] - ch.now)
            s["targets"] = self._harvest(s["merchant"], *s["window"])
        while s["next"] < len(s["targets"]):
            card = s["targets"][s["next"]]
            s["next"] += 1  # advance first: a block on this card resumes with the next one
            online = bool(rng.random() < p.cnp_share)
            region = None if online else self._far_region(card)
            for use in range(int(rng.integers(1, p.uses_per_card + 1))):
                if use:
                    yield ch.wait(rng.exponential(HOUR / 2))
                if online:
                    outcome = self._buy_online(ep, card)
                else:
                    # Cash in notes of ten, at a far-away machine.
                    tens = max(round(p.atm_amount_median * rng.lognormal(0.0, 0.4) / 10), 2)
                    minor = ch.world.profile.minor_per_major
                    outcome = ch.atm_withdrawal(ep, card, tens * 10 * minor, region=region)
                if outcome.reason in ("card_blocked", "account_frozen"):
                    break
            yield ch.wait(rng.exponential(p.hours_per_card * HOUR))

    def _harvest(self, merchant: int, start: int, end: int) -> list[int]:
        """Cards honestly used at the merchant during the window; a share is defrauded."""
        p = self.params
        assert isinstance(p, CompromisedTerminalParams)
        seen = sorted({card for card, t in self.ch.cards_seen_at(merchant) if start <= t < end})
        if not seen:
            return []
        n = min(p.max_cards, max(1, round(p.share * len(seen))))
        return [int(c) for c in self.rng.choice(np.array(seen), size=n, replace=False)]

    def _buy_online(self, ep: Episode, card: int) -> Outcome:
        p = self.params
        assert isinstance(p, CompromisedTerminalParams)
        ch, rng, s = self.ch, self.rng, ep.state
        minor = ch.world.profile.minor_per_major
        amount = round(p.cnp_amount_median * rng.lognormal(0.0, 0.6) * minor)
        if s["cap"] is not None and amount > s["cap"]:
            amount = round(s["cap"] * rng.uniform(0.6, 0.99))  # adapted: under step-up
        s["shop"] = self._shop(s["avoid"])
        return ch.card_payment(ep, card, s["shop"], amount, channel="cnp", device=s["device"])

    def _shop(self, avoid: list[int]) -> int:
        for category in (*self.rng.permutation(RESALE_CATEGORIES).tolist(), None):
            try:
                picks = self.ch.merchants(self.rng, 4, online=True, category=category)
            except ValueError:
                continue
            fresh = [int(m) for m in picks if int(m) not in avoid]
            if fresh:
                return fresh[0]
        return int(self.ch.merchants(self.rng, 1, online=True)[0])

    def _far_region(self, card: int) -> int:
        """A region with cash machines far from the holder's home (the cross-border-like leg:
        cloned cards are cashed where the holder could not be)."""
        pop = self.ch.pop
        home = int(pop.customers["region"][int(pop.cards["customer_idx"][card])])
        m = pop.merchants
        with_atms = np.unique(m["region"][m["category"] == pop.categories.index("atm")])
        with_atms = with_atms[(with_atms >= 0) & (with_atms != home)]
        if len(with_atms) == 0:
            return home
        r = pop.regions
        d = (r["lat"][with_atms] - r["lat"][home]) ** 2 + (
            r["lon"][with_atms] - r["lon"][home]
        ) ** 2
        far = with_atms[np.argsort(-d, kind="stable")[:3]]
        return int(self.rng.choice(far))

    # -- adaptation --------------------------------------------------------------------------

    def on_declined(self, ep: Episode, outcome: Outcome) -> None:
        s = ep.state
        if outcome.reason != "step_up_failed" or "avoid" not in s:
            return
        threshold = self.ch.bank.sca_threshold
        if outcome.amount > threshold:
            s["cap"] = threshold  # keep online tickets under the step-up threshold
        else:
            # This shop asks every payment for step-up: avoid it from now on.
            s["avoid"].append(s.get("shop", -1))
        ep.adaptations += 1

    def on_interrupt(self, ep: Episode, cause: str) -> bool:
        # Reported cards are blocked; the other harvested cards are still good.
        targets = ep.state.get("targets")
        return targets is None or ep.state.get("next", 0) < len(targets)
