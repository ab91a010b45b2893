"""Dataset: the tables of one simulated run, as polars frames, plus what produced them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from fraudsim.calibration import Profile
from fraudsim.config.scenario import ScenarioConfig
from fraudsim.export import schema
from fraudsim.export.writer import RunWriter, scan_transactions
from fraudsim.scale.collect import shard_tables
from fraudsim.world.model import World
from fraudsim.world.tables import events_frame

if TYPE_CHECKING:
    import pandas as pd

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
            events if events is not None else events_frame(world, world.take_events())
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
