"""Seed streams: one root SeedSequence, named and numbered child generators."""

from __future__ import annotations

import zlib

import numpy as np


def _name_key(name: str) -> int:
    # crc32 is stable across runs and Python versions, unlike hash().
    return zlib.crc32(name.encode("utf-8"))


class SeedStreams:
    """Deterministic random streams derived from one scenario seed.

    A stream is addressed by a name and optional integers (shard, day, ...). The same address
    always yields the same generator, independent of which other streams were used, so adding a
    typology never changes the legit traffic.
    """

    def __init__(self, seed: int) -> None:
        self.seed = int(seed)

    def sequence(self, name: str, *keys: int) -> np.random.SeedSequence:
        """The SeedSequence at an address."""
        return np.random.SeedSequence(
            entropy=self.seed, spawn_key=(_name_key(name), *(int(k) for k in keys))
        )

    def generator(self, name: str, *keys: int) -> np.random.Generator:
        """A fresh PCG64 generator at an address."""
        return np.random.Generator(np.random.PCG64(self.sequence(name, *keys)))

    def key(self, name: str, *keys: int) -> int:
        """A 64-bit integer key at an address (for id scrambling)."""
        return int(self.sequence(name, *keys).generate_state(1, dtype=np.uint64)[0])
