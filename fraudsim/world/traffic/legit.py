"""Legit traffic: one simulated day of honest customers' activity, drawn in arrays.

No per-transaction Python and no SimPy event per transaction: each call draws a whole day for
the whole population (purchases, cash, salaries, bills, rent, transfers) from the legit stream
of that day, so the result never depends on what fraud does.
"""

from __future__ import annotations

import calendar as _calendar
import datetime as dt
import math
from dataclasses import dataclass

import numpy as np

from fraudsim.calibration.profile import Profile, lognormal_mixture_median
from fraudsim.core.codes import CHANNELS, TX_TYPES
from fraudsim.core.ledger import Batch, concat, make_batch
from fraudsim.core.rng import SeedStreams
from fraudsim.core.units import DAY, HOUR
from fraudsim.world.population import Population, group_range_table, pick_in_ranges
from fraudsim.world.traffic.empirical import EmpiricalTraffic

DAYS_PER_MONTH = 30.44
NEW_PHONE_SHARE = 0.7  # share of a customer's online payments made on a new phone (choice)
CH = {name: i for i, name in enumerate(CHANNELS)}
TX = {name: i for i, name in enumerate(TX_TYPES)}


@dataclass(frozen=True)
class DayInfo:
    index: int
    date: dt.date
    weekday: int  # Monday = 0
    day_of_month: int
    days_in_month: int


class Calendar:
    """Maps day indices to dates and settles which scheduled payments fall on a day."""

    def __init__(self, start: dt.date) -> None:
        self.start = start

    def day(self, index: int) -> DayInfo:
        date = self.start + dt.timedelta(days=index)
        return DayInfo(
            index, date, date.weekday(), date.day, _calendar.monthrange(date.year, date.month)[1]
        )

    @staticmethod
    def business_day_map(info: DayInfo) -> np.ndarray:
        """For wanted day-of-month 1..31 (31 = last day): the day it is paid on this month.

        Day numbers past the month's end fall on its last day; Saturdays and Sundays move back
        to the Friday before (or forward to Monday at the start of a month).
        """
        mapping = np.zeros(32, np.int16)
        for wanted in range(1, 32):
            day = min(wanted, info.days_in_month)
            weekday = dt.date(info.date.year, info.date.month, day).weekday()
            if weekday >= 5:
                back = day - (weekday - 4)
                day = back if back >= 1 else day + (7 - weekday)
            mapping[wanted] = day
        return mapping


class LegitTraffic:
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
        self.hour_cdf = np.cumsum(profile.weights("calendar", "hour_weights"))
        weekday = np.asarray(profile.weights("calendar", "weekday_weights"))
        self.weekday_factor = weekday * 7.0
        self.boost_in = 1.0 + cal.payday_boost
        self.boost_out = 1.0 - cal.payday_boost * cal.payday_boost_days / (
            DAYS_PER_MONTH - cal.payday_boost_days
        )
        cats = profile.cards.categories
        n_cat = len(pop.categories)
        shares = np.zeros((2, n_cat))
        shares[0, : len(cats)] = [c.pos_share for c in cats]
        shares[1, : len(cats)] = [c.cnp_share for c in cats]
        shares /= shares.sum(axis=1, keepdims=True)
        self.category_cdf = np.cumsum(shares, axis=1)
        self.mu = self._ticket_mu(shares)
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

    def _times(self, rng: np.random.Generator, n: int, base: int) -> np.ndarray:
        hour = np.searchsorted(self.hour_cdf, rng.random(n) * self.hour_cdf[-1], side="right")
        return base + np.minimum(hour, 23) * HOUR + rng.integers(0, HOUR, n)

    def _window(
        self, rng: np.random.Generator, n: int, base: int, start_h: int, end_h: int
    ) -> np.ndarray:
        return base + rng.integers(start_h * HOUR, end_h * HOUR, n)

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

    def _cash_advances(self, rng: np.random.Generator, info: DayInfo, base: int) -> Batch:
        """Cash withdrawn on credit cards (cash advances), rarer than on debit cards."""
        rate = self.profile.atm.cash_advances_per_credit_card_month / DAYS_PER_MONTH
        return self._cash(rng, self.credit_cards, rate, base)

    def _incoming_transfers(self, rng: np.random.Generator, info: DayInfo, base: int) -> Batch:
        """Transfers from people outside the bank (family, friends, sales): the honest
        counterpart of proceeds arriving in mule accounts."""
        t = self.profile.transfers
        rate = t.incoming_p2p_per_customer_month / DAYS_PER_MONTH
        counts = rng.poisson(rate, len(self.cust["age"]))
        payee = np.repeat(np.arange(len(counts), dtype=np.int32), counts)
        n = len(payee)
        amount = np.maximum(
            np.round(
                rng.lognormal(np.log(t.p2p_amount_median), t.p2p_amount_sigma, n)
                * self.income_factor[payee]
                * self.minor
            ),
            100,
        )
        return make_batch(
            n,
            t=self._times(rng, n, base),
            customer=payee,
            account=self.cust["checking_idx"][payee],
            amount=amount,
            channel=CH["online_banking"],
            tx_type=TX["p2p_transfer"],
            direction=1,
        )

    def _cash_deposits(self, rng: np.random.Generator, info: DayInfo, base: int) -> Batch:
        """Cash paid in at a branch (savings from a jar, the self-employed's takings): the honest
        background of structuring."""
        t = self.profile.transfers
        if info.weekday == 6:
            return make_batch(0)  # branches are shut on Sundays
        counts = rng.poisson(
            t.cash_deposits_per_customer_month / DAYS_PER_MONTH * 7 / 6, len(self.cust["age"])
        )
        payee = np.repeat(np.arange(len(counts), dtype=np.int32), counts)
        n = len(payee)
        amount = (
            np.round(
                rng.lognormal(np.log(t.cash_deposit_median), t.cash_deposit_sigma, n)
                * self.income_factor[payee]
            )
            * self.minor
        )
        return make_batch(
            n,
            t=self._window(rng, n, base, 9, 17),
            customer=payee,
            account=self.cust["checking_idx"][payee],
            amount=np.maximum(amount, self.minor),
            channel=CH["branch"],
            tx_type=TX["cash_deposit"],
            direction=1,
        )

    def _savings_withdrawals(self, rng: np.random.Generator, info: DayInfo, base: int) -> Batch:
        """Savers move money back from savings to checking now and then (online banking)."""
        savers = np.flatnonzero(self.cust["savings_idx"] >= 0).astype(np.int32)
        rate = self.profile.transfers.savings_withdrawals_per_saver_month / DAYS_PER_MONTH
        counts = rng.poisson(rate, len(savers))
        who = np.repeat(savers, counts)
        n = len(who)
        amount = np.maximum(np.round(self.monthly_income[who] * rng.uniform(0.05, 0.5, n)), 100)
        return make_batch(
            n,
            t=self._times(rng, n, base),
            customer=who,
            account=self.cust["savings_idx"][who],
            counterparty=self.cust["checking_idx"][who],
            device=self._device(rng, who),
            amount=amount,
            channel=CH["online_banking"],
            tx_type=TX["savings_transfer"],
            direction=0,
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

    def _atm(self, rng: np.random.Generator, info: DayInfo, base: int) -> Batch:
        atm = self.profile.atm
        rate = atm.withdrawals_per_debit_card_month / DAYS_PER_MONTH
        return self._cash(rng, self.debit_cards, rate * self.weekday_factor[info.weekday], base)

    def _cash(self, rng: np.random.Generator, cards: np.ndarray, rate: float, base: int) -> Batch:
        """Cash machine withdrawals by `cards` (each at `rate` a day) in the holder's region."""
        atm = self.profile.atm
        counts = rng.poisson(rate * self.card_afford[cards])
        card = np.repeat(cards, counts).astype(np.int32)
        n = len(card)
        customer = self.card_customer[card]
        step = atm.amount_step * self.minor
        drawn = rng.lognormal(np.log(atm.amount_median), atm.amount_sigma, n)
        amount = np.maximum(
            np.round(drawn * self.income_factor[customer] * self.minor / step) * step, step
        )
        bounds = self.pos_ranges[self.pop.categories.index("atm"), self.cust["region"][customer]]
        merchant = pick_in_ranges(rng.random(n), bounds[:, 0], bounds[:, 1], self.pop)
        return make_batch(
            n,
            t=self._times(rng, n, base),
            customer=customer,
            account=self.card_account[card],
            card=card,
            merchant=merchant,
            terminal=self.pop.merchants["first_terminal"][merchant],
            amount=amount,
            channel=CH["atm"],
            tx_type=TX["atm_withdrawal"],
            direction=0,
        )

    def _incoming(
        self, rng: np.random.Generator, info: DayInfo, base: int, paid_on: np.ndarray
    ) -> Batch:
        """Salary or pension on each customer's payday, then the standing transfer to savings."""
        cust = self.cust
        payers = np.flatnonzero(paid_on[cust["payday"]] == info.day_of_month).astype(np.int32)
        n = len(payers)
        amount = np.round(self.monthly_income[payers] * rng.normal(1.0, 0.02, n))
        retired = cust["segment"][payers] == 2
        income = make_batch(
            n,
            t=self._window(rng, n, base, 2, 5),
            customer=payers,
            account=cust["checking_idx"][payers],
            amount=np.maximum(amount, 100),
            channel=CH["incoming"],
            tx_type=np.where(retired, TX["pension"], TX["salary"]),
            direction=1,
        )
        savers = payers[cust["savings_idx"][payers] >= 0]
        m = len(savers)
        saving = make_batch(
            m,
            t=self._window(rng, m, base, 9, 12),
            customer=savers,
            account=cust["checking_idx"][savers],
            counterparty=cust["savings_idx"][savers],
            amount=np.maximum(
                np.round(
                    self.monthly_income[savers] * self.profile.transfers.savings_share_of_income
                ),
                100,
            ),
            channel=CH["standing_order"],
            tx_type=TX["savings_transfer"],
            direction=0,
        )
        return concat([income, saving])

    def _bills_and_rent(
        self, rng: np.random.Generator, info: DayInfo, base: int, paid_on: np.ndarray
    ) -> Batch:
        pop, cust = self.pop, self.cust
        due = np.flatnonzero(paid_on[pop.bills["day"]] == info.day_of_month)
        customer = pop.bills["customer_idx"][due]
        n = len(due)
        bills = make_batch(
            n,
            t=self._window(rng, n, base, 6, 9),
            customer=customer,
            account=cust["checking_idx"][customer],
            merchant=pop.bills["merchant_idx"][due],
            amount=pop.bills["amount"][due],
            channel=CH["direct_debit"],
            tx_type=TX["bill_payment"],
            direction=0,
        )
        rent = np.empty(0, np.int32)
        if paid_on[1] == info.day_of_month:
            rent = np.flatnonzero(cust["pays_rent"]).astype(np.int32)
        m = len(rent)
        rents = make_batch(
            m,
            t=self._window(rng, m, base, 6, 9),
            customer=rent,
            account=cust["checking_idx"][rent],
            amount=np.maximum(
                np.round(self.monthly_income[rent] * self.profile.transfers.rent_share_of_income),
                100,
            ),
            channel=CH["standing_order"],
            tx_type=TX["rent"],
            direction=0,
        )
        return concat([bills, rents])

    def _p2p(self, rng: np.random.Generator, info: DayInfo, base: int) -> Batch:
        pop, cust = self.pop, self.cust
        t = self.profile.transfers
        rate = t.p2p_per_customer_month / DAYS_PER_MONTH * self.weekday_factor[info.weekday]
        counts = rng.poisson(rate * self.customer_afford)
        payer = np.repeat(np.arange(len(counts), dtype=np.int32), counts)
        n = len(payer)
        payee = pop.contacts[payer, rng.integers(0, pop.contacts.shape[1], n)]
        # Some people paid are at other banks: the transfer leaves the bank (no counterparty).
        external = rng.random(n) < t.p2p_external_share
        amount = np.maximum(
            np.round(
                rng.lognormal(np.log(t.p2p_amount_median), t.p2p_amount_sigma, n)
                * self.income_factor[payer]
                * self.minor
            ),
            100,
        )
        return make_batch(
            n,
            t=self._times(rng, n, base),
            customer=payer,
            account=cust["checking_idx"][payer],
            device=self._device(rng, payer),
            counterparty=np.where(external, -1, cust["checking_idx"][payee]),
            amount=amount,
            channel=CH["online_banking"],
            tx_type=TX["p2p_transfer"],
            direction=0,
        )

    def _card_repayments(
        self,
        rng: np.random.Generator,
        info: DayInfo,
        base: int,
        balances: np.ndarray,
        paid_on: np.ndarray,
    ) -> Batch:
        # Each card's statement falls due on its own day (moved to a business day).
        cust = self.cust
        due = paid_on[self.repay_day] == info.day_of_month
        holders = np.flatnonzero((cust["credit_idx"] >= 0) & due).astype(np.int32)
        owed = -balances[cust["credit_idx"][holders]]
        holders, owed = holders[owed > 0], owed[owed > 0]
        n = len(holders)
        return make_batch(
            n,
            t=self._window(rng, n, base, 4, 5),
            customer=holders,
            account=cust["checking_idx"][holders],
            counterparty=cust["credit_idx"][holders],
            amount=owed,
            channel=CH["standing_order"],
            tx_type=TX["card_repayment"],
            direction=0,
        )
