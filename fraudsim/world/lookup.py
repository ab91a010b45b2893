"""What typologies may look up in the world: customers to target, their cards, devices and
accounts, merchants and terminals, plausible times (a mixin of `actions.Channels`)."""

from __future__ import annotations

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
    ) -> np.ndarray:
        """Distinct customers (idx), optionally filtered by age or credit-card holding."""
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
        return rng.choice(pool, size=min(n, len(pool)), replace=False)

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
