"""Dataset: the tables of one simulated run, as polars frames, plus what produced them."""

from __future__ import annotations

import hashlib
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from fraudsim.calibration import Profile
from fraudsim.config.scenario import ScenarioConfig, check_size, size_problem
from fraudsim.core.errors import OutputError
from fraudsim.export import days, frames, schema

if TYPE_CHECKING:
    import pandas as pd

    from fraudsim.core.ledger import Batch
    from fraudsim.world.model import World

TABLES = (
    "transactions",
    "customers",
    "accounts",
    "cards",
    "merchants",
    "events",
    "episodes",
    "daily_stats",
)
ProgressCallback = Callable[[int, int, int], None]


@dataclass
class Dataset:
    """A run's tables (polars) with its scenario, profile and timings.

    Tables: transactions, customers, accounts, cards, merchants, events, episodes, daily_stats.
    A dataset produced by `run_to_directory` holds none of them in memory: `dataset.customers`
    (or any table but transactions) is read from the run directory on first use, and
    `dataset.scan_transactions()` scans the transactions lazily.
    """

    config: ScenarioConfig
    profile: Profile
    tables: dict[str, pl.DataFrame]
    timings: dict[str, float] = field(default_factory=dict)
    transaction_rows: int = 0
    fraud_summary: dict[str, object] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)  # rows of tables not held
    path: Path | None = None  # the run directory, for a dataset written to disk
    resumed_shards: list[int] = field(default_factory=list)  # kept from an interrupted run

    @classmethod
    def from_world(
        cls,
        world: World,
        transactions: pl.DataFrame | None,
        events: pl.DataFrame | None = None,
    ) -> Dataset:
        """Tables of a finished world (transactions given, or None when streamed to disk;
        events given, or built from those the world still holds)."""
        tables = shard_tables(world)
        tables["events"] = (
            events if events is not None else days.events_frame(world, world.take_events())
        )
        if transactions is not None:
            tables = {"transactions": transactions, **tables}
        rows = int(tables["daily_stats"]["transactions"].sum())
        return cls(
            world.config,
            world.profile,
            {name: tables[name] for name in TABLES if name in tables},
            transaction_rows=rows,
            fraud_summary=world.fraud.summary(),
        )

    def __getattr__(self, name: str) -> pl.DataFrame:
        tables = self.__dict__.get("tables", {})
        if name in tables:
            return tables[name]
        path = self.__dict__.get("path")
        if path is not None and name in TABLES and name != "transactions":
            fmt = self.config.output.format
            file = Path(path) / f"{name}.{fmt}"
            tables[name] = pl.read_parquet(file) if fmt == "parquet" else pl.read_csv(file)
            return tables[name]
        raise AttributeError(name)

    def scan_transactions(self) -> pl.LazyFrame:
        """The transactions, lazily (held in memory, or scanned from the run directory)."""
        from fraudsim.export.writer import scan_transactions

        if "transactions" in self.tables:
            return self.tables["transactions"].lazy()
        if self.path is None:
            raise ValueError("this dataset holds no transactions")
        return scan_transactions(Path(self.path), self.config.output.format)

    def to_pandas(self, table: str = "transactions") -> pd.DataFrame:
        """One table as a pandas DataFrame."""
        if table == "transactions" and "transactions" not in self.tables:
            return self.scan_transactions().collect().to_pandas()
        return getattr(self, table).to_pandas()

    def row_counts(self) -> dict[str, int]:
        counts = {name: frame.height for name, frame in self.tables.items()}
        counts.update(self.counts)
        counts["transactions"] = self.transaction_rows
        return {name: counts[name] for name in TABLES if name in counts}

    def card_counts(self) -> tuple[int, int]:
        """Cards and debit cards (for the fidelity checks per card)."""
        if "cards" in self.tables or "cards" not in self.counts:
            cards = self.tables["cards"]
            return cards.height, cards.filter(pl.col("kind") == "debit").height
        return self.counts["cards"], self.counts["debit_cards"]

    def check_schema(self) -> None:
        """Raise if any table differs from the schema (names, order, dtypes, nulls)."""
        for name, columns in schema.tables(self.config.timezone).items():
            if name in self.tables:
                schema.check_frame(name, self.tables[name], columns)

    def write(self, out_dir: str | Path, fmt: str | None = None) -> Path:
        """Write every table, the dataset card and the manifest, atomically, to `out_dir`.

        A dataset of one shard is written with the same bytes as `run_to_directory` writes.
        """
        from fraudsim.export.writer import RunWriter

        if "transactions" not in self.tables:
            raise ValueError("this dataset was streamed to disk; its transactions are not held")
        fmt = fmt or self.config.output.format
        with RunWriter(Path(out_dir), fmt, start=self.config.start_date) as writer:
            shard = writer.shard_writer(0)
            shard.add_frame(self.tables["transactions"], self.tables["events"])
            record = shard.finish(
                self.tables,
                {"customers": self.config.population.customers},
                {
                    "transactions": self.tables["transactions"].head(0),
                    "events": self.tables["events"].head(0),
                },
            )
            return writer.finish(self, [record])


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


def _simulate_shard(
    config: ScenarioConfig,
    profile: Profile | None,
    shard: int,
    on_day: Callable[[int, int], None] | None,
) -> tuple[dict[str, pl.DataFrame], dict[str, Any], dict[str, float]]:
    from fraudsim.world.model import World

    started = time.perf_counter()
    world = World(config, profile, shard)
    built = time.perf_counter()
    day_frames: list[pl.DataFrame] = []
    event_frames: list[pl.DataFrame] = []

    def collect(day: int, rows: Batch) -> None:
        day_frames.append(days.transactions_frame(world, rows))
        event_frames.append(days.events_frame(world, world.take_events()))

    world.day_callbacks.append(collect)
    if on_day is not None:
        world.day_callbacks.append(lambda day, rows: on_day(day, len(rows["t"])))
    world.run()
    simulated = time.perf_counter()
    tables = shard_tables(world)
    tables["transactions"] = (
        pl.concat(day_frames) if day_frames else days.transactions_frame(world, days.empty_rows())
    )
    tables["events"] = pl.concat(event_frames) if event_frames else days.events_frame(world, [])
    timings = {
        "build_seconds": built - started,
        "simulate_seconds": simulated - built,
        "tables_seconds": time.perf_counter() - simulated,
    }
    return tables, shard_summary(world), timings


def simulate(
    config: ScenarioConfig, profile: Profile | None = None, progress: ProgressCallback | None = None
) -> Dataset:
    """Simulate a scenario and return its Dataset in memory (nothing is written).

    Args:
        config: the scenario (see `load_scenario`).
        profile: calibration targets; defaults to the scenario's `profile`.
        progress: called after each simulated day of each shard with (shard-days done so far
            minus one, shard-days in all, rows that day).
    """
    from fraudsim.calibration import load_profile
    from fraudsim.export.writer import merge_daily_stats
    from fraudsim.scale.shards import ShardPlan

    check_size(config)  # also for configs built without validate_scenario
    profile = profile if profile is not None else load_profile(config.profile)
    plan = ShardPlan.of(config)
    total = plan.count * config.days
    done = [0]

    def on_day(day: int, rows: int) -> None:
        if progress is not None:
            progress(done[0], total, rows)
        done[0] += 1

    parts = [_simulate_shard(config, profile, k, on_day) for k in range(plan.count)]
    timings = {k: sum(p[2][k] for p in parts) for k in parts[0][2]}
    summaries = [p[1] for p in parts]
    if len(parts) == 1:
        tables = parts[0][0]
    else:
        tables = {}
        for name in TABLES:
            pieces = [p[0][name] for p in parts]
            if name == "daily_stats":
                tables[name] = merge_daily_stats(pieces, [s["customers"] for s in summaries])
            else:
                tables[name] = pl.concat(pieces)
    return Dataset(
        config,
        profile,
        {name: tables[name] for name in TABLES},
        timings=timings,
        transaction_rows=tables["transactions"].height,
        fraud_summary=merge_fraud_summaries([s["fraud"] for s in summaries]),
    )


def run_to_directory(
    config: ScenarioConfig,
    out_dir: str | Path,
    fmt: str | None = None,
    profile: Profile | None = None,
    progress: ProgressCallback | None = None,
    workers: int = 1,
    scheduler: str | None = None,
    resume: bool = False,
) -> Dataset:
    """Simulate and stream the dataset to `out_dir` (atomically); memory stays bounded.

    The population is simulated shard by shard (`population.shard_size` customers each), on
    `workers` processes of a local Dask cluster or on the Dask cluster at `scheduler`
    (one worker: in this process, without Dask). The data never depend on the number of
    workers. Transactions are converted and written by a background thread while later days
    are simulated. With `resume`, shards an interrupted run completed (files verified by
    checksum) are kept. Returns the Dataset, whose tables are read back from disk on use.
    """
    from fraudsim.calibration import load_profile
    from fraudsim.export.manifest import profile_digest_of
    from fraudsim.export.writer import RunWriter, _explain
    from fraudsim.scale.runner import run_shards
    from fraudsim.world.fraud_engine import resolve_typologies

    check_disk_space(config, Path(out_dir))
    # Everything that can be refused is checked before anything is created on disk.
    profile = profile if profile is not None else load_profile(config.profile)
    resolve_typologies(config)
    fmt = fmt or config.output.format
    if fmt != config.output.format:
        config = config.with_overrides(**{"output.format": fmt})
    started = time.perf_counter()
    resume_key = hashlib.sha256(
        (config.model_dump_json() + profile_digest_of(profile)).encode()
    ).hexdigest()
    try:
        with RunWriter(
            Path(out_dir), fmt, start=config.start_date, resume_key=resume_key, resume=resume
        ) as writer:
            records, timings = run_shards(config, profile, writer, workers, scheduler, progress)
            counts = {"debit_cards": sum(r["debit_cards"] for r in records)}
            for name in TABLES[1:]:
                counts[name] = sum(
                    r["events"] if name == "events" else r["rows"][name] for r in records
                )
            counts["daily_stats"] = records[0]["rows"]["daily_stats"]
            dataset = Dataset(
                config,
                profile,
                {},
                timings=timings,
                transaction_rows=sum(r["transactions"] for r in records),
                fraud_summary=merge_fraud_summaries([r["fraud"] for r in records]),
                counts=counts,
                path=Path(out_dir),
            )
            dataset.resumed_shards = list(writer.resumed)
            writer.finish(dataset, records)
    except OutputError:
        raise
    except OSError as exc:  # e.g. disk full while the writer thread wrote a day's rows
        raise _explain(exc, Path(out_dir)) from None
    dataset.timings["total_seconds"] = time.perf_counter() - started
    return dataset


def check_disk_space(config: ScenarioConfig, out_dir: Path) -> None:
    """Refuse up front a run whose estimated size exceeds the free space where it is written."""
    check_size(config)
    existing = Path(out_dir).absolute()
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    try:
        free = shutil.disk_usage(existing).free
    except OSError:
        return  # the writer reports unusable paths itself
    problem = size_problem(config, free, where=f" at {existing}")
    if problem is not None:
        raise OutputError(f"{out_dir}: {problem}; nothing was written")
