"""The bank: settles each day, blocks cards, and keeps the day's figures."""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa
import numpy as np

from fraudsim.ledger import Batch
from fraudsim.settlement import settle

if TYPE_CHECKING:
    from fraudsim.world import World

NEVER = np.iinfo(np.int64).max


class Bank(mesa.Agent):
    """Holds account balances and card states; declines what cannot or must not go through."""

    def __init__(self, model: World) -> None:
        super().__init__(model)
        pop = model.population
        self.balances = pop.accounts["opening_balance"].copy()
        self.floors = pop.accounts["floor"]
        self.card_blocked_at = np.full(len(pop.cards["customer_idx"]), NEVER, np.int64)
        self.last_day: dict[str, float] = {}

    def block_card(self, card: int, at: int) -> None:
        """Block a card from time `at` (seconds): later rows of that card are declined."""
        self.card_blocked_at[card] = min(int(self.card_blocked_at[card]), int(at))

    def is_blocked(self, card: int, at: int) -> bool:
        return bool(self.card_blocked_at[card] <= at)

    def settle_day(self, rows: Batch) -> Batch:
        """Settle one day's rows of every stream and record the day's figures."""
        rows = settle(rows, self.balances, self.floors, self.card_blocked_at)
        accepted = ~rows["is_declined"]
        checking = self.model.population.customers["checking_idx"]
        self.last_day = {
            "transactions": float(len(rows["t"])),
            "declined": float((~accepted).sum()),
            "fraud_transactions": float(rows["is_fraud"].sum()),
            "volume": float(rows["amount"][accepted].sum()) / self.model.profile.minor_per_major,
            "mean_checking_balance": float(self.balances[checking].mean())
            / self.model.profile.minor_per_major,
            "blocked_cards": float((self.card_blocked_at != NEVER).sum()),
        }
        return rows
