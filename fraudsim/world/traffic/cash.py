"""Honest cash: ATM withdrawals, credit-card cash advances and cash paid in at a branch (a mixin
of `LegitTraffic`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from fraudsim.core.codes import CHANNELS, TX_TYPES
from fraudsim.core.ledger import Batch, make_batch
from fraudsim.world.population import pick_in_ranges

if TYPE_CHECKING:
    from fraudsim.world.traffic.calendar import DayInfo

DAYS_PER_MONTH = 30.44
CH = {name: i for i, name in enumerate(CHANNELS)}
TX = {name: i for i, name in enumerate(TX_TYPES)}


class CashActivity:
    """Cash out of machines and cash into branches."""

    def _cash_advances(self, rng: np.random.Generator, info: DayInfo, base: int) -> Batch:
        """Cash withdrawn on credit cards (cash advances), rarer than on debit cards."""
        rate = self.profile.atm.cash_advances_per_credit_card_month / DAYS_PER_MONTH
        return self._cash(rng, self.credit_cards, rate, base, info.weekday)

    def _atm(self, rng: np.random.Generator, info: DayInfo, base: int) -> Batch:
        atm = self.profile.atm
        rate = atm.withdrawals_per_debit_card_month / DAYS_PER_MONTH
        rate = rate * self.weekday_factor[info.weekday]
        return self._cash(rng, self.debit_cards, rate, base, info.weekday)

    def _cash(
        self, rng: np.random.Generator, cards: np.ndarray, rate: float, base: int, weekday: int
    ) -> Batch:
        """Cash machine withdrawals by `cards` (each at `rate` a day) in the holder's region,
        at cash-machine hours (more on Friday and Saturday evenings)."""
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
            t=self._times(rng, n, base, "atm", weekday),
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
        # Paid in as banknotes: a multiple of the smallest note.
        step = t.cash_deposit_step
        drawn = rng.lognormal(np.log(t.cash_deposit_median), t.cash_deposit_sigma, n)
        amount = np.round(drawn * self.income_factor[payee] / step) * step * self.minor
        return make_batch(
            n,
            t=self._window(rng, n, base, 9, 17),
            customer=payee,
            account=self.cust["checking_idx"][payee],
            amount=np.maximum(amount, step * self.minor),
            channel=CH["branch"],
            tx_type=TX["cash_deposit"],
            direction=1,
        )
