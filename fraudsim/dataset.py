"""Dataset: the tables of one simulated run, as polars frames, plus what produced them."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from fraudsim.calibration import Profile
from fraudsim.config import ScenarioConfig, check_size, size_problem
from fraudsim.errors import OutputError
from fraudsim.export import frames, schema

if TYPE_CHECKING:
    import pandas as pd

    from fraudsim.export.writer import RunWriter
    from fraudsim.world import World

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

    Tables: transactions, customers, accounts, cards, merchants, daily_stats. A dataset
    produced by `run_to_directory` streams its transactions to disk and holds the rest.
    """

    config: ScenarioConfig
    profile: Profile
    tables: dict[str, pl.DataFrame]
    timings: dict[str, float] = field(default_factory=dict)
    transaction_rows: int = 0
    fraud_summary: dict[str, object] = field(default_factory=dict)

    @classmethod
    def from_world(cls, world: World, transactions: pl.DataFrame | None) -> Dataset:
        """Tables of a finished world (transactions given, or None when streamed to disk)."""
        builders = {
            "customers": frames.customers_frame,
            "accounts": frames.accounts_frame,
            "cards": frames.cards_frame,
            "merchants": frames.merchants_frame,
            "events": frames.events_frame,
            "episodes": frames.episodes_frame,
            "daily_stats": frames.daily_stats_frame,
        }
        tables = {name: build(world) for name, build in builders.items()}
        if transactions is not None:
            tables = {"transactions": transactions, **tables}
        rows = int(tables["daily_stats"]["transactions"].sum())
        return cls(
            world.config,
            world.profile,
            tables,
            transaction_rows=rows,
            fraud_summary=world.fraud.summary(),
        )

    def __getattr__(self, name: str) -> pl.DataFrame:
        tables = self.__dict__.get("tables", {})
        if name in tables:
            return tables[name]
        raise AttributeError(name)

    def to_pandas(self, table: str = "transactions") -> pd.DataFrame:
        """One table as a pandas DataFrame."""
        return self.tables[table].to_pandas()

    def row_counts(self) -> dict[str, int]:
        counts = {name: frame.height for name, frame in self.tables.items()}
        return {"transactions": self.transaction_rows, **counts}

    def check_schema(self) -> None:
        """Raise if any table differs from the schema (names, order, dtypes, nulls)."""
        for name, columns in schema.tables(self.config.timezone).items():
            if name in self.tables:
                schema.check_frame(name, self.tables[name], columns)

    def write(self, out_dir: str | Path, fmt: str | None = None) -> Path:
        """Write every table, the dataset card and the manifest, atomically, to `out_dir`."""
        from fraudsim.export.writer import RunWriter

        if "transactions" not in self.tables:
            raise ValueError("this dataset was streamed to disk; its transactions are not held")
        with RunWriter(
            Path(out_dir), fmt or self.config.output.format, start=self.config.start_date
        ) as writer:
            writer.add_frame(self.tables["transactions"], self.config.start_date)
            return writer.finish(self)


def _run(
    config: ScenarioConfig,
    profile: Profile | None,
    progress: ProgressCallback | None,
    writer: RunWriter | None,
) -> Dataset:
    from fraudsim.world import World

    check_size(config)  # also for configs built without validate_scenario
    started = time.perf_counter()
    world = World(config, profile)
    built = time.perf_counter()
    day_frames: list[pl.DataFrame] = []
    if writer is None:
        world.day_callbacks.append(
            lambda day, rows: day_frames.append(frames.transactions_frame(world, rows))
        )
    else:
        writer.prepare(world)  # identity strings drawn in the background while the days run
        world.day_callbacks.append(lambda day, rows: writer.add_rows(world, day, rows))
    if progress is not None:
        world.day_callbacks.append(lambda day, rows: progress(day, config.days, len(rows["t"])))
    world.run()
    simulated = time.perf_counter()
    transactions = None
    if writer is None:
        transactions = (
            pl.concat(day_frames)
            if day_frames
            else frames.transactions_frame(world, frames.empty_rows())
        )
    else:
        writer.wait()
    dataset = Dataset.from_world(world, transactions)
    dataset.timings = {
        "build_seconds": built - started,
        "simulate_seconds": simulated - built,
        "tables_seconds": time.perf_counter() - simulated,
    }
    return dataset


def simulate(
    config: ScenarioConfig, profile: Profile | None = None, progress: ProgressCallback | None = None
) -> Dataset:
    """Simulate a scenario and return its Dataset in memory (nothing is written).

    Args:
        config: the scenario (see `load_scenario`).
        profile: calibration targets; defaults to the scenario's `profile`.
        progress: called after each simulated day with (day, days, rows that day).
    """
    return _run(config, profile, progress, None)


def run_to_directory(
    config: ScenarioConfig,
    out_dir: str | Path,
    fmt: str | None = None,
    profile: Profile | None = None,
    progress: ProgressCallback | None = None,
) -> Dataset:
    """Simulate and stream the dataset to `out_dir` (atomically); memory stays bounded.

    Transactions are converted and written by a background thread while later days are
    simulated. Returns the Dataset without its transactions table.
    """
    from fraudsim.calibration import load_profile
    from fraudsim.export.writer import RunWriter, _explain
    from fraudsim.fraud import resolve_typologies

    check_disk_space(config, Path(out_dir))
    # Everything that can be refused is checked before anything is created on disk.
    profile = profile if profile is not None else load_profile(config.profile)
    resolve_typologies(config)
    started = time.perf_counter()
    try:
        with RunWriter(
            Path(out_dir), fmt or config.output.format, start=config.start_date
        ) as writer:
            dataset = _run(config, profile, progress, writer)
            writer.finish(dataset)
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
