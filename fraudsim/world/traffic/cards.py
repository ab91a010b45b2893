"""Honest card spending: purchases in store and online, returns, and the devices online payments
come from (a mixin of `LegitTraffic`)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from fraudsim.calibration.profile import lognormal_mixture_median
from fraudsim.core.codes import CHANNELS, TX_TYPES
from fraudsim.core.ledger import Batch, make_batch
from fraudsim.core.units import DAY, HOUR, MINUTE
from fraudsim.world.population import pick_in_ranges

if TYPE_CHECKING:
    from fraudsim.world.traffic.calendar import DayInfo

DAYS_PER_MONTH = 30.44
CH = {name: i for i, name in enumerate(CHANNELS)}
TX = {name: i for i, name in enumerate(TX_TYPES)}
NEW_PHONE_SHARE = 0.7  # share of a customer's online payments made on a new phone (choice)


def _offsets(gap: np.ndarray, first: np.ndarray, size: np.ndarray, cap: float) -> np.ndarray:
    """Seconds from each group's first row, given the gaps before each row (groups are runs of
    `size` rows starting at `first`); a group longer than `cap` seconds is squeezed into it."""
    gap = gap.copy()
    gap[first] = 0.0
    elapsed = np.cumsum(gap)
    since = elapsed - np.repeat(elapsed[first], size)
    span = np.repeat(since[first + size - 1], size)
    return np.round(since * np.minimum(1.0, cap / np.maximum(span, 1.0))).astype(np.int64)


class CardSpending:
    """Purchases, refunds and the device of each online payment.

    A card's day: a rate (the card's own, scaled by weekday, payday and room to spend) times a
    day multiplier (gamma, mean 1: errand days and quiet days); purchases start sessions
    (several charges at one merchant within minutes: a marketplace basket split by seller,
    in-app purchases, transit taps) and in-store purchases bunch into outings (several shops
    on one trip). The mixes of session starts are set so that, sessions included, the
    profile's channel and category shares and purchases per card hold.
    """

    def _card_setup(self) -> None:
        """Per-category session, ticket and price arrays and the session-start mixes."""
        card, pop, cust = self.profile.cards, self.pop, self.cust
        cats, n_cat = card.categories, len(pop.categories)
        k = len(cats)
        shares = np.zeros((2, n_cat))
        shares[0, :k] = [c.pos_share for c in cats]
        shares[1, :k] = [c.cnp_share for c in cats]
        shares /= shares.sum(axis=1, keepdims=True)
        self.mu = self._ticket_mu(shares)
        self.session_share = np.zeros(n_cat)
        self.session_share[:k] = [c.session_share for c in cats]
        self.session_extra = np.ones(n_cat)
        self.session_extra[:k] = [c.session_extra_mean for c in cats]
        self.session_gap_log = np.zeros(n_cat)
        self.session_gap_log[:k] = [math.log(c.session_gap_minutes * MINUTE) for c in cats]
        self.price_share = np.zeros(n_cat)
        self.price_share[:k] = [c.price_point_share for c in cats]
        self.price_endings = np.asarray(card.price_ending_cents, np.int64)
        self.price_ending_cdf = np.cumsum(card.price_ending_weights)
        # Purchases per session start, per category and per channel (harmonic over the mix):
        # a category with long sessions starts fewer of them, so that its share holds.
        size = 1.0 + self.session_share * self.session_extra
        starts = shares / size
        per_start = 1.0 / starts.sum(axis=1)
        self.category_cdf = np.cumsum(starts / starts.sum(axis=1, keepdims=True), axis=1)
        # Favourite merchants are picked against their category's session length likewise.
        merchant_category = pop.merchants["category"]
        self.favourite_cdf = [
            np.cumsum(1.0 / size[merchant_category[fav]], axis=1)
            for fav in (pop.favourites_pos, pop.favourites_cnp)
        ]
        # Online sessions run longer, so a session starts online less often than the
        # customer's online share of purchases, which then holds.
        p = cust["cnp_propensity"]
        self.cnp_start = p * per_start[0] / (p * per_start[0] + (1 - p) * per_start[1])
        holder = self.cnp_start[self.card_customer]
        self.starts_per_purchase = 1.0 / (holder * per_start[1] + (1 - holder) * per_start[0])

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
        """The day's purchases (sessions may run past midnight: the caller defers those)."""
        pop, cust, card_p = self.pop, self.cust, self.profile.cards
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
        shape = card_p.day_rate_gamma_shape
        day_factor = rng.gamma(shape, 1.0 / shape, len(rate))
        counts = rng.poisson(rate * day_factor * self.starts_per_purchase)
        card = np.repeat(np.arange(len(counts), dtype=np.int32), counts)
        customer = self.card_customer[card]
        cnp = rng.random(len(card)) < self.cnp_start[customer]
        merchant = self._merchants(rng, customer, cnp)
        category = pop.merchants["category"][merchant]
        t = np.empty(len(card), np.int64)
        t[cnp] = self._times(rng, int(cnp.sum()), base, "cnp")
        t[~cnp] = self._times(rng, int((~cnp).sum()), base, "pos")
        t = self._outings(rng, card, cnp, t)
        device = np.where(cnp, self._device(rng, customer), -1)
        # Sessions: the start and its extras share card, merchant, channel and device.
        opens = rng.random(len(card)) < self.session_share[category]
        extra = np.where(opens, rng.geometric(1.0 / self.session_extra[category]), 0)
        size = 1 + extra
        row = np.repeat(np.arange(len(card)), size)
        first = np.cumsum(size) - size
        gap = np.exp(
            self.session_gap_log[category[row]]
            + card_p.session_gap_sigma * rng.standard_normal(len(row))
        )
        offset = _offsets(gap, first, size, card_p.session_span_max_hours * HOUR)
        # Charges a second apart at least: two taps never share a second.
        offset += np.arange(len(row)) - np.repeat(first, size)
        n = len(row)
        card, customer, cnp, merchant = card[row], customer[row], cnp[row], merchant[row]
        category = category[row]
        channel_ix = cnp.astype(np.int64)
        amount = (
            np.exp(self.mu[channel_ix, category] + card_p.ticket_sigma * rng.standard_normal(n))
            * self.income_factor[customer]
        )
        n_term = pop.merchants["n_terminals"][merchant]
        terminal = np.where(
            cnp,
            -1,
            pop.merchants["first_terminal"][merchant]
            + (rng.random(n) * np.maximum(n_term, 1)).astype(np.int32),
        )
        return make_batch(
            n,
            t=t[row] + offset,
            customer=customer,
            account=self.card_account[card],
            card=card,
            merchant=merchant,
            terminal=terminal,
            device=device[row],
            amount=self.price_points(rng, np.round(amount * self.minor), category),
            channel=np.where(cnp, CH["cnp"], CH["pos"]),
            tx_type=TX["purchase"],
            direction=0,
        )

    def _merchants(
        self, rng: np.random.Generator, customer: np.ndarray, cnp: np.ndarray
    ) -> np.ndarray:
        """Where each session starts: a regular merchant of the customer's, or another one of
        a category drawn from the channel's mix in the customer's region."""
        pop, n = self.pop, len(customer)
        favourite = rng.random(n) < self.profile.cards.favourite_share
        merchant = np.empty(n, np.int32)
        u = rng.random(n)
        for online, table in ((0, pop.favourites_pos), (1, pop.favourites_cnp)):
            sel = np.flatnonzero(favourite & (cnp == online))
            cdf = self.favourite_cdf[online][customer[sel]]
            slot = (cdf < (u[sel] * cdf[:, -1])[:, None]).sum(axis=1)
            merchant[sel] = table[customer[sel], np.minimum(slot, table.shape[1] - 1)]
        other = np.flatnonzero(~favourite)
        if len(other):
            ch = cnp[other].astype(np.int64)
            category = np.empty(len(other), np.int64)
            for c in (0, 1):
                sel = ch == c
                category[sel] = np.searchsorted(
                    self.category_cdf[c], u[other][sel] * self.category_cdf[c, -1], side="right"
                )
            category = np.minimum(category, self.category_cdf.shape[1] - 1)
            region = self.cust["region"][customer[other]]
            bounds = np.where(
                ch[:, None] == 1,
                self.cnp_ranges[category, region],
                self.pos_ranges[category, region],
            )
            merchant[other] = pick_in_ranges(
                rng.random(len(other)), bounds[:, 0], bounds[:, 1], pop
            )
        return merchant

    def _outings(
        self, rng: np.random.Generator, card: np.ndarray, cnp: np.ndarray, t: np.ndarray
    ) -> np.ndarray:
        """In-store purchases that join their card's outing of the day follow its first one
        at a few minutes' walk each (`card` is sorted, so a card's purchases are adjacent)."""
        card_p = self.profile.cards
        joins = np.flatnonzero(~cnp & (rng.random(len(card)) < card_p.outing_share))
        gap = np.exp(
            math.log(card_p.outing_gap_minutes * MINUTE)
            + card_p.session_gap_sigma * rng.standard_normal(len(joins))
        )
        if len(joins) < 2:
            return t
        owner = card[joins]
        first = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
        size = np.diff(np.r_[first, len(joins)])
        span = _offsets(gap, first, size, card_p.session_span_max_hours * HOUR)
        t = t.copy()
        t[joins] = t[joins[np.repeat(first, size)]] + span
        return t

    def price_points(
        self, rng: np.random.Generator, amount: np.ndarray, category: np.ndarray
    ) -> np.ndarray:
        """Ticket amounts (minor units) as shops charge them: per category, a share are one
        shelf price ending in .99, .50, .00 ...; the rest (basket sums) keep their cents.
        Anyone buying goods at a real merchant pays such prices, fraudsters too."""
        n = len(amount)
        minor = np.maximum(np.asarray(amount), 10).astype(np.int64)
        shelf = rng.random(n) < self.price_share[category]
        pick = np.searchsorted(
            self.price_ending_cdf, rng.random(n) * self.price_ending_cdf[-1], side="right"
        )
        if self.minor != 100:  # price endings are cents; other currencies keep their amounts
            return minor
        ending = self.price_endings[np.minimum(pick, len(self.price_endings) - 1)]
        priced = np.maximum(minor // 100 * 100 + ending, 10)
        return np.where(shelf, priced, minor)

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
        """Customers who got a new phone (an honest device_change: a new one or one handed down
        by a housemate) pay with it from now on, in place of their old phone."""
        self.new_phone[customers] = devices

    def _device(self, rng: np.random.Generator, customer: np.ndarray) -> np.ndarray:
        """The device of each online payment, chosen as honest logins choose it: the household's
        shared tablet or laptop for a share of a sharing member's payments, else one of the
        customer's own devices, the latest phone in place of the first."""
        u = rng.random(len(customer))
        return self.pop.pick_devices(u, customer, self.new_phone).astype(np.int32)
