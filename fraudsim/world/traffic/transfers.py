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
