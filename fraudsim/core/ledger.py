"""Ledger: the columnar buffer every transaction passes through, batch by batch."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# Internal columns: positions (idx) rather than public ids, codes rather than strings.
# -1 marks "none" in index and time columns.
COLUMNS: dict[str, type] = {
    "t": np.int64,  # seconds since scenario start
    "customer": np.int32,
    "account": np.int32,
    "card": np.int32,
    "merchant": np.int32,
    "terminal": np.int32,
    "device": np.int32,
    "counterparty": np.int32,  # account idx of the other side of an internal transfer
    "amount": np.int64,  # minor units, always positive
    "channel": np.int8,
    "tx_type": np.int8,
    "direction": np.int8,  # 0 debit of `account`, 1 credit to `account`
    "is_fraud": np.bool_,
    "fraud_type": np.int16,
    "episode": np.int64,
    "role": np.int8,
    "pattern": np.int8,
    "is_declined": np.bool_,
    "decline_reason": np.int8,
    "reported_at": np.int64,
    "txid": np.int64,
}
_DEFAULTS = {
    "card": -1,
    "merchant": -1,
    "terminal": -1,
    "device": -1,
    "counterparty": -1,
    "fraud_type": -1,
    "episode": -1,
    "reported_at": -1,
    "pattern": -1,
}

# Columns of an event row (logins, profile changes), internal codes as in COLUMNS.
EVENT_COLUMNS = (
    "t",
    "customer",
    "account",
    "device",
    "event_type",
    "is_fraud",
    "fraud_type",
    "episode",
    "pattern",
)

Batch = dict[str, np.ndarray]


def make_batch(n: int, **columns: np.ndarray | int) -> Batch:
    """A batch of n rows: given columns cast to their dtype, the rest filled with defaults."""
    unknown = set(columns) - set(COLUMNS)
    if unknown:
        raise KeyError(f"unknown ledger columns: {sorted(unknown)}")
    batch: Batch = {}
    for name, dtype in COLUMNS.items():
        if name in columns:
            value = np.asarray(columns[name])
            batch[name] = (
                np.full(n, value, dtype=dtype)
                if value.ndim == 0
                else value.astype(dtype, copy=False)
            )
        else:
            batch[name] = np.full(n, _DEFAULTS.get(name, 0), dtype=dtype)
    return batch


def concat(batches: list[Batch]) -> Batch:
    """One batch from many (an empty list gives an empty batch)."""
    if not batches:
        return make_batch(0)
    return {name: np.concatenate([b[name] for b in batches]) for name in COLUMNS}


def take(batch: Batch, index: np.ndarray) -> Batch:
    return {name: col[index] for name, col in batch.items()}


def batch_len(batch: Batch) -> int:
    return len(batch["t"])


@dataclass
class Ledger:
    """Rows posted but not yet settled (the open day); settled days go to the exporter."""

    pending: list[Batch] = field(default_factory=list)
    future: list[Batch] = field(default_factory=list)  # rows dated after the open day

    def post(self, batch: Batch) -> None:
        """Add rows to the open day (legit traffic or a typology's transactions)."""
        if batch_len(batch):
            self.pending.append(batch)

    def post_future(self, batches: list[Batch]) -> None:
        """Rows dated after the open day (e.g. returns): they join the day they are dated."""
        self.future.extend(b for b in batches if batch_len(b))

    def take_pending(self, before: int) -> Batch:
        """Remove and return pending rows with time < `before`; later rows stay pending."""
        if self.future:
            # Only the (small) future store is split; today's batches are taken whole.
            future = concat(self.future)
            due = future["t"] < before
            self.future = [take(future, np.flatnonzero(~due))] if (~due).any() else []
            self.pending.append(take(future, np.flatnonzero(due)))
        rows = concat(self.pending)
        later = rows["t"] >= before
        if later.any():
            self.pending = [take(rows, np.flatnonzero(later))]
            return take(rows, np.flatnonzero(~later))
        self.pending = []
        return rows
