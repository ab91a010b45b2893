"""Merchants as agents: each reviews its own day and can switch on step-up authentication."""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa

if TYPE_CHECKING:
    from fraudsim.world import World


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
