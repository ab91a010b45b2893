"""A written run read back for the report: manifest, profile, lazy transactions, small tables."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import polars as pl

from fraudsim.calibration import Profile, load_profile
from fraudsim.core.errors import ConfigError, FraudsimError

TABLES = ("customers", "accounts", "cards", "merchants", "events", "episodes", "daily_stats")
DAYS_PER_MONTH = 30.44


@dataclass
class RunData:
    """One run directory. Transactions stay lazy; the entity tables are small and read eagerly."""

    path: Path
    manifest: dict[str, Any]
    profile: Profile
    _tables: dict[str, pl.DataFrame] = field(default_factory=dict, repr=False)

    @property
    def days(self) -> int:
        return int(self.manifest["scenario"]["days"])

    @property
    def months(self) -> float:
        return self.days / DAYS_PER_MONTH

    @property
    def name(self) -> str:
        return str(self.manifest["scenario"].get("name", self.path.name))

    def transactions(self) -> pl.LazyFrame:
        return pl.scan_parquet(self.path / "transactions.parquet" / "*.parquet")

    def table(self, name: str) -> pl.DataFrame:
        if name not in self._tables:
            self._tables[name] = pl.read_parquet(self.path / f"{name}.parquet")
        return self._tables[name]

    @cached_property
    def honest(self) -> pl.DataFrame:
        """Rows drawn by the honest traffic model (no episode), with the columns the fidelity
        checks need, plus the date, hour and weekday."""
        stamp = pl.col("timestamp")
        return (
            self.transactions()
            .filter(pl.col("episode_id").is_null())
            .select(
                "customer_id",
                "account_id",
                "card_id",
                "merchant_id",
                "counterparty_account_id",
                "amount",
                "channel",
                "mcc",
                "tx_type",
                "direction",
                "is_declined",
                "decline_reason",
                stamp.dt.date().alias("date"),
                stamp.dt.hour().alias("hour"),
                stamp.dt.weekday().alias("weekday"),
                stamp.dt.day().alias("day_of_month"),
            )
            .collect()
        )


def open_run(run_dir: str | Path, profile: str | Path | None = None) -> RunData:
    """Check that `run_dir` is a complete run and read its manifest and profile."""
    path = Path(run_dir)
    if not path.exists():
        raise ConfigError(f"{path}: no such run directory")
    if not path.is_dir():
        raise ConfigError(f"{path}: not a run directory (expected a directory from fraudsim run)")
    manifest_path = path / "manifest.json"
    if not manifest_path.exists():
        raise ConfigError(f"{path}: no manifest.json; the run is incomplete or not a fraudsim run")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        scenario = manifest["scenario"]
        scenario["days"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ConfigError(f"{manifest_path}: unreadable manifest ({exc})") from None
    parts = path / "transactions.parquet"
    if not parts.is_dir() or not any(parts.glob("*.parquet")):
        raise ConfigError(f"{parts}: missing; the run has no transactions")
    for name in TABLES:
        if not (path / f"{name}.parquet").exists():
            raise ConfigError(f"{path / (name + '.parquet')}: missing from the run")
    chosen = profile or scenario.get("profile") or manifest.get("profile", {}).get("name")
    try:
        loaded = load_profile(chosen or "default")
    except FraudsimError as exc:
        raise ConfigError(f"{manifest_path}: [scenario.profile] {exc}") from None
    return RunData(path, manifest, loaded)
