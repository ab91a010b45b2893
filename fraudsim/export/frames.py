"""Frames: turn a simulated world's internal arrays into schema-typed polars tables."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
import pyarrow as pa

from fraudsim.export import schema
from fraudsim.ids import transaction_ids
from fraudsim.ledger import Batch, make_batch

if TYPE_CHECKING:
    from fraudsim.world import World


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
    zone = zoneinfo.ZoneInfo(tz)
    day = np.where(t >= 0, t // 86_400, 0)
    second = np.where(t >= 0, t - day * 86_400, 0)
    days = np.unique(day)
    # Offset in force at each local hour of each day (seconds east of UTC).
    offsets = np.empty((len(days), 24), np.int64)
    naive_midnight = np.empty(len(days), np.int64)
    for i, d in enumerate(days.tolist()):
        date = start + dt.timedelta(days=d)
        naive_midnight[i] = (date - dt.date(1970, 1, 1)).days * 86_400
        for hour in range(24):
            local = dt.datetime.combine(date, dt.time(hour), zone)
            offsets[i, hour] = int(local.utcoffset().total_seconds())  # type: ignore[union-attr]
    pos = np.searchsorted(days, day)
    epoch = naive_midnight[pos] + second - offsets[pos, np.minimum(second // 3600, 23)]
    return np.where(t >= 0, epoch, -1)


def start_epoch(date: dt.date, tz: str) -> int:
    """Unix seconds of local midnight at the scenario start."""
    return int(dt.datetime.combine(date, dt.time(), zoneinfo.ZoneInfo(tz)).timestamp())


def _enum(codes: np.ndarray, categories: tuple[str, ...] | list[str]) -> pl.Series:
    """Codes 0..k-1 into an Enum series (a gather from the category list: fast)."""
    lookup = pl.Series(list(categories), dtype=pl.Enum(list(categories)))
    return lookup.gather(pl.Series(codes.astype(np.uint32, copy=False)))


def _nullable(values: str, index: str) -> pl.Expr:
    """`values` where the internal `index` column is >= 0, else null."""
    return pl.when(pl.col(index) >= 0).then(pl.col(values))


def _local_time(expr: pl.Expr, tz: str) -> pl.Expr:
    """Unix seconds (from `wall_clock_epoch`) as a time-zone-aware timestamp."""
    return (
        (expr * 1_000_000)
        .cast(pl.Datetime("us"))
        .dt.replace_time_zone("UTC")
        .dt.convert_time_zone(tz)
    )


def _names(codes: np.ndarray, names: list[str]) -> pl.Series:
    """Codes into a String series of names; -1 (or no names at all) is null."""
    if not names:
        return pl.repeat(None, len(codes), dtype=pl.String, eager=True)
    lookup = pl.Series(names, dtype=pl.String)
    idx = pl.Series(codes.astype(np.int64))
    return lookup.gather(idx.set(idx < 0, None).cast(pl.UInt32))


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

    @classmethod
    def of(cls, world: World) -> FrameContext:
        pop = world.population
        return cls(
            pop.customers["id"],
            pop.accounts["id"],
            pop.cards["id"],
            pop.merchants["id"],
            pop.terminals["id"],
            pop.devices["id"],
            pop.merchants["category"],
            pop.category_mcc,
            world.config.timezone,
            world.config.start_date,
            world.profile.minor_per_major,
            world.currency,
            list(world.fraud.channels.fraud_type_names),
            list(world.fraud.channels.pattern_names),
            world.streams.key("transaction_ids"),
            world.shard,
        )


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


def transactions_frame(world: World, rows: Batch) -> pl.DataFrame:
    """Schema-typed transactions table from settled internal rows."""
    return frame_from_rows(rows, FrameContext.of(world))


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
    tz, start = ctx.tz, ctx.start
    epoch = wall_clock_epoch(rows["t"], start, tz)
    order = time_order(epoch)
    rows = {name: column[order] for name, column in rows.items()}
    epoch = epoch[order]
    # Ids are given here, after honest and typology rows are merged and put in time order:
    # they encode only the day and the row's rank in it (which the timestamp shows anyway),
    # so even someone holding the seed cannot tell which stream produced a row.
    day = int(rows["t"].min() // 86_400) if len(epoch) else 0
    txid = transaction_ids(ctx.id_key, 0, ctx.shard, day, len(epoch))
    merchant = rows["merchant"]
    raw = pl.DataFrame(
        {
            "transaction_id": txid,
            "t": epoch,
            "reported_t": wall_clock_epoch(rows["reported_at"], start, tz),
            "customer_id": ctx.customer_ids[rows["customer"]],
            "account_id": ctx.account_ids[rows["account"]],
            **{
                f"{name}_raw": public[np.maximum(rows[key], 0)]
                for name, key, public in (
                    ("card_id", "card", ctx.card_ids),
                    ("merchant_id", "merchant", ctx.merchant_ids),
                    ("terminal_id", "terminal", ctx.terminal_ids),
                    ("device_id", "device", ctx.device_ids),
                    ("counterparty_account_id", "counterparty", ctx.account_ids),
                )
            },
            **{
                key: rows[key]
                for key in ("card", "merchant", "terminal", "device", "counterparty", "episode")
            },
            "mcc_raw": ctx.category_mcc[ctx.merchant_category[np.maximum(merchant, 0)]],
            "amount": rows["amount"] / ctx.minor,
            "channel": _enum(rows["channel"], schema.CHANNELS),
            "tx_type": _enum(rows["tx_type"], schema.TX_TYPES),
            "direction": _enum(rows["direction"], schema.DIRECTIONS),
            "is_fraud": rows["is_fraud"],
            "fraud_type": _names(rows["fraud_type"], ctx.fraud_type_names),
            "account_role": _enum(rows["role"], schema.ROLES),
            "pattern": _names(rows["pattern"], ctx.pattern_names),
            "is_declined": rows["is_declined"],
            "decline_reason": _enum(rows["decline_reason"], schema.DECLINE_REASONS),
        }
    )
    exprs = {
        "transaction_id": pl.col("transaction_id"),
        "timestamp": _local_time(pl.col("t"), tz),
        "customer_id": pl.col("customer_id"),
        "account_id": pl.col("account_id"),
        "card_id": _nullable("card_id_raw", "card"),
        "merchant_id": _nullable("merchant_id_raw", "merchant"),
        "terminal_id": _nullable("terminal_id_raw", "terminal"),
        "device_id": _nullable("device_id_raw", "device"),
        "counterparty_account_id": _nullable("counterparty_account_id_raw", "counterparty"),
        "amount": pl.col("amount"),
        "currency": pl.lit(ctx.currency, dtype=pl.String),
        "channel": pl.col("channel"),
        "mcc": _nullable("mcc_raw", "merchant").cast(pl.Int16),
        "tx_type": pl.col("tx_type"),
        "direction": pl.col("direction"),
        "is_fraud": pl.col("is_fraud"),
        "fraud_type": pl.col("fraud_type"),
        "episode_id": _nullable("episode", "episode"),
        "account_role": pl.col("account_role"),
        "pattern": pl.col("pattern"),
        "is_declined": pl.col("is_declined"),
        "decline_reason": pl.col("decline_reason"),
        "reported_at": _local_time(_nullable("reported_t", "reported_t"), tz),
    }
    names = [c.name for c in schema.transaction_columns(tz)]
    return raw.select([exprs[name].alias(name) for name in names])


def identity_strings(world: World) -> dict[str, pl.Series]:
    """Fake identity strings of every customer and card as polars series.

    Turning numpy strings into polars strings is slow, so the initial population's are
    converted once (the exporter does it on its thread while the days run) and cached; those
    of customers and cards added during the run are appended.
    """
    pop = world.population
    cache = pop.export_cache
    if "identities" not in cache:
        base = {**pop.customer_identities, **{f"card_{k}": v for k, v in pop.card_details.items()}}
        cache["identities"] = {k: pl.Series(k, v, dtype=pl.String) for k, v in base.items()}
    series = dict(cache["identities"])
    extra = pop.all_identities()
    n = len(series["first_name"])
    for key in pop.customer_identities:
        if len(extra[key]) > n:
            series[key] = pl.concat([series[key], pl.Series(key, extra[key][n:], pl.String)])
    cards = pop.all_card_details()
    m = len(series["card_pan"])
    for key in ("pan", "expiry"):
        if len(cards[key]) > m:
            series[f"card_{key}"] = pl.concat(
                [series[f"card_{key}"], pl.Series(key, cards[key][m:], pl.String)]
            )
    return series


def customers_frame(world: World) -> pl.DataFrame:
    c = world.population.customers
    ident = identity_strings(world)
    bands = world.profile.population.age_bands
    return pl.DataFrame(
        {
            "customer_id": pl.Series(c["id"], dtype=pl.Int64),
            **{
                name: ident[name].alias(name)
                for name in ("first_name", "last_name", "email", "street_address", "phone")
            },
            "city": ident["city"].alias("city"),
            "region": pl.Series(c["region"], dtype=pl.Int16),
            "home_lat": c["home_lat"],
            "home_lon": c["home_lon"],
            "age": pl.Series(c["age"], dtype=pl.Int16),
            "age_band": pl.Series(np.asarray(bands)[c["age_band"]], dtype=pl.String),
            "sex": pl.Series(c["sex"], dtype=pl.String),
            "annual_income": np.round(c["income"], 2),
            "income_band": _enum(c["income_band"], schema.INCOME_BANDS),
            "segment": _enum(c["segment"], schema.SEGMENTS),
        }
    ).select([col.name for col in schema.CUSTOMER_COLUMNS])


def accounts_frame(world: World) -> pl.DataFrame:
    a = world.population.accounts
    ids = world.population.customers["id"]
    minor = world.profile.minor_per_major
    return pl.DataFrame(
        {
            "account_id": pl.Series(a["id"], dtype=pl.Int64),
            "customer_id": pl.Series(ids[a["customer_idx"]], dtype=pl.Int64),
            "kind": _enum(a["kind"], schema.ACCOUNT_KINDS),
            "iban": pl.Series(world.population.all_ibans(), dtype=pl.String),
            "opening_balance": a["opening_balance"] / minor,
            "closing_balance": world.bank.balances / minor,
            "limit": a["floor"] / minor,
        }
    )


def cards_frame(world: World) -> pl.DataFrame:
    c = world.population.cards
    pop = world.population
    return pl.DataFrame(
        {
            "card_id": pl.Series(c["id"], dtype=pl.Int64),
            "customer_id": pl.Series(pop.customers["id"][c["customer_idx"]], dtype=pl.Int64),
            "account_id": pl.Series(pop.accounts["id"][c["account_idx"]], dtype=pl.Int64),
            "kind": _enum(c["kind"], schema.CARD_KINDS),
            "product": _enum(c["product"], schema.CARD_PRODUCTS),
            "card_number": identity_strings(world)["card_pan"].alias("card_number"),
            "expiry": identity_strings(world)["card_expiry"].alias("expiry"),
        }
    )


def merchants_frame(world: World) -> pl.DataFrame:
    m = world.population.merchants
    pop = world.population
    online = m["online"]
    return pl.DataFrame(
        {
            "merchant_id": pl.Series(m["id"], dtype=pl.Int64),
            "name": pl.Series(m["name"], dtype=pl.String),
            "category": pl.Series(np.asarray(pop.categories)[m["category"]], dtype=pl.String),
            "mcc": pl.Series(pop.category_mcc[m["category"]], dtype=pl.Int16),
            "online": pl.Series(online, dtype=pl.Boolean),
            "region": pl.from_arrow(pa.array(m["region"], type=pa.int16(), mask=online)),
            "lat": pl.from_arrow(pa.array(m["lat"], type=pa.float64(), mask=online)),
            "lon": pl.from_arrow(pa.array(m["lon"], type=pa.float64(), mask=online)),
            "terminals": pl.Series(m["n_terminals"], dtype=pl.Int16),
        }
    )


def daily_stats_frame(world: World) -> pl.DataFrame:
    stats = pl.from_pandas(world.datacollector.get_model_vars_dataframe())
    dates = [world.calendar.day(d).date for d in stats["day"].to_list()]
    return stats.with_columns(
        pl.col("day").cast(pl.Int32),
        pl.Series("date", dates, dtype=pl.Date),
        *(
            pl.col(c).cast(pl.Int64)
            for c in ("transactions", "declined", "fraud_transactions", "blocked_cards")
        ),
    ).select([c.name for c in schema.DAILY_STATS_COLUMNS])


def events_frame(world: World, batches: list[dict[str, Any]]) -> pl.DataFrame:
    """Honest and fraudulent non-payment events of some days, in time order.

    Ids encode only the shard, the day and the rank in the day (as for transactions), so a day's
    events get the same ids whether written a day at a time or all at the end.
    """
    pop = world.population
    tz = world.config.timezone
    cols = (
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
    data = {
        c: np.concatenate(
            [np.asarray(b[c], dtype=np.int64) for b in batches] or [np.zeros(0, np.int64)]
        )
        for c in cols
    }
    order = np.argsort(data["t"], kind="stable")
    data = {c: v[order] for c, v in data.items()}
    event_ids = day_ranked_ids(data["t"], world.streams.key("ids", 8), world.shard)
    raw = pl.DataFrame(
        {
            "event_id": event_ids,
            "t": wall_clock_epoch(data["t"], world.config.start_date, tz),
            "customer_id": pop.customers["id"][data["customer"]],
            "account_raw": pop.accounts["id"][np.maximum(data["account"], 0)],
            "account": data["account"],
            "device_raw": pop.devices["id"][np.maximum(data["device"], 0)],
            "device": data["device"],
            "event_type": _enum(data["event_type"], schema.EVENT_TYPES),
            "is_fraud": data["is_fraud"].astype(bool),
            "fraud_type": _names(data["fraud_type"], world.fraud.channels.fraud_type_names),
            "episode": data["episode"],
            "pattern": _names(data["pattern"], world.fraud.channels.pattern_names),
        }
    )
    return raw.select(
        pl.col("event_id"),
        _local_time(pl.col("t"), tz).alias("timestamp"),
        pl.col("customer_id"),
        _nullable("account_raw", "account").alias("account_id"),
        _nullable("device_raw", "device").alias("device_id"),
        pl.col("event_type"),
        pl.col("is_fraud"),
        pl.col("fraud_type"),
        _nullable("episode", "episode").alias("episode_id"),
        pl.col("pattern"),
    )


def episodes_frame(world: World) -> pl.DataFrame:
    """One row per episode."""
    pop = world.population
    tz = world.config.timezone
    minor = world.profile.minor_per_major
    end_of_run = world.config.days * 86_400
    eps = world.fraud.episodes

    def ids(table: np.ndarray, idx: set[int]) -> list[int]:
        return [int(table[i]) for i in sorted(idx)]

    def ts(values: list[int | None]) -> pl.Series:
        raw = np.array([-1 if v is None else v for v in values], dtype=np.int64)
        epochs = wall_clock_epoch(raw, world.config.start_date, tz)
        micros = [
            None if v is None else int(e) * 1_000_000 for v, e in zip(values, epochs, strict=True)
        ]
        return (
            pl.Series(micros, dtype=pl.Int64)
            .cast(pl.Datetime("us"))
            .dt.replace_time_zone("UTC")
            .dt.convert_time_zone(tz)
        )

    detected = [
        ep.detected_at if ep.detected_at is not None and ep.detected_at <= end_of_run else None
        for ep in eps
    ]
    frame = pl.DataFrame(
        {
            "episode_id": pl.Series([ep.id for ep in eps], dtype=pl.Int64),
            "typology": pl.Series([ep.typology for ep in eps], dtype=pl.String),
            "label": pl.Series([ep.label for ep in eps], dtype=pl.String),
            "is_fraud": pl.Series([ep.is_fraud for ep in eps], dtype=pl.Boolean),
            "pattern": pl.Series([ep.pattern for ep in eps], dtype=pl.String),
            "fraudster_id": pl.Series(
                [
                    (world.shard << 32) + ep.fraudster.unique_id if ep.fraudster else None
                    for ep in eps
                ],
                dtype=pl.Int64,
            ),
            "victim_customer_ids": pl.Series(
                [ids(pop.customers["id"], ep.victims) for ep in eps], dtype=pl.List(pl.Int64)
            ),
            "account_ids": pl.Series(
                [ids(pop.accounts["id"], ep.accounts) for ep in eps], dtype=pl.List(pl.Int64)
            ),
            "card_ids": pl.Series(
                [ids(pop.cards["id"], ep.cards) for ep in eps], dtype=pl.List(pl.Int64)
            ),
            "start": ts([ep.start for ep in eps]),
            "end": ts([ep.end for ep in eps]),
            "rows": pl.Series([ep.rows for ep in eps], dtype=pl.Int64),
            "amount_attempted": pl.Series([ep.attempted / minor for ep in eps], dtype=pl.Float64),
            "amount_stolen": pl.Series([ep.stolen / minor for ep in eps], dtype=pl.Float64),
            "declines": pl.Series([ep.declines for ep in eps], dtype=pl.Int64),
            "interruptions": pl.Series([ep.interruptions for ep in eps], dtype=pl.Int64),
            "adaptations": pl.Series([ep.adaptations for ep in eps], dtype=pl.Int64),
            "detected": pl.Series([d is not None for d in detected], dtype=pl.Boolean),
            "detected_at": ts(detected),
            "detected_by": pl.Series(
                [
                    ep.detected_by if d is not None else None
                    for ep, d in zip(eps, detected, strict=True)
                ],
                dtype=pl.String,
            ),
            "reported_at": ts([ep.report_at for ep in eps]),
            "status": pl.Series([ep.status for ep in eps], dtype=pl.String),
        }
    )
    return frame.select([c.name for c in schema.episode_columns(tz)])
