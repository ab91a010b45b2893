"""Merchants as agents: each reviews its own day and can switch on step-up authentication."""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa

if TYPE_CHECKING:
    from fraudsim.world.model import World


class Merchant(mesa.Agent):
    """A merchant whose daily decline ratio drives a decision: require step-up or not.

    Legit traffic does not consult merchants row by row (it is drawn in arrays); typologies that
    attack a merchant ask `requires_step_up` and see the merchant react to a burst of declines.
    """

    def __init__(self, model: World, merchant_idx: int, step_up_threshold: float = 0.5) -> None:
        super().__init__(model)
        self.merchant_idx = merchant_idx
        self.step_up_threshold = step_up_threshold
        self.requires_step_up = False
        self.days_reviewed = 0

    def review_day(self, attempts: int, declines: int) -> None:
        """Switch step-up on after a day with many declines (a sign of card testing)."""
        self.days_reviewed += 1
        if attempts >= 20 and declines / attempts >= self.step_up_threshold:
            self.requires_step_up = True


class MerchantAgents:
    """Every merchant of a world, made a Mesa agent only when it first has a decision to take.

    A shard sees every merchant of the whole population (126,000 for 3.1 M customers), but only
    merchants under attack ever decide anything; building them all up front took 0.7 s a shard.
    A merchant that is not an agent yet has never seen a burst of declines, so it does not
    require step-up.
    """

    def __init__(self, model: World, count: int) -> None:
        self.model = model
        self.count = count
        self.active: dict[int, Merchant] = {}

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, merchant: int) -> Merchant:
        if not 0 <= merchant < self.count:
            raise IndexError(f"merchant {merchant} out of range 0..{self.count - 1}")
        agent = self.active.get(merchant)
        if agent is None:
            agent = self.active[merchant] = Merchant(self.model, merchant)
        return agent

    def requires_step_up(self, merchant: int) -> bool:
        agent = self.active.get(merchant)
        return agent is not None and agent.requires_step_up

    def add(self) -> int:
        """One more merchant (a storefront opened during the run); returns its index."""
        self.count += 1
        return self.count - 1
