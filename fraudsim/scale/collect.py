"""A finished world (one shard) as tables and a summary; simulating one shard in memory."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import polars as pl

from fraudsim.calibration import Profile
from fraudsim.config.scenario import ScenarioConfig
from fraudsim.core.ledger import Batch
from fraudsim.export.days import empty_rows
from fraudsim.world import tables as frames
from fraudsim.world.model import World


def shard_tables(world: World) -> dict[str, pl.DataFrame]:
    """The entity tables of a finished world (one shard), except events and transactions.
    The shared merchants are shard 0's; a later shard lists only the merchants it opened."""
    first = world.population.n_global_merchants if world.shard > 0 else 0
    return {
        "customers": frames.customers_frame(world),
        "accounts": frames.accounts_frame(world),
        "cards": frames.cards_frame(world),
        "merchants": frames.merchants_frame(world, first),
        "episodes": frames.episodes_frame(world),
        "daily_stats": frames.daily_stats_frame(world),
    }


def shard_summary(world: World) -> dict[str, Any]:
    """What the assembly needs to know of a shard besides its files."""
    cards = world.population.cards["kind"]
    return {
        "customers": world.plan.size(world.shard),
        "cards": len(cards),
        "debit_cards": int((cards == 0).sum()),
        "fraud": world.fraud.summary(),
    }


def merge_fraud_summaries(summaries: list[dict[str, Any]]) -> dict[str, Any]:
    """The run's prevalence figures from its shards' (expected and drawn episodes add up)."""
    first = dict(summaries[0])
    if len(summaries) > 1:
        first["expected_episodes"] = [
            round(sum(s["expected_episodes"][i] for s in summaries), 3)
            for i in range(len(first["expected_episodes"]))
        ]
        first["episodes"] = sum(s["episodes"] for s in summaries)
        first["oversampling_factor"] = round(
            sum(s["oversampling_factor"] for s in summaries) / len(summaries), 6
        )
    return first


def simulate_shard(
    config: ScenarioConfig,
    profile: Profile | None,
    shard: int,
    on_day: Callable[[int, int], None] | None,
) -> tuple[dict[str, pl.DataFrame], dict[str, Any], dict[str, float]]:

    started = time.perf_counter()
    world = World(config, profile, shard)
    built = time.perf_counter()
    day_frames: list[pl.DataFrame] = []
    event_frames: list[pl.DataFrame] = []

    def collect(day: int, rows: Batch) -> None:
        day_frames.append(frames.transactions_frame(world, rows))
        event_frames.append(frames.events_frame(world, world.take_events()))

    world.day_callbacks.append(collect)
    if on_day is not None:
        world.day_callbacks.append(lambda day, rows: on_day(day, len(rows["t"])))
    world.run()
    simulated = time.perf_counter()
    tables = shard_tables(world)
    tables["transactions"] = (
        pl.concat(day_frames) if day_frames else frames.transactions_frame(world, empty_rows())
    )
    tables["events"] = pl.concat(event_frames) if event_frames else frames.events_frame(world, [])
    timings = {
        "build_seconds": built - started,
        "simulate_seconds": simulated - built,
        "tables_seconds": time.perf_counter() - simulated,
    }
    return tables, shard_summary(world), timings
