"""Shards: the customer population split into parts of at most a fixed size, simulated
independently.

The population is cut into as few shards as the size allows, of equal size within one
customer: a remainder shard far smaller than the rest would leave workers idle at the end of a
parallel run (314,465 customers in shards of 100,000 used to be three full shards and one of
14,465).

A shard has its own seed streams (`SeedStreams(seed, shard)`), customers, accounts, cards and
honest traffic; merchants and regions come from shared streams, so every shard sees the same
merchants. Typology episodes are spread over shards in proportion to their customers, an exact
episode count by one shared draw. The data depend on scenario, seed and shard size, never on
how many workers run the shards.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from fraudsim.config.scenario import ScenarioConfig
from fraudsim.core.rng import SeedStreams


@dataclass(frozen=True)
class ShardPlan:
    """How a scenario's customers are split into shards."""

    customers: int
    shard_size: int

    @classmethod
    def of(cls, config: ScenarioConfig) -> ShardPlan:
        return cls(config.population.customers, config.population.shard_size)

    @property
    def count(self) -> int:
        return max(1, -(-self.customers // self.shard_size))

    def size(self, shard: int) -> int:
        """Customers of one shard: the population split evenly (the first shards take one
        more customer each when it does not divide)."""
        if not 0 <= shard < self.count:
            raise ValueError(f"shard {shard} out of range 0..{self.count - 1}")
        base, extra = divmod(self.customers, self.count)
        return base + (shard < extra)

    def fraction(self, shard: int) -> float:
        return self.size(shard) / self.customers

    def allocate(self, streams: SeedStreams, name: str, index: int, total: int) -> np.ndarray:
        """Split an exact count over the shards (one shared multinomial draw, so every shard
        computes the same split)."""
        sizes = np.array([self.size(k) for k in range(self.count)], dtype=np.float64)
        rng = streams.shared.generator("shard_allocation", index, zlib.crc32(name.encode("utf-8")))
        return rng.multinomial(int(total), sizes / sizes.sum())
