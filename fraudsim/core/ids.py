"""Public identifiers: keyed bijective scrambling of internal indices.

Every entity (customer, account, card, merchant, transaction) gets an id that looks random and
is drawn from one space and format for everyone, so an id never reveals whether the entity is a
fraudster, a mule or a victim, nor when it was created.
"""

from __future__ import annotations

import numpy as np

_MUL1 = np.uint64(0xBF58476D1CE4E5B9)
_MUL2 = np.uint64(0x94D049BB133111EB)


def scramble(index: np.ndarray, key: int, bits: int = 40) -> np.ndarray:
    """Map distinct indices in [0, 2**bits) to distinct ids in [0, 2**bits), keyed.

    Each step (add key, odd multiply, xorshift) is a bijection modulo 2**bits, so the result is
    collision-free by construction.
    """
    if not 8 <= bits <= 63:
        raise ValueError(f"bits must be in 8..63, got {bits}")
    mask = np.uint64((1 << bits) - 1)
    shift = np.uint64(bits // 2 + 1)
    x = np.asarray(index, dtype=np.uint64)
    with np.errstate(over="ignore"):
        x = (x + np.uint64(key)) & mask
        x = (x * _MUL1) & mask
        x ^= x >> shift
        x = (x * _MUL2) & mask
        x ^= x >> shift
        x = (x * _MUL1) & mask
    return x.astype(np.int64)


# Entity ids (customers, accounts, cards, devices, ...) scramble `shard << SHARD_SHIFT | index`
# over 40 bits: up to 67 M entities of a kind per shard and 16,384 shards.
SHARD_SHIFT = 26


def entity_ids(index: np.ndarray, key: int, shard: int = 0) -> np.ndarray:
    """Public ids of entities `index` of one shard (unique across shards)."""
    index = np.asarray(index, dtype=np.uint64)
    if shard:
        index = index + np.uint64(int(shard) << SHARD_SHIFT)
    return scramble(index, key, bits=40)


# Transaction id layout before scrambling: stream(8) | shard(14) | day(17) | sequence(24) bits.
_SEQ_BITS, _DAY_BITS, _SHARD_BITS = 24, 17, 14


def transaction_ids(key: int, stream: int, shard: int, day: int, count: int) -> np.ndarray:
    """Ids for `count` transactions of one stream, shard and day; unique across all of them."""
    if count >= 1 << _SEQ_BITS:
        raise ValueError(f"more than {1 << _SEQ_BITS} transactions in one stream-day")
    base = (
        (stream << (_SHARD_BITS + _DAY_BITS + _SEQ_BITS))
        | (shard << (_DAY_BITS + _SEQ_BITS))
        | (day << _SEQ_BITS)
    )
    return scramble(np.arange(count, dtype=np.uint64) + np.uint64(base), key, bits=63)
