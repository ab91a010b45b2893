"""Honest account-to-account money: income, standing orders, bills, rent, person-to-person
transfers, savings moves and card repayments (a mixin of `LegitTraffic`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from fraudsim.core.codes import CHANNELS, TX_TYPES
from fraudsim.core.ledger import Batch, concat, make_batch

if TYPE_CHECKING:
    from fraudsim.world.traffic.calendar import DayInfo

DAYS_PER_MONTH = 30.44
CH = {name: i for i, name in enumerate(CHANNELS)}
TX = {name: i for i, name in enumerate(TX_TYPES)}


class Transfers:
    """Income in, bills and rent out, transfers between people and accounts."""

    def _incoming_transfers(self, rng: np.random.Generator, info: DayInfo, base: int) -> Batch:
        """Transfers from people outside the bank (family, friends, sales): the honest
        counterpart of proceeds arriving in mule accounts."""
        t = self.profile.transfers
        rate = t.incoming_p2p_per_customer_month / DAYS_PER_MONTH
        counts = rng.poisson(rate, len(self.cust["age"]))
        payee = np.repeat(np.arange(len(counts), dtype=np.int32), counts)
        n = len(payee)
        drawn = rng.lognormal(np.log(t.p2p_amount_median), t.p2p_amount_sigma, n)
        amount = self.typed_amounts(rng, drawn * self.income_factor[payee] * self.minor)
        return make_batch(
            n,
            t=self._times(rng, n, base, "online_banking"),
            customer=payee,
            account=self.cust["checking_idx"][payee],
            amount=amount,
            channel=CH["online_banking"],
            tx_type=TX["p2p_transfer"],
            direction=1,
        )

    def _savings_withdrawals(self, rng: np.random.Generator, info: DayInfo, base: int) -> Batch:
        """Savers move money back from savings to checking now and then (online banking)."""
        savers = np.flatnonzero(self.cust["savings_idx"] >= 0).astype(np.int32)
        rate = self.profile.transfers.savings_withdrawals_per_saver_month / DAYS_PER_MONTH
        counts = rng.poisson(rate, len(savers))
        who = np.repeat(savers, counts)
        n = len(who)
        share = rng.uniform(0.05, 0.5, n)
        amount = self.typed_amounts(rng, self.monthly_income[who] * share)
        return make_batch(
            n,
            t=self._times(rng, n, base, "online_banking"),
            customer=who,
            account=self.cust["savings_idx"][who],
            counterparty=self.cust["checking_idx"][who],
            device=self._device(rng, who),
            amount=amount,
            channel=CH["online_banking"],
            tx_type=TX["savings_transfer"],
            direction=0,
        )

    def _incoming(
        self, rng: np.random.Generator, info: DayInfo, base: int, paid_on: np.ndarray
    ) -> Batch:
        """Salary or pension on each customer's payday, then the standing transfer to savings.

        Net pay is the same every month for most people; those with variable pay (hours,
        overtime, commission) get a new amount each month around their usual one."""
        cust = self.cust
        payers = np.flatnonzero(paid_on[cust["payday"]] == info.day_of_month).astype(np.int32)
        n = len(payers)
        sigma = self.profile.transfers.salary_variable_sigma
        varies = rng.normal(-sigma * sigma / 2, sigma, n)
        factor = np.where(self.variable_pay[payers], np.exp(varies), 1.0)
        amount = np.round(self.monthly_income[payers] * factor)
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
        drawn = rng.lognormal(np.log(t.p2p_amount_median), t.p2p_amount_sigma, n)
        amount = self.typed_amounts(rng, drawn * self.income_factor[payer] * self.minor)
        return make_batch(
            n,
            t=self._times(rng, n, base, "online_banking"),
            customer=payer,
            account=cust["checking_idx"][payer],
            device=self._device(rng, payer),
            counterparty=np.where(external, -1, cust["checking_idx"][payee]),
            amount=amount,
            channel=CH["online_banking"],
            tx_type=TX["p2p_transfer"],
            direction=0,
        )

    def typed_amounts(
        self, rng: np.random.Generator, amount: np.ndarray, down: bool = False
    ) -> np.ndarray:
        """Transfer amounts (minor units) as people type them, at least one unit: a round
        figure (gifts, pocket money, loans: 20, 50, 250), whole units, or the exact sum with
        cents (a bill split, a repayment). Anyone typing a transfer does so, fraudsters too;
        `down` rounds below the sum meant (never more than a drain can send)."""
        t = self.profile.transfers
        amount = np.asarray(amount, np.float64) / self.minor
        steps = np.asarray(t.p2p_round_steps)
        # The largest step not above a quarter of the amount: 23 -> 25, 130 -> 140, 480 -> 500.
        step = steps[np.maximum(np.searchsorted(steps, amount / 4, side="right") - 1, 0)]
        if down:
            whole = np.floor(amount)
            rounded = np.floor(amount / step) * step
            rounded = np.where(rounded > 0, rounded, whole)
        else:
            whole = np.round(amount)
            rounded = np.maximum(np.round(amount / step), 1) * step
        u = rng.random(len(amount))
        typed = np.where(
            u < t.p2p_round_share,
            rounded,
            np.where(u < t.p2p_round_share + t.p2p_whole_share, whole, amount),
        )
        return np.maximum(np.round(typed * self.minor), self.minor).astype(np.int64)

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
