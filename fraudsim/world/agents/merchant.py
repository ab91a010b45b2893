"""Merchants as agents: each reviews its own day and can switch on step-up authentication;
their acquirers' strong-authentication set-up (TRA tier, one-leg-out, recurring billing)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa
import numpy as np

if TYPE_CHECKING:
    from fraudsim.calibration.profile import ScaTargets
    from fraudsim.world.model import World

NEVER = np.iinfo(np.int64).max


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
            if not self.requires_step_up:
                # From now on every online payment here is challenged (honest ones too).
                self.model.merchant_agents.step_up_since[self.merchant_idx] = int(
                    self.model.env.now
                )
            self.requires_step_up = True


def draw_sca_setup(
    rng: np.random.Generator, sca: ScaTargets, size: np.ndarray, online: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each merchant's acquirer TRA ceiling (major units, 0 = none) and whether it is acquired
    outside the EEA (one-leg-out: SCA cannot be applied), drawn once for the world.

    Large merchants' acquirers keep fraud low enough to exempt payments by transaction risk
    analysis (RTS Art. 18); small ones rarely do.
    """
    n = len(size)
    large = size >= np.quantile(size, 1.0 - sca.large_merchant_share) if n else size > 0
    ceilings = np.array([0.0, *sca.tra_ceilings])
    cdf_large = np.cumsum(sca.tra_tier_shares_large)
    cdf_small = np.cumsum(sca.tra_tier_shares_small)
    u = rng.random(n)
    tier = np.where(
        large,
        np.searchsorted(cdf_large / cdf_large[-1], u, side="right"),
        np.searchsorted(cdf_small / cdf_small[-1], u, side="right"),
    )
    tra = ceilings[np.minimum(tier, len(ceilings) - 1)]
    one_leg_out = online & (rng.random(n) < sca.one_leg_out_share)
    return tra, one_leg_out


class MerchantAgents:
    """Every merchant of a world, made a Mesa agent only when it first has a decision to take.

    A shard sees every merchant of the whole population (126,000 for 3.1 M customers), but only
    merchants under attack ever decide anything; building them all up front took 0.7 s a shard.
    A merchant that is not an agent yet has never seen a burst of declines, so it does not
    require step-up. The acquirer set-up of every merchant is kept in arrays (the bank reads it
    for whole days of honest payments at once).
    """

    def __init__(self, model: World, count: int) -> None:
        self.model = model
        self.count = count
        self.active: dict[int, Merchant] = {}
        pop, sca = model.population, model.profile.sca
        m = pop.merchants
        # The same draw in every shard (merchants are shared): the shared stream.
        rng = model.streams.shared.generator("merchant_sca")
        tra, olo = draw_sca_setup(rng, sca, m["size"][:count], m["online"][:count].astype(bool))
        minor = model.profile.minor_per_major
        self.tra_ceiling = np.round(tra * minor).astype(np.int64)  # minor units
        self.one_leg_out = olo
        recurring = [pop.categories.index(c) for c in sca.mit_categories if c in pop.categories]
        self.recurring_category = np.zeros(len(pop.categories), bool)
        self.recurring_category[recurring] = True
        # Per merchant, when it started challenging every online payment (NEVER if not).
        self.step_up_since = np.full(count, NEVER, np.int64)

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
        """One more merchant (a storefront opened during the run); returns its index. A new
        shop's acquirer has no fraud history to qualify for TRA."""
        self.count += 1
        self.tra_ceiling = np.append(self.tra_ceiling, np.int64(0))
        self.one_leg_out = np.append(self.one_leg_out, False)
        self.step_up_since = np.append(self.step_up_since, NEVER)
        return self.count - 1
