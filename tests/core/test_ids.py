"""Public ids: keyed bijective scrambling and collision-free transaction ids."""

from __future__ import annotations

import numpy as np
import pytest

from fraudsim.core.ids import scramble, transaction_ids


@pytest.mark.parametrize("bits", [8, 12])
@pytest.mark.parametrize("key", [0, 1, 0xDEADBEEF, 2**64 - 1])
def test_scramble_is_bijection_on_small_width(bits: int, key: int) -> None:
    x = np.arange(2**bits)
    y = scramble(x, key, bits=bits)
    assert y.dtype == np.int64
    assert y.min() >= 0 and y.max() < 2**bits
    assert len(np.unique(y)) == 2**bits


def test_scramble_is_keyed() -> None:
    x = np.arange(2**12)
    a, b = scramble(x, 1, bits=12), scramble(x, 2, bits=12)
    assert not np.array_equal(a, b)
    # Not a mere shift of one another: most positions differ.
    assert (a != b).mean() > 0.9


def test_scramble_is_deterministic_and_not_identity() -> None:
    x = np.arange(1000)
    a = scramble(x, 12345, bits=40)
    np.testing.assert_array_equal(a, scramble(x, 12345, bits=40))
    assert (a != x).mean() > 0.99
    assert a.min() >= 0 and a.max() < 2**40
    # Looks random: consecutive indices are not in order.
    assert not (np.diff(a) > 0).all()


def test_scramble_rejects_bad_widths() -> None:
    for bits in (7, 64):
        with pytest.raises(ValueError, match="bits"):
            scramble(np.arange(3), 1, bits=bits)


def test_transaction_ids_unique_across_streams_days_shards() -> None:
    key = 0x1234_5678_9ABC_DEF0
    chunks = [
        transaction_ids(key, stream, shard, day, 500)
        for stream in (0, 1, 255)
        for shard in (0, 1, 16_383)
        for day in (0, 1, 3659)
    ]
    ids = np.concatenate(chunks)
    assert len(np.unique(ids)) == len(ids)
    assert ids.min() >= 0  # int64, 63 bits: never negative


def test_transaction_ids_deterministic_and_keyed() -> None:
    a = transaction_ids(7, 0, 0, 3, 100)
    np.testing.assert_array_equal(a, transaction_ids(7, 0, 0, 3, 100))
    assert not np.array_equal(a, transaction_ids(8, 0, 0, 3, 100))
    # A prefix of a longer stream-day is the same ids.
    np.testing.assert_array_equal(a, transaction_ids(7, 0, 0, 3, 250)[:100])


def test_transaction_ids_empty_and_limit() -> None:
    assert len(transaction_ids(1, 0, 0, 0, 0)) == 0
    with pytest.raises(ValueError):
        transaction_ids(1, 0, 0, 0, 1 << 24)
