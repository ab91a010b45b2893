"""Days: a settled day's rows (transactions, events) as schema-typed tables.

The exporter's hot path. Tables are built straight from the day's numpy columns as Arrow arrays
(ids gathered, codes as dictionary arrays over the schema's categories, null masks packed into
validity bitmaps) with the Arrow schema polars gives the same table, so Parquet readers and the
in-memory API (polars, via `world.tables.transactions_frame` and `events_frame`) see the same
types.
"""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from fraudsim.core.ids import transaction_ids
from fraudsim.core.ledger import EVENT_COLUMNS, Batch, make_batch
from fraudsim.export import schema


def empty_rows() -> Batch:
    return make_batch(0)


def wall_clock_epoch(t: np.ndarray, start: dt.date, tz: str) -> np.ndarray:
    """Unix seconds of simulation times (seconds since the first local midnight).

    Simulation time counts wall-clock days: second s of day d is the local wall-clock time s
    after midnight of that date, converted with the UTC offset in force at that hour, so hours
    stay on their local day across daylight-saving changes (a wall time that does not exist on
    a spring-forward day lands an hour later, as a clock would show it). -1 stays -1.
    """
    t = np.asarray(t, dtype=np.int64)
    if tz == "UTC" or len(t) == 0:
        return np.where(t >= 0, t + start_epoch(start, tz), -1)
    valid = t >= 0
    if not valid.any():
        return np.full(len(t), -1, np.int64)
    day = np.where(valid, t // 86_400, 0)
    second = np.where(valid, t - day * 86_400, 0)
    first, last = int(day[valid].min()), int(day.max())
    # Offset in force at each local hour of each day of the span (seconds east of UTC); rows
    # are usually one day, so a span beats finding the distinct days.
    offsets = np.empty((last - first + 1, 24), np.int64)
    naive_midnight = np.empty(last - first + 1, np.int64)
    for i, d in enumerate(range(first, last + 1)):
        naive_midnight[i], offsets[i] = _day_offsets(start + dt.timedelta(days=d), tz)
    pos = np.maximum(day - first, 0)
    epoch = naive_midnight[pos] + second - offsets[pos, np.minimum(second // 3600, 23)]
    return np.where(valid, epoch, -1)


@functools.lru_cache(maxsize=4096)
def _day_offsets(date: dt.date, tz: str) -> tuple[int, tuple[int, ...]]:
    """Unix seconds of a date's naive midnight, and the UTC offset in force at each of its
    local hours (seconds east of UTC)."""
    zone = zoneinfo.ZoneInfo(tz)
    offsets = tuple(
        int(dt.datetime.combine(date, dt.time(hour), zone).utcoffset().total_seconds())  # type: ignore[union-attr]
        for hour in range(24)
    )
    return (date - dt.date(1970, 1, 1)).days * 86_400, offsets


@functools.lru_cache(maxsize=65536)
def _hour_offset(hour: int, tz: str) -> int:
    """UTC offset (seconds east) in force during a UTC hour (hours since 1970)."""
    local = dt.datetime.fromtimestamp(hour * 3600, zoneinfo.ZoneInfo(tz))
    return int(local.utcoffset().total_seconds())  # type: ignore[union-attr]


def start_epoch(date: dt.date, tz: str) -> int:
    """Unix seconds of local midnight at the scenario start."""
    return int(dt.datetime.combine(date, dt.time(), zoneinfo.ZoneInfo(tz)).timestamp())


@dataclass
class FrameContext:
    """What turning internal rows into the exported table needs from the world: public ids by
    position, merchant categories, time zone, currency and label names (plain arrays)."""

    customer_ids: np.ndarray
    account_ids: np.ndarray
    card_ids: np.ndarray
    merchant_ids: np.ndarray
    terminal_ids: np.ndarray
    device_ids: np.ndarray
    merchant_category: np.ndarray
    category_mcc: np.ndarray
    tz: str
    start: dt.date
    minor: int
    currency: str
    fraud_type_names: list[str]
    pattern_names: list[str]
    id_key: int
    shard: int = 0
    event_id_key: int = 0


def day_ranked_ids(t: np.ndarray, key: int, shard: int) -> np.ndarray:
    """Ids of time-ordered rows from their day and rank within the day (stream 1 of the
    transaction-id layout)."""
    if len(t) == 0:
        return np.zeros(0, np.int64)
    day = t // 86_400
    rank = np.arange(len(t)) - np.searchsorted(day, day, side="left")
    ids = np.empty(len(t), np.int64)
    for d in np.unique(day).tolist():
        mine = day == d
        ids[mine] = transaction_ids(key, 1, shard, int(d), int(mine.sum()))[rank[mine]]
    return ids


def time_order(epoch: np.ndarray) -> np.ndarray:
    """Stable order by time of one day's rows: a two-pass radix sort (numpy sorts 8- and
    16-bit keys by counting), several times cheaper than a comparison sort."""
    if len(epoch) == 0:
        return np.zeros(0, np.int64)
    offset = epoch - epoch.min()
    if offset.max() >= 1 << 24:  # not one day's rows: fall back to a comparison sort
        return np.argsort(epoch, kind="stable")
    low = np.argsort((offset & 0xFF).astype(np.uint8), kind="stable")
    high = np.argsort((offset[low] >> 8).astype(np.uint16), kind="stable")
    return low[high]


def frame_from_rows(rows: Batch, ctx: FrameContext) -> pl.DataFrame:
    """Schema-typed transactions table from settled internal rows and a FrameContext, in time
    order (rows arrive in posting order; ties keep it)."""
    return pl.from_arrow(arrow_from_rows(rows, ctx).table)  # type: ignore[return-value]


@dataclass
class ArrowDay:
    """One day's transactions as an Arrow table, with the columns the exporter's running
    aggregates need as numpy arrays (so nothing is read back out of the table)."""

    table: pa.Table
    local_seconds: np.ndarray  # wall-clock seconds since 1970 in the run's time zone
    is_fraud: np.ndarray
    tx_type: np.ndarray
    channel: np.ndarray
    amount: np.ndarray


def arrow_from_rows(rows: Batch, ctx: FrameContext) -> ArrowDay:
    """The transactions table built straight from numpy as Arrow arrays.

    Integer, float and boolean columns are handed over as they are, codes become dictionary
    arrays over the schema's categories and nullable columns get a validity mask: several times
    cheaper than building the same table with polars expressions, and this runs on the
    exporter's thread for every day of every shard.
    """
    tz, start = ctx.tz, ctx.start
    epoch = wall_clock_epoch(rows["t"], start, tz)
    order = time_order(epoch)
    rows = {name: column[order] for name, column in rows.items()}
    epoch = epoch[order]
    n = len(epoch)
    # Ids are given here, after honest and typology rows are merged and put in time order:
    # they encode only the day and the row's rank in it (which the timestamp shows anyway),
    # so even someone holding the seed cannot tell which stream produced a row.
    day = int(rows["t"].min() // 86_400) if n else 0
    txid = transaction_ids(ctx.id_key, 0, ctx.shard, day, n)
    merchant = rows["merchant"]
    has_merchant = merchant >= 0
    reported = rows["reported_at"]
    known = reported >= 0  # few rows are ever reported: convert only those
    reported = reported.astype(np.int64, copy=True)
    reported[known] = wall_clock_epoch(reported[known], start, tz)
    amount = rows["amount"] / ctx.minor
    time_type = pa.timestamp("us", tz=tz)

    def ids(key: str, public: np.ndarray) -> pa.Array:
        index = rows[key]
        return _valid_where(public[np.maximum(index, 0)], index >= 0)

    def enum(codes: np.ndarray, categories: tuple[str, ...]) -> pa.Array:
        return pa.DictionaryArray.from_arrays(
            pa.array(codes.astype(np.uint8, copy=False)),
            _categories(categories),
            ordered=True,
        )

    columns = {
        "transaction_id": pa.array(txid),
        "timestamp": pa.array(epoch * 1_000_000).view(time_type),
        "customer_id": pa.array(ctx.customer_ids[rows["customer"]]),
        "account_id": pa.array(ctx.account_ids[rows["account"]]),
        "card_id": ids("card", ctx.card_ids),
        "merchant_id": ids("merchant", ctx.merchant_ids),
        "terminal_id": ids("terminal", ctx.terminal_ids),
        "device_id": ids("device", ctx.device_ids),
        "counterparty_account_id": ids("counterparty", ctx.account_ids),
        "amount": pa.array(amount),
        "currency": _repeated(ctx.currency, n),
        "channel": enum(rows["channel"], schema.CHANNELS),
        "mcc": _valid_where(
            ctx.category_mcc[ctx.merchant_category[np.maximum(merchant, 0)]].astype(np.int16),
            has_merchant,
        ),
        "tx_type": enum(rows["tx_type"], schema.TX_TYPES),
        "direction": enum(rows["direction"], schema.DIRECTIONS),
        "is_fraud": pa.array(rows["is_fraud"]),
        "fraud_type": _named(rows["fraud_type"], ctx.fraud_type_names),
        "episode_id": _valid_where(
            rows["episode"].astype(np.int64, copy=False), rows["episode"] >= 0
        ),
        "account_role": enum(rows["role"], schema.ROLES),
        "pattern": _named(rows["pattern"], ctx.pattern_names),
        "is_declined": pa.array(rows["is_declined"]),
        "decline_reason": enum(rows["decline_reason"], schema.DECLINE_REASONS),
        "reported_at": _valid_where(reported * 1_000_000, reported >= 0).view(time_type),
    }
    table = pa.Table.from_arrays(list(columns.values()), schema=arrow_schema("transactions", tz))
    return ArrowDay(
        table,
        local_wall_clock(epoch, tz),
        rows["is_fraud"],
        rows["tx_type"],
        rows["channel"],
        amount,
    )


def _valid_where(values: np.ndarray, valid: np.ndarray) -> pa.Array:
    """An Arrow array of `values`, null where not `valid`, built from buffers: the validity
    bitmap is `valid` packed to bits (`pa.array(..., mask=)` took ~200x as long)."""
    values = np.ascontiguousarray(values)
    nulls = len(valid) - int(np.count_nonzero(valid))
    if nulls == 0:
        return pa.array(values)
    bitmap = np.packbits(valid, bitorder="little")
    return pa.Array.from_buffers(
        pa.from_numpy_dtype(values.dtype),
        len(values),
        [pa.py_buffer(bitmap), pa.py_buffer(values)],
        null_count=nulls,
    )


@functools.cache
def arrow_schema(table: str, tz: str) -> pa.Schema:
    """The Arrow schema polars gives the transactions or events table (its Enum columns
    included), so tables built straight in Arrow read back with the same types."""
    columns = {"transactions": schema.transaction_columns, "events": schema.event_columns}
    empty = pl.DataFrame(schema={c.name: c.dtype for c in columns[table](tz)})
    return empty.to_arrow().schema


@functools.cache
def _categories(categories: tuple[str, ...]) -> pa.Array:
    return pa.array(categories, type=pa.large_string())


def _repeated(text: str, n: int) -> pa.Array:
    """A large-string column holding one value n times, built from buffers."""
    data = text.encode("utf-8")
    offsets = np.arange(n + 1, dtype=np.int64) * len(data)
    return pa.Array.from_buffers(
        pa.large_string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data * n)]
    )


def _named(codes: np.ndarray, names: list[str]) -> pa.Array:
    """Codes into a large-string column of names; -1 (or no names at all) is null."""
    if not names:
        return pa.nulls(len(codes), pa.large_string())
    indices = _valid_where(codes.astype(np.int32, copy=False), codes >= 0)
    return pa.array(names, type=pa.large_string()).take(indices)


def local_wall_clock(epoch: np.ndarray, tz: str) -> np.ndarray:
    """Unix seconds as wall-clock seconds since 1970 in `tz` (what the timestamp shows).

    Offsets change only on whole UTC hours (every zone's transitions since 1970 do), so one
    offset per UTC hour of the rows' span is exact.
    """
    epoch = np.asarray(epoch, dtype=np.int64)
    if tz == "UTC" or len(epoch) == 0:
        return epoch.copy()
    hour = epoch // 3600
    first = int(hour.min())
    offsets = np.array(
        [_hour_offset(h, tz) for h in range(first, int(hour.max()) + 1)], dtype=np.int64
    )
    return epoch + offsets[hour - first]


def events_arrow(ctx: FrameContext, batches: list[dict[str, Any]]) -> pa.Table:
    """Honest and fraudulent non-payment events of some days, in time order, built straight
    as Arrow arrays (like `arrow_from_rows`).

    Ids encode only the shard, the day and the rank in the day (as for transactions), so a day's
    events get the same ids whether written a day at a time or all at the end.
    """
    tz = ctx.tz
    data = {
        c: np.concatenate(
            [np.asarray(b[c], dtype=np.int64) for b in batches] or [np.zeros(0, np.int64)]
        )
        for c in EVENT_COLUMNS
    }
    order = np.argsort(data["t"], kind="stable")
    data = {c: v[order] for c, v in data.items()}
    event_ids = day_ranked_ids(data["t"], ctx.event_id_key, ctx.shard)
    account, device, episode = data["account"], data["device"], data["episode"]
    epoch = wall_clock_epoch(data["t"], ctx.start, tz)
    columns = [
        pa.array(event_ids),
        pa.array(epoch * 1_000_000).view(pa.timestamp("us", tz=tz)),
        pa.array(ctx.customer_ids[data["customer"]]),
        _valid_where(ctx.account_ids[np.maximum(account, 0)], account >= 0),
        _valid_where(ctx.device_ids[np.maximum(device, 0)], device >= 0),
        pa.DictionaryArray.from_arrays(
            pa.array(data["event_type"].astype(np.uint8)),
            _categories(tuple(schema.EVENT_TYPES)),
            ordered=True,
        ),
        pa.array(data["is_fraud"].astype(bool)),
        _named(data["fraud_type"], ctx.fraud_type_names),
        _valid_where(episode, episode >= 0),
        _named(data["pattern"], ctx.pattern_names),
    ]
    return pa.Table.from_arrays(columns, schema=arrow_schema("events", tz))
