"""Compromised terminal: a skimmer or breached shop harvests cards, defrauded days later."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np
import simpy
from pydantic import Field

from fraudsim.core.units import DAY, HOUR, MINUTE
from fraudsim.typologies.base import Episode, Process
from fraudsim.typologies.carding import DEAD, CardFraud, RingParams
from fraudsim.typologies.registry import register


class CompromisedTerminalParams(RingParams):
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
    # ECB 2023 card fraud report: CNP ~84% of SEPA card fraud value (2021); cloned cards at ATMs
    cnp_share: float = Field(
        default=0.75,
        ge=0,
        le=1,
        description="share of cards used online; the rest are cloned and cashed at ATMs",
    )
    uses_per_card: int = Field(
        default=12, ge=1, le=100, description="most purchases or withdrawals per card, all days"
    )
    # Central Bank of Ireland: average ATM withdrawal ~EUR 139; a clone is drained well above it
    atm_amount_median: float = Field(
        default=300.0, gt=0, le=5_000, description="median ATM withdrawal, major units"
    )
    # EBA/ECB 2024 Report on Payment Fraud: 71% of EEA card fraud value is cross-border; other
    # regions stand for abroad, the home region for the domestic rest
    home_cash_share: float = Field(
        default=0.29, ge=0, le=1, description="share of cloned cards cashed in the home region"
    )
    hours_per_card: float = Field(
        default=4.0, gt=0, le=240, description="mean hours between two cards being cashed out"
    )


@register("compromised_terminal.v1")
class CompromisedTerminal(CardFraud):
    family = "card"
    description = (
        "A skimmer or breached shop records every card used there during a window; days later "
        "a share of those cards is defrauded elsewhere, mostly online, some as far-away ATM cash."
    )
    report_kind = "card"
    default_rate_per_day = 0.05
    rows_per_episode = 60.0
    Params = CompromisedTerminalParams
    compromised: list[int]  # merchant idx with a skimmer or breach (from setup)
    episodes_started: int

    def expected_rows(self) -> float:
        p = self.params
        assert isinstance(p, CompromisedTerminalParams)
        # A busy shop (drawn by size) sees ~40 cards a day (measured in small worlds); reports
        # block cards and late cash-outs fall after a month's end: ~40% of the planned uses
        # happen (measured on scenarios/training_set.toml).
        cards = min(p.max_cards, max(1.0, p.share * 40.0 * p.window_days))
        return 0.4 * cards * min(float(p.uses_per_card), self.spree_rows())

    # -- setup: where the skimmers sit -------------------------------------------------------

    def setup(self) -> None:
        super().setup()
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
            s.update(merchant=merchant, window=(ep.start, window_end), cash_out=cash_out)
            s.update(targets=None, cloned=[], uses={}, cap=p.uses_per_card)
            self._join_ring(ep)
            # Victims report the unknown charges they see, so the report clock starts at the
            # cash-out, not when the skimmer went in. The engine reads report_at when its
            # report process first runs, which is after this first step.
            if ep.report_at is not None:
                ep.report_at += cash_out - ep.start
        if s["targets"] is None:
            yield ch.wait(s["cash_out"] - ch.now)
            s["targets"] = self._harvest(s["merchant"], *s["window"])
            at = ch.now
            for card in s["targets"]:
                if rng.random() >= p.cnp_share:
                    # Cloned onto a blank with the filmed PIN: cash at a machine.
                    s["cloned"].append(card)
                self._queue_card(ep, card, at)
                at += int(rng.exponential(p.hours_per_card * HOUR))
        yield from self._cash_out(ep)

    def _spree(self, ep: Episode, card: int) -> Generator[simpy.Event, Any, bool]:
        """A day's use of one card: online purchases, or a cloned card's cash withdrawals."""
        if card in ep.state.get("cloned", []):
            return (yield from self._withdrawals(ep, card))
        return (yield from super()._spree(ep, card))

    def _withdrawals(self, ep: Episode, card: int) -> Generator[simpy.Event, Any, bool]:
        """Cash with a cloned card: a few withdrawals at machines of one region, minutes
        apart, in notes of ten; mostly away from the holder's home, sometimes in it."""
        p = self.params
        assert isinstance(p, CompromisedTerminalParams)
        ch, rng, s = self.ch, self.rng, ep.state
        region = s.setdefault("cash_region", {}).get(card)
        if region is None:
            home = bool(rng.random() < p.home_cash_share)
            region = self._home_region(card) if home else self._far_region(card)
            s["cash_region"][card] = region
        minor = ch.world.profile.minor_per_major
        cf = ch.world.profile.card_fraud
        for k in range(1 + int(rng.poisson(cf.transactions_per_card_day - 1))):
            if not self._use(ep, card):
                return False
            if k:
                yield ch.wait(cf.spree_gap_minutes * MINUTE * rng.lognormal(0.0, 1.0))
            tens = max(round(p.atm_amount_median * rng.lognormal(0.0, 0.4) / 10), 2)
            outcome = ch.atm_withdrawal(ep, card, tens * 10 * minor, region=region)
            if outcome.reason in DEAD or outcome.reason == "rule":
                return False
        return True

    def _harvest(self, merchant: int, start: int, end: int) -> list[int]:
        """Cards honestly used at the merchant during the window; a share is defrauded."""
        p = self.params
        assert isinstance(p, CompromisedTerminalParams)
        seen = sorted({card for card, t in self.ch.cards_seen_at(merchant) if start <= t < end})
        if not seen:
            return []
        n = min(p.max_cards, max(1, round(p.share * len(seen))))
        return [int(c) for c in self.rng.choice(np.array(seen), size=n, replace=False)]

    def _home_region(self, card: int) -> int:
        pop = self.ch.pop
        return int(pop.customers["region"][int(pop.cards["customer_idx"][card])])

    def _far_region(self, card: int) -> int:
        """A region with cash machines far from the holder's home (the cross-border-like leg:
        cloned cards are cashed where the holder could not be)."""
        pop = self.ch.pop
        home = self._home_region(card)
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

    def on_interrupt(self, ep: Episode, cause: str) -> bool:
        # Reported cards are blocked; the other harvested cards are still good.
        return ep.state.get("targets") is None or bool(ep.state.get("queue"))
