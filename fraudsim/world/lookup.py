"""What typologies may look up in the world: customers to target, their cards, devices and
accounts, merchants and terminals, plausible times (a mixin of `actions.Channels`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from fraudsim.core.units import DAY, HOUR

if TYPE_CHECKING:
    import simpy

    from fraudsim.world.model import World
    from fraudsim.world.population import Population


class WorldQueries:
    """Read-only questions a fraudster can answer about the world."""

    world: World
    pop: Population
    env: simpy.Environment

    def sample_customers(
        self,
        rng: np.random.Generator,
        n: int,
        max_age: int | None = None,
        min_age: int | None = None,
        with_credit_card: bool = False,
        ages: Mapping[tuple[int, int], float] | None = None,
    ) -> np.ndarray:
        """Distinct customers (idx), optionally filtered by age or credit-card holding.

        `ages` skews the draw by age as published figures say fraud does (mule recruits are
        young, investment-scam victims older): {(youngest, oldest): share of the draw}, each
        bracket's people drawn alike; brackets nobody falls in pass their share to the rest.
        """
        c = self.pop.customers
        mask = np.ones(len(c["age"]), bool)
        mask[self.world.n_initial_customers :] = False  # honest customers only
        if max_age is not None:
            mask &= c["age"] <= max_age
        if min_age is not None:
            mask &= c["age"] >= min_age
        if with_credit_card:
            mask &= c["credit_idx"] >= 0
        pool = np.flatnonzero(mask)
        if len(pool) == 0:
            pool = np.arange(self.world.n_initial_customers)
        weight = np.zeros(len(pool))
        if ages:
            age = c["age"][pool]
            for (lo, hi), share in ages.items():
                inside = (age >= lo) & (age <= hi)
                if share > 0 and inside.any():
                    weight[inside] += share / inside.sum()
        if weight.sum() <= 0:
            return rng.choice(pool, size=min(n, len(pool)), replace=False)
        size = min(n, int((weight > 0).sum()))
        return rng.choice(pool, size=size, replace=False, p=weight / weight.sum())

    def cards_of(self, customer: int) -> np.ndarray:
        return np.flatnonzero(self.pop.cards["customer_idx"] == customer)

    def checking(self, customer: int) -> int:
        return int(self.pop.customers["checking_idx"][customer])

    def merchants(
        self,
        rng: np.random.Generator,
        n: int,
        online: bool | None = None,
        category: str | None = None,
        region: int | None = None,
    ) -> np.ndarray:
        """Merchants (idx) drawn by size, filtered by channel, category and region."""
        m = self.pop.merchants
        mask = ~np.isin(
            m["category"],
            [self.pop.categories.index(c) for c in ("atm", "utilities", "telecom", "insurance")],
        )
        if online is not None:
            mask &= m["online"] == online
        if category is not None:
            mask &= m["category"] == self.pop.categories.index(category)
        if region is not None:
            mask &= m["region"] == region
        pool = np.flatnonzero(mask)
        if len(pool) == 0:
            raise ValueError(f"no merchant matches online={online}, category={category}")
        weights = m["size"][pool]
        return rng.choice(pool, size=n, p=weights / weights.sum())

    def online_shops(self, categories: Sequence[str]) -> dict[str, np.ndarray]:
        """The world's online shops in `categories` (names the world lacks are skipped) and
        what a fraud ring learns of each, as carding forums trade "non-VBV" shop lists:
        `merchant` (idx), `category` (position in `categories`), `size` (traffic weight, as
        `merchants` draws by), `ticket` (its usual online ticket, major units), `no_sca`
        (acquired outside the EEA: never asks for strong authentication) and `tra_ceiling`
        (minor units: the largest payment its acquirer asks to exempt by risk analysis, 0 if
        none). Shops opened during the run (storefronts) are left out."""
        pop, m = self.pop, self.pop.merchants
        position = np.full(len(pop.categories), -1, np.int64)  # category code -> position
        for i, name in enumerate(categories):
            if name in pop.categories:
                position[pop.categories.index(name)] = i
        n = min(pop.n_global_merchants, len(m["category"]))
        cat = m["category"][:n].astype(np.int64)
        pool = np.flatnonzero(m["online"][:n] & (position[cat] >= 0))
        agents = self.world.merchant_agents
        return {
            "merchant": pool,
            "category": position[cat[pool]],
            "size": m["size"][pool].astype(np.float64),
            "ticket": np.exp(self.world.traffic.mu[1, cat[pool]]),
            "no_sca": agents.one_leg_out[pool].astype(bool),
            "tra_ceiling": agents.tra_ceiling[pool].astype(np.int64),
        }

    def shop_price(self, rng: np.random.Generator, merchant: int, amount: float) -> int:
        """`amount` (major units) as the shop charges it, in minor units: at shops selling
        single shelf-priced goods most tickets end in .99, .50, .00 ..., as honest customers'
        tickets there do (the honest traffic's own price points)."""
        category = np.array([self.pop.merchants["category"][merchant]], np.int64)
        minor = np.array([round(amount * self.world.profile.minor_per_major)], np.int64)
        return int(self.world.traffic.price_points(rng, minor, category)[0])

    def terminal_of(self, rng: np.random.Generator, merchant: int) -> int:
        m = self.pop.merchants
        n = max(int(m["n_terminals"][merchant]), 1)
        return int(m["first_terminal"][merchant] + rng.integers(0, n))

    def device_of(self, customer: int) -> int:
        """The customer's own first device (phone)."""
        return int(self.pop.customers["first_device"][customer])

    def own_device(self, rng: np.random.Generator, customer: int) -> int:
        """One of the customer's own devices, drawn as honest traffic draws it."""
        c = self.pop.customers
        first, n = int(c["first_device"][customer]), max(int(c["n_devices"][customer]), 1)
        return int(first + rng.integers(0, n))

    def daytime(self, rng: np.random.Generator, t: int) -> int:
        """A time on the day of `t` (or the next) at an hour honest customers are active."""
        weights = np.asarray(self.world.profile.weights("calendar", "hour_weights"))
        hour = int(rng.choice(24, p=weights))
        out = t - t % DAY + hour * HOUR + int(rng.integers(0, HOUR))
        return out if out > t else out + DAY

    def watch_merchant(self, merchant: int) -> None:
        """Record, from now on, every card that pays at this merchant (a skimmer, a breach)."""
        self.world.watched_merchants.setdefault(merchant, [])

    def cards_seen_at(self, merchant: int) -> list[tuple[int, int]]:
        """(card idx, time) of honest card payments at a watched merchant so far (settled days)."""
        return list(self.world.watched_merchants.get(merchant, []))
