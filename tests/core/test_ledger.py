"""The ledger (fraudsim.core.ledger): batches with fixed columns and dtypes, their helpers, and
the open day's pending rows."""

from __future__ import annotations

import numpy as np
import pytest

from fraudsim.core.ledger import COLUMNS, Ledger, batch_len, concat, make_batch, take

NONE = ("card", "merchant", "terminal", "device", "counterparty", "fraud_type", "episode")


def test_make_batch_fills_every_column_with_its_dtype_and_default() -> None:
    batch = make_batch(3)
    assert list(batch) == list(COLUMNS)
    for name, dtype in COLUMNS.items():
        assert batch[name].dtype == dtype and batch[name].shape == (3,), name
    for name in (*NONE, "reported_at", "pattern"):
        assert (batch[name] == -1).all(), name  # -1 marks "none"
    for name in ("t", "customer", "account", "amount", "channel", "direction", "txid"):
        assert (batch[name] == 0).all(), name
    assert not batch["is_fraud"].any() and not batch["is_declined"].any()


def test_make_batch_casts_arrays_and_broadcasts_scalars() -> None:
    batch = make_batch(2, t=[5, 7], amount=np.array([1.0, 2.0]), channel=3, is_fraud=1)
    assert batch["t"].tolist() == [5, 7] and batch["t"].dtype == np.int64
    assert batch["amount"].tolist() == [1, 2] and batch["amount"].dtype == np.int64
    assert batch["channel"].tolist() == [3, 3] and batch["channel"].dtype == np.int8
    assert batch["is_fraud"].tolist() == [True, True]


def test_make_batch_rejects_unknown_columns() -> None:
    with pytest.raises(KeyError, match=r"unknown ledger columns: \['colour', 'size'\]"):
        make_batch(1, size=1, colour=2)


def test_concat_take_and_len() -> None:
    a = make_batch(2, t=[1, 2], amount=[10, 20])
    b = make_batch(1, t=[3], amount=[30], card=4)
    both = concat([a, b])
    assert batch_len(both) == 3
    assert both["amount"].tolist() == [10, 20, 30] and both["card"].tolist() == [-1, -1, 4]
    assert all(both[name].dtype == dtype for name, dtype in COLUMNS.items())
    empty = concat([])
    assert batch_len(empty) == 0 and set(empty) == set(COLUMNS)
    picked = take(both, np.array([2, 0]))
    assert picked["t"].tolist() == [3, 1] and batch_len(picked) == 2


def test_ledger_keeps_later_rows_pending() -> None:
    ledger = Ledger()
    ledger.post(make_batch(0))  # empty batches are not kept
    assert ledger.pending == []
    ledger.post(make_batch(3, t=[5, 50, 500]))
    ledger.post_future([make_batch(2, t=[60, 900]), make_batch(0)])
    assert len(ledger.future) == 1
    first = ledger.take_pending(before=100)
    assert sorted(first["t"].tolist()) == [5, 50, 60]
    second = ledger.take_pending(before=1000)
    assert sorted(second["t"].tolist()) == [500, 900]
    assert ledger.pending == [] and ledger.future == []
