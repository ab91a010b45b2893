"""The world as exported tables: its entity tables (customers, accounts, cards, merchants,
episodes, daily statistics) and its rows and events, built by `export` from plain arrays."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
import pyarrow as pa

from fraudsim.core.ledger import Batch
from fraudsim.export import schema
from fraudsim.export.days import FrameContext, events_arrow, frame_from_rows, wall_clock_epoch
from fraudsim.export.strings import string_series

if TYPE_CHECKING:
    from fraudsim.world.model import World


def _enum(codes: np.ndarray, categories: tuple[str, ...] | list[str]) -> pl.Series:
    """Codes 0..k-1 into an Enum series (a gather from the category list: fast)."""
    lookup = pl.Series(list(categories), dtype=pl.Enum(list(categories)))
    return lookup.gather(pl.Series(codes.astype(np.uint32, copy=False)))


def identity_strings(world: World) -> dict[str, pl.Series]:
    """Fake identity strings of every customer, card and account as polars series.

    The initial population's are converted once (the exporter does it on its thread while the
    days run) and cached; those of customers, cards and accounts added during the run are
    appended.
    """
    pop = world.population
    cache = pop.export_cache
    if "identities" not in cache:
        base = {
            **pop.customer_identities,
            **{f"card_{k}": v for k, v in pop.card_details.items()},
            "iban": pop.ibans,
        }
        cache["identities"] = {k: string_series(v, k) for k, v in base.items()}
    series = dict(cache["identities"])
    # Only what was opened during the run is converted here (the frames ask several times).
    key = (len(pop.appended_identities), len(pop.cards["kind"]), len(pop.appended_ibans))
    if cache.get("identities_key") == key:
        return cache["identities_all"]
    added: dict[str, list[np.ndarray]] = {
        name: [a[name] for a in pop.appended_identities] for name in pop.customer_identities
    }
    added["iban"] = list(pop.appended_ibans)
    if len(pop.cards["kind"]) > len(series["card_pan"]):
        cards = pop.all_card_details()
        m = len(series["card_pan"])
        for name in ("pan", "expiry"):
            added[f"card_{name}"] = [cards[name][m:]]
    for name, pieces in added.items():
        if pieces:
            more = string_series(np.concatenate(pieces), name)
            series[name] = pl.concat([series[name], more])
    cache["identities_key"], cache["identities_all"] = key, series
    return series


def _gather_strings(names: list[str] | tuple[str, ...], codes: np.ndarray) -> pl.Series:
    """Codes into a String series of `names` (a gather, not a string per row)."""
    return pl.Series(list(names), dtype=pl.String).gather(codes.astype(np.int64, copy=False))


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
            "age_band": _gather_strings(bands, c["age_band"]),
            "sex": string_series(np.asarray(c["sex"], dtype=str)),
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
            "iban": identity_strings(world)["iban"].alias("iban"),
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


def merchants_frame(world: World, first: int = 0) -> pl.DataFrame:
    """Merchants from index `first` on (a later shard lists only those it opened)."""
    pop = world.population
    m = {key: values[first:] for key, values in pop.merchants.columns.items()}
    online = m["online"]
    return pl.DataFrame(
        {
            "merchant_id": pl.Series(m["id"], dtype=pl.Int64),
            "name": string_series(m["name"]),
            "category": _gather_strings(pop.categories, m["category"]),
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


def frame_context(world: World) -> FrameContext:
    """What turning the world's internal rows into exported tables needs (plain arrays)."""
    pop = world.population
    return FrameContext(
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
        world.streams.key("ids", 8),
    )


def transactions_frame(world: World, rows: Batch) -> pl.DataFrame:
    """One batch of the world's internal rows as the exported transactions table (polars)."""
    return frame_from_rows(rows, frame_context(world))


def events_frame(world: World, batches: list[dict[str, Any]]) -> pl.DataFrame:
    """Honest and fraudulent non-payment events of some days, in time order (polars)."""
    return pl.from_arrow(events_arrow(frame_context(world), batches))  # type: ignore[return-value]
