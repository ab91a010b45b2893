"""The Python API: simulate a scenario in memory, or run it to a directory.

`fraudsim.simulate`, `fraudsim.run_to_directory` and `fraudsim.load_scenario` are these.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from pathlib import Path

import polars as pl

from fraudsim.calibration import Profile, load_profile
from fraudsim.config.scenario import ScenarioConfig, check_size, load_scenario, size_problem
from fraudsim.config.shards import ShardPlan
from fraudsim.core.errors import OutputError
from fraudsim.dataset import TABLES, Dataset, ProgressCallback
from fraudsim.export.manifest import profile_digest_of
from fraudsim.export.writer import RunWriter, _explain, merge_daily_stats
from fraudsim.scale.collect import merge_fraud_summaries, simulate_shard
from fraudsim.scale.runner import run_shards
from fraudsim.world.fraud_engine import resolve_typologies

__all__ = ["check_disk_space", "load_scenario", "run_to_directory", "simulate"]


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

    check_size(config)  # also for configs built without validate_scenario
    profile = profile if profile is not None else load_profile(config.profile)
    plan = ShardPlan.of(config)
    total = plan.count * config.days
    done = [0]

    def on_day(day: int, rows: int) -> None:
        if progress is not None:
            progress(done[0], total, rows)
        done[0] += 1

    parts = [simulate_shard(config, profile, k, on_day) for k in range(plan.count)]
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
