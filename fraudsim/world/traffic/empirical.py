"""Honest traffic drawn from a data-derived profile's [empirical] aggregates, a day at a time.

Each source transaction type is drawn independently per account: Poisson counts at the type's
rate per account-month times the account's activity (gamma, mean 1) and the type's weekday and
day-of-month weights; amounts by inverse CDF of the released quantiles; hours from the type's
hour shape, or the profile's calendar hour shape when the source had dates only.
"""

from __future__ import annotations

import numpy as np

from fraudsim.calibration.profile import EmpiricalTargets, Profile
from fraudsim.core.codes import CHANNELS, DIRECTIONS, INTERNAL_TRANSFER_TYPES, TX_TYPES
from fraudsim.core.ledger import Batch, concat, make_batch
from fraudsim.core.rng import SeedStreams
from fraudsim.core.units import DAY, HOUR
from fraudsim.world.population import Population

DAYS_PER_MONTH = 30.44
CARD_CHANNELS = ("pos", "cnp", "atm")


class EmpiricalTraffic:
    """Draws each day's honest rows for the initial customers' checking accounts."""

    def __init__(
        self, pop: Population, profile: Profile, streams: SeedStreams, shard: int = 0
    ) -> None:
        assert profile.empirical is not None
        self.emp: EmpiricalTargets = profile.empirical
        self.pop, self.streams, self.shard = pop, streams, shard
        self.minor = profile.minor_per_major
        cust = pop.customers.columns
        self.n = len(cust["age"])
        self.account = np.asarray(cust["checking_idx"][: self.n], np.int32)
        self.device = np.asarray(cust["first_device"][: self.n], np.int32)
        shape = self.emp.activity_gamma_shape
        rng = streams.generator("empirical_accounts", shard)
        self.activity = rng.gamma(shape, 1.0 / shape, self.n)
        # Each customer's first card (debit before credit as listed), -1 without one.
        cards = pop.cards
        self.card = np.full(self.n, -1, np.int32)
        owner = np.asarray(cards["customer_idx"])
        order = np.arange(len(owner), dtype=np.int32)[::-1]
        mine = owner[::-1] < self.n
        self.card[owner[::-1][mine]] = order[mine]
        merchants = pop.merchants
        online = np.asarray(merchants["online"]).astype(bool)
        atm = np.asarray(merchants["category"]) == pop.categories.index("atm")
        self.merchant_pool = {
            "pos": np.flatnonzero(~online & ~atm).astype(np.int32),
            "cnp": np.flatnonzero(online).astype(np.int32),
            "atm": np.flatnonzero(atm).astype(np.int32),
        }
        self.first_terminal = np.asarray(merchants["first_terminal"])
        default_hours = np.asarray(profile.weights("calendar", "hour_weights"))
        self.types = self.emp.types
        self.levels = np.asarray(self.emp.levels)
        self.hour_cdf = [
            np.cumsum(np.asarray(t.hour_weights) / sum(t.hour_weights))
            if t.hour_weights and sum(t.hour_weights) > 0
            else np.cumsum(default_hours)
            for t in self.types
        ]
        self.weekday = np.array([t.weekday_weights for t in self.types])
        self.dom = np.array([t.day_of_month_weights for t in self.types])
        self.base_rate = np.array([t.per_account_month / DAYS_PER_MONTH for t in self.types])

    def expected_rows_per_day(self) -> float:
        return float(self.base_rate.sum() * self.n)

    def day(self, index: int, day_of_month: int, days_in_month: int, weekday: int) -> Batch:
        """All honest rows of day `index` (seconds from the scenario start, unsorted)."""
        rng = self.streams.generator("empirical", self.shard, index)
        slot = 31 if day_of_month == days_in_month else day_of_month
        base = index * DAY
        batches = []
        for k, kind in enumerate(self.types):
            rate = self.base_rate[k] * self.weekday[k, weekday] * self.dom[k, slot - 1]
            if rate <= 0:
                continue
            counts = rng.poisson(rate * self.activity)
            who = np.repeat(np.arange(self.n, dtype=np.int32), counts)
            n = len(who)
            amount = np.interp(rng.random(n), self.levels, kind.amount_quantiles)
            hour = np.searchsorted(self.hour_cdf[k], rng.random(n) * self.hour_cdf[k][-1], "right")
            t = base + np.minimum(hour, 23) * HOUR + rng.integers(0, HOUR, n)
            columns: dict[str, np.ndarray | int] = {}
            if kind.channel in CARD_CHANNELS:
                pool = self.merchant_pool[kind.channel]
                if len(pool):
                    merchant = pool[rng.integers(0, len(pool), n)]
                    columns["merchant"] = merchant
                    if kind.channel != "cnp":
                        columns["terminal"] = self.first_terminal[merchant]
                columns["card"] = self.card[who]
            if kind.channel in ("cnp", "online_banking"):
                columns["device"] = self.device[who]
            if kind.tx_type in INTERNAL_TRANSFER_TYPES and kind.direction == "debit":
                internal = rng.random(n) < kind.counterparty_share * (1 - kind.other_bank_share)
                contacts = self.pop.contacts
                payee = contacts[who, rng.integers(0, contacts.shape[1], n)]
                columns["counterparty"] = np.where(internal, self.account[payee], -1)
            batches.append(
                make_batch(
                    n,
                    t=t,
                    customer=who,
                    account=self.account[who],
                    amount=np.maximum(np.round(amount * self.minor), 1),
                    channel=CHANNELS.index(kind.channel),
                    tx_type=TX_TYPES.index(kind.tx_type),
                    direction=DIRECTIONS.index(kind.direction),
                    **columns,
                )
            )
        return concat(batches)
