"""Seed streams: one root SeedSequence, named and numbered child generators."""

from __future__ import annotations

import zlib

import numpy as np

_SHARD_TAG = 0x5EED_5A4D  # keeps shard entropy apart from any plain seed


def _name_key(name: str) -> int:
    # crc32 is stable across runs and Python versions, unlike hash().
    return zlib.crc32(name.encode("utf-8"))


class SeedStreams:
    """Deterministic random streams derived from one scenario seed.

    A stream is addressed by a name and optional integers (day, ...). The same address always
    yields the same generator, independent of which other streams were used, so adding a
    typology never changes the legit traffic.

    Each shard of the population has its own streams (`shard`); `shared` gives the streams every
    shard sees alike (regions, merchants, episode allocation), and id keys are always shared so
    that ids from different shards come from one space. Shard 0's streams are the shared ones:
    an unsharded run is shard 0.
    """

    def __init__(self, seed: int, shard: int = 0) -> None:
        self.seed = int(seed)
        self.shard = int(shard)

    @property
    def shared(self) -> SeedStreams:
        """The streams common to every shard."""
        return self if self.shard == 0 else SeedStreams(self.seed)

    def sequence(self, name: str, *keys: int) -> np.random.SeedSequence:
        """The SeedSequence at an address."""
        entropy: int | list[int] = self.seed
        if self.shard:
            entropy = [self.seed, _SHARD_TAG, self.shard]
        return np.random.SeedSequence(
            entropy=entropy, spawn_key=(_name_key(name), *(int(k) for k in keys))
        )

    def generator(self, name: str, *keys: int) -> np.random.Generator:
        """A fresh PCG64 generator at an address."""
        return np.random.Generator(np.random.PCG64(self.sequence(name, *keys)))

    def key(self, name: str, *keys: int) -> int:
        """A 64-bit integer key at an address (for id scrambling; the same in every shard)."""
        return int(self.shared.sequence(name, *keys).generate_state(1, dtype=np.uint64)[0])
