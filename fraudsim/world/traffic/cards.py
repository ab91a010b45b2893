"""Honest card spending: purchases in store and online, returns, and the devices online payments
come from (a mixin of `LegitTraffic`)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from fraudsim.calibration.profile import lognormal_mixture_median
from fraudsim.core.codes import CHANNELS, TX_TYPES
from fraudsim.core.ledger import Batch, make_batch
from fraudsim.core.units import DAY
from fraudsim.world.population import pick_in_ranges

if TYPE_CHECKING:
    from fraudsim.world.traffic.calendar import DayInfo

DAYS_PER_MONTH = 30.44
CH = {name: i for i, name in enumerate(CHANNELS)}
TX = {name: i for i, name in enumerate(TX_TYPES)}
NEW_PHONE_SHARE = 0.7  # share of a customer's online payments made on a new phone (choice)


class CardSpending:
    """Purchases, refunds and the device of each online payment."""

    def _ticket_mu(self, shares: np.ndarray) -> np.ndarray:
        """Log-medians per (channel, category), scaled so each channel's median hits its target."""
        card = self.profile.cards
        mult = np.ones(len(self.pop.categories))
        mult[: len(card.categories)] = [c.ticket_multiplier for c in card.categories]
        mu = np.zeros((2, len(mult)))
        for ch, target in ((0, card.ticket_median_pos), (1, card.ticket_median_cnp)):
            logs = np.log(mult)
            used = shares[ch] > 0
            median = lognormal_mixture_median(
                logs[used].tolist(), card.ticket_sigma, shares[ch][used].tolist()
            )
            mu[ch] = logs + math.log(target / median)
        return mu

    def _purchases(
        self, rng: np.random.Generator, info: DayInfo, base: int, paid_on: np.ndarray
    ) -> Batch:
        pop = self.pop
        cust = self.cust
        payday = paid_on[cust["payday"]]
        since = (info.day_of_month - payday) % info.days_in_month
        boost = np.where(
            since < self.profile.calendar.payday_boost_days, self.boost_in, self.boost_out
        )
        rate = (
            self.card_daily_rate
            * self.weekday_factor[info.weekday]
            * boost[self.card_customer]
            * self.card_afford
        )
        counts = rng.poisson(rate)
        card = np.repeat(np.arange(len(counts), dtype=np.int32), counts)
        n = len(card)
        customer = self.card_customer[card]
        cnp = rng.random(n) < cust["cnp_propensity"][customer]
        favourite = rng.random(n) < self.profile.cards.favourite_share
        merchant = np.empty(n, np.int32)
        k_pos, k_cnp = pop.favourites_pos.shape[1], pop.favourites_cnp.shape[1]
        fav_pos = favourite & ~cnp
        fav_cnp = favourite & cnp
        merchant[fav_pos] = pop.favourites_pos[
            customer[fav_pos], rng.integers(0, k_pos, fav_pos.sum())
        ]
        merchant[fav_cnp] = pop.favourites_cnp[
            customer[fav_cnp], rng.integers(0, k_cnp, fav_cnp.sum())
        ]
        other = np.flatnonzero(~favourite)
        if len(other):
            ch = cnp[other].astype(np.int64)
            u = rng.random(len(other))
            category = np.empty(len(other), np.int64)
            for c in (0, 1):
                sel = ch == c
                category[sel] = np.searchsorted(
                    self.category_cdf[c], u[sel] * self.category_cdf[c, -1], side="right"
                )
            category = np.minimum(category, self.category_cdf.shape[1] - 1)
            region = cust["region"][customer[other]]
            bounds = np.where(
                ch[:, None] == 1,
                self.cnp_ranges[category, region],
                self.pos_ranges[category, region],
            )
            merchant[other] = pick_in_ranges(
                rng.random(len(other)), bounds[:, 0], bounds[:, 1], pop
            )
        category = pop.merchants["category"][merchant]
        channel_ix = cnp.astype(np.int64)
        amount = (
            np.exp(
                self.mu[channel_ix, category]
                + self.profile.cards.ticket_sigma * rng.standard_normal(n)
            )
            * self.income_factor[customer]
        )
        amount_minor = np.maximum(np.round(amount * self.minor), 10)
        n_term = pop.merchants["n_terminals"][merchant]
        terminal = np.where(
            cnp,
            -1,
            pop.merchants["first_terminal"][merchant]
            + (rng.random(n) * np.maximum(n_term, 1)).astype(np.int32),
        )
        device = np.where(cnp, self._device(rng, customer), -1)
        return make_batch(
            n,
            t=self._times(rng, n, base),
            customer=customer,
            account=self.card_account[card],
            card=card,
            merchant=merchant,
            terminal=terminal,
            device=device,
            amount=amount_minor,
            channel=np.where(cnp, CH["cnp"], CH["pos"]),
            tx_type=TX["purchase"],
            direction=0,
        )

    def _refunds(self, rng: np.random.Generator, purchases: Batch) -> Batch:
        """Some purchases are returned: the same card and merchant are credited 1-14 days later
        (rows dated after the day wait in the ledger until their own day)."""
        chosen = np.flatnonzero(rng.random(len(purchases["t"])) < self.profile.cards.refund_share)
        n = len(chosen)
        later = purchases["t"][chosen] + rng.integers(1, 15, n) * DAY
        return make_batch(
            n,
            t=later,
            customer=purchases["customer"][chosen],
            account=purchases["account"][chosen],
            card=purchases["card"][chosen],
            merchant=purchases["merchant"][chosen],
            terminal=purchases["terminal"][chosen],
            device=purchases["device"][chosen],
            amount=purchases["amount"][chosen],
            channel=purchases["channel"][chosen],
            tx_type=TX["refund"],
            direction=1,
        )

    def adopt_devices(self, customers: np.ndarray, devices: np.ndarray) -> None:
        """Customers who got a new phone (an honest device_change) pay with it from now on."""
        self.new_phone[customers] = devices

    def _device(self, rng: np.random.Generator, customer: np.ndarray) -> np.ndarray:
        """The device of each online payment: a new phone most of the time once there is one,
        else one of the customer's devices."""
        cust = self.cust
        u = rng.random(len(customer))
        phone = self.new_phone[customer]
        has = phone >= 0
        use_new = has & (u < NEW_PHONE_SHARE)
        u = np.where(has, (u - NEW_PHONE_SHARE) / (1 - NEW_PHONE_SHARE), u).clip(0, 0.999999)
        old = cust["first_device"][customer] + (u * cust["n_devices"][customer]).astype(np.int32)
        return np.where(use_new, phone, old).astype(np.int32)
