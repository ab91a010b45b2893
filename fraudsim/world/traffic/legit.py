"""Legit traffic: one simulated day of honest customers' activity, drawn in arrays.

No per-transaction Python and no SimPy event per transaction: each call draws a whole day for
the whole population (purchases, cash, salaries, bills, rent, transfers) from the legit stream
of that day, so the result never depends on what fraud does.
"""

from __future__ import annotations

import numpy as np

from fraudsim.calibration.profile import Profile
from fraudsim.core.codes import CHANNELS, TX_TYPES
from fraudsim.core.ledger import Batch, concat, take
from fraudsim.core.rng import SeedStreams
from fraudsim.core.units import DAY, HOUR
from fraudsim.world.population import Population, group_range_table
from fraudsim.world.traffic.calendar import Calendar, HourCurves
from fraudsim.world.traffic.cards import CardSpending
from fraudsim.world.traffic.cash import CashActivity
from fraudsim.world.traffic.empirical import EmpiricalTraffic
from fraudsim.world.traffic.transfers import Transfers

DAYS_PER_MONTH = 30.44
NEW_PHONE_SHARE = 0.7  # share of a customer's online payments made on a new phone (choice)
CH = {name: i for i, name in enumerate(CHANNELS)}
TX = {name: i for i, name in enumerate(TX_TYPES)}


class LegitTraffic(CardSpending, CashActivity, Transfers):
    """Draws each day's honest transactions for a population."""

    def __init__(
        self,
        pop: Population,
        profile: Profile,
        streams: SeedStreams,
        calendar: Calendar,
        shard: int = 0,
    ) -> None:
        self.pop, self.profile, self.streams, self.calendar = pop, profile, streams, calendar
        self.shard = shard
        self.minor = profile.minor_per_major
        # A snapshot of the initial customers: accounts opened later by typologies (synthetic
        # identities, mules) get no honest traffic.
        self.cust = dict(pop.customers.columns)
        cards, cust = pop.cards, self.cust
        self.card_customer = cards["customer_idx"]
        self.card_account = cards["account_idx"]
        self.card_daily_rate = cards["monthly_rate"] / DAYS_PER_MONTH
        self.debit_cards = np.flatnonzero(cards["kind"] == 0)
        self.future: list[Batch] = []
        self.new_phone = np.full(len(self.cust["age"]), -1, np.int32)
        # Statement due days, drawn from their own stream so that the rest stays as it was.
        days_max = profile.transfers.card_repayment_day_max
        self.repay_day = streams.generator("population_extra", shard).integers(
            1, days_max + 1, len(self.cust["age"])
        )
        self.shadow = pop.accounts["opening_balance"].copy()
        self.floors = pop.accounts["floor"].copy()
        self.credit_cards = np.flatnonzero(cards["kind"] == 1)
        cal = profile.calendar
        self.hours = HourCurves(profile)
        weekday = np.asarray(profile.weights("calendar", "weekday_weights"))
        self.weekday_factor = weekday * 7.0
        self.boost_in = 1.0 + cal.payday_boost
        self.boost_out = 1.0 - cal.payday_boost * cal.payday_boost_days / (
            DAYS_PER_MONTH - cal.payday_boost_days
        )
        income_ratio = cust["income"] / profile.population.annual_income_median
        # Spending scales with income; normalised so the typical card holder's factor is 1 and
        # the profile's median tickets stay the medians.
        factor = income_ratio**profile.cards.income_elasticity
        self.income_factor = factor / np.median(factor[self.card_customer])
        # People with more income also pay by card more often (mean rate kept at the target).
        frequency = factor[self.card_customer]
        self.card_daily_rate = self.card_daily_rate * frequency / frequency.mean()
        n_regions = len(pop.regions)
        self.pos_ranges = group_range_table(pop, 0, n_regions)
        self.cnp_ranges = group_range_table(pop, 1, n_regions)
        self.monthly_income = cust["income"] / 12.0 * self.minor
        self._card_setup()
        # Whose net pay changes from month to month (hourly pay, overtime, commission); the
        # others are paid the same amount every month. A stream of its own: drawn once.
        pay = profile.transfers
        self.variable_pay = (
            streams.generator("legit_pay", shard).random(len(cust["age"]))
            < pay.salary_variable_share
        ) & (cust["segment"] != 2)
        # A profile derived from data (fraudsim calibrate) draws honest rows from its aggregates.
        self.empirical = (
            EmpiricalTraffic(pop, profile, streams, shard) if profile.empirical else None
        )

    def expected_rows_per_day(self) -> float:
        """Mean honest rows a day (for prevalence control), from the profile's rates."""
        if self.empirical is not None:
            return self.empirical.expected_rows_per_day()
        p, cust = self.profile, self.cust
        n = len(cust["age"])
        per_month = (
            self.card_daily_rate.sum() * DAYS_PER_MONTH * (1 + p.cards.refund_share)
            + len(self.debit_cards) * p.atm.withdrawals_per_debit_card_month
            + len(self.credit_cards) * p.atm.cash_advances_per_credit_card_month
            + n
            * (
                p.transfers.p2p_per_customer_month
                + p.transfers.incoming_p2p_per_customer_month
                + p.transfers.cash_deposits_per_customer_month
                + p.transfers.savings_withdrawals_per_saver_month
                * p.population.savings_account_share
                + p.transfers.bills_per_customer
                + 1.0
                + p.transfers.rent_share_of_customers
                + p.population.savings_account_share
            )
            + (cust["credit_idx"] >= 0).sum()
        )
        return float(per_month / DAYS_PER_MONTH)

    # -- the day ---------------------------------------------------------------------------

    def day(self, index: int, balances: np.ndarray) -> Batch:
        """All honest rows of day `index` (unsorted), given start-of-day balances (minor units;
        only card repayments read them). Rows dated after the day (returns) are kept aside:
        `take_future`."""
        info = self.calendar.day(index)
        if self.empirical is not None:
            return self.empirical.day(index, info.day_of_month, info.days_in_month, info.weekday)
        rng = self.streams.generator("legit", self.shard, index)
        base = index * DAY
        paid_on = Calendar.business_day_map(info)
        self._affordability()
        purchases = self._purchases(rng, info, base, paid_on)
        # Returns and credit-card cash advances draw from their own stream: honest rows that
        # share a shape with refund abuse and bust-out cash-outs.
        extra = self.streams.generator("legit_extra", self.shard, index)
        self.future.append(self._refunds(extra, purchases))
        # Sessions that run past midnight finish on the next day.
        late = purchases["t"] >= base + DAY
        if late.any():
            self.future.append(take(purchases, np.flatnonzero(late)))
            purchases = take(purchases, np.flatnonzero(~late))
        batches = [
            purchases,
            self._cash_advances(extra, info, base),
            self._incoming_transfers(extra, info, base),
            self._cash_deposits(extra, info, base),
            self._savings_withdrawals(extra, info, base),
            self._atm(rng, info, base),
            self._incoming(rng, info, base, paid_on),
            self._bills_and_rent(rng, info, base, paid_on),
            self._p2p(rng, info, base),
            self._card_repayments(rng, info, base, balances, paid_on),
        ]
        rows = concat(batches)
        self._follow(rows)
        return rows

    def _times(
        self, rng: np.random.Generator, n: int, base: int, channel: str = "all", weekday: int = 0
    ) -> np.ndarray:
        """`n` times in the day at `base` (seconds), at the hours `channel` is used."""
        return HourCurves.draw(rng, self.hours.curve(channel, weekday), n, base)

    def _window(
        self, rng: np.random.Generator, n: int, base: int, start_h: int, end_h: int
    ) -> np.ndarray:
        return base + rng.integers(start_h * HOUR, end_h * HOUR, n)

    def _affordability(self) -> None:
        """How freely each card and customer spends today: people close to their limit pay
        less often, as people do. Read from a shadow balance that follows honest rows only
        (accepted or not), so fraud never changes honest traffic."""
        cushion = self.monthly_income * 0.15
        room = (self.shadow - self.floors).astype(np.float64)
        self.card_afford = np.clip(room[self.card_account] / cushion[self.card_customer], 0.15, 1)
        self.customer_afford = np.clip(room[self.cust["checking_idx"]] / cushion, 0.15, 1)

    def _follow(self, rows: Batch) -> None:
        """Move the shadow balances by a day's honest rows."""
        n = len(self.shadow)
        amount = rows["amount"].astype(np.float64)
        sign = np.where(rows["direction"] == 0, -1.0, 1.0)
        change = np.bincount(rows["account"], weights=sign * amount, minlength=n)
        cp = rows["counterparty"] >= 0
        change += np.bincount(rows["counterparty"][cp], weights=amount[cp], minlength=n)
        self.shadow += np.round(change[:n]).astype(np.int64)

    def take_future(self) -> list[Batch]:
        """Rows drawn so far that are dated after their day (handed to the ledger's future)."""
        future, self.future = self.future, []
        return future
