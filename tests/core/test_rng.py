"""Seed streams: addressed, reproducible and independent of each other."""

from __future__ import annotations

import numpy as np

from fraudsim.core.rng import SeedStreams


def _draws(streams: SeedStreams, name: str, *keys: int) -> np.ndarray:
    return streams.generator(name, *keys).random(64)


def test_same_address_same_draws() -> None:
    a, b = SeedStreams(42), SeedStreams(42)
    np.testing.assert_array_equal(_draws(a, "legit", 0, 3), _draws(b, "legit", 0, 3))
    # Asking twice on the same object restarts the stream.
    np.testing.assert_array_equal(_draws(a, "legit", 0, 3), _draws(a, "legit", 0, 3))


def test_different_seed_different_draws() -> None:
    assert not np.array_equal(_draws(SeedStreams(1), "x"), _draws(SeedStreams(2), "x"))


def test_different_names_different_draws() -> None:
    s = SeedStreams(42)
    assert not np.array_equal(_draws(s, "legit"), _draws(s, "population"))


def test_different_keys_different_draws() -> None:
    s = SeedStreams(42)
    seen = {
        _draws(s, "legit", *keys).tobytes()
        for keys in [(), (0,), (1,), (0, 0), (0, 1), (1, 0), (0, 0, 0)]
    }
    assert len(seen) == 7


def test_stream_independent_of_other_streams_used() -> None:
    """Drawing from other streams first does not change a stream's draws."""
    fresh = _draws(SeedStreams(9), "legit", 0, 5)
    busy = SeedStreams(9)
    for name in ("population", "identities", "fraud", "mesa"):
        busy.generator(name).random(10_000)
    for day in range(5):
        busy.generator("legit", 0, day).random(1_000)
    busy.key("ids", 1)
    np.testing.assert_array_equal(_draws(busy, "legit", 0, 5), fresh)


def test_key_is_stable_64_bit_and_addressed() -> None:
    s = SeedStreams(123)
    k = s.key("ids", 1)
    assert isinstance(k, int) and 0 <= k < 2**64
    assert k == SeedStreams(123).key("ids", 1)
    assert k != s.key("ids", 2)
    assert k != SeedStreams(124).key("ids", 1)


def test_large_seed_accepted() -> None:
    s = SeedStreams(2**63 - 1)
    assert len(_draws(s, "legit")) == 64
