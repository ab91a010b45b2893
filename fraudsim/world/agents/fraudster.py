"""Fraudsters and rings: Mesa agents whose behaviour runs as typology processes."""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa

if TYPE_CHECKING:
    from fraudsim.world.model import World


class Fraudster(mesa.Agent):
    """A person or bot committing fraud: owns devices, mule accounts, stolen cards."""

    def __init__(self, model: World, typology: str) -> None:
        super().__init__(model)
        self.typology = typology
        self.devices: list[int] = []
        self.mule_accounts: list[int] = []
        self.stolen_cards: list[int] = []
        self.episodes: list[int] = []


class Ring(Fraudster):
    """An organised group: a controller plus members (mules, recruiters)."""

    def __init__(self, model: World, typology: str) -> None:
        super().__init__(model, typology)
        self.members: list[int] = []  # customer idx
