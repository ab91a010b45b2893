"""`fraudsim run`: simulate a scenario into a run directory, with a progress bar."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from fraudsim.cli.app import (
    console,
    fail,
    preflight,
    resolve_output,
    resolve_scenario,
)
from fraudsim.config.scenario import load_scenario
from fraudsim.config.shards import ShardPlan
from fraudsim.core.errors import FraudsimError


def run(
    scenario: Annotated[str, typer.Argument(help="scenario file, or a name in ./scenarios/")],
    out: Annotated[
        Path | None, typer.Option(help="run directory [default: outputs/<name>]")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="override the scenario's seed")] = None,
    customers: Annotated[int | None, typer.Option(help="override the number of customers")] = None,
    days: Annotated[int | None, typer.Option(help="override the number of days")] = None,
    fmt: Annotated[str | None, typer.Option("--format", help="parquet or csv")] = None,
    profile: Annotated[
        str | None,
        typer.Option(help="calibration profile: a built-in name or a PROFILE.toml path"),
    ] = None,
    workers: Annotated[
        int, typer.Option(help="processes running shards in parallel (a local Dask cluster)")
    ] = 1,
    scheduler: Annotated[
        str | None, typer.Option(help="use an existing Dask cluster, e.g. tcp://host:8786")
    ] = None,
    shard_size: Annotated[
        int | None, typer.Option(help="override customers per shard (changes the data)")
    ] = None,
    resume: Annotated[
        bool, typer.Option(help="keep the shards an interrupted run completed (verified)")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar")] = False,
) -> None:
    """Simulate a scenario and write its dataset to a run directory."""
    from fraudsim.api import run_to_directory

    try:
        config = load_scenario(resolve_scenario(scenario)).with_overrides(
            **{
                "seed": seed,
                "days": days,
                "population.customers": customers,
                "output.format": fmt,
                "population.shard_size": shard_size,
                "profile": profile,
            }
        )
        preflight(config)
        out_dir = resolve_output(config, out)
        if workers < 1:
            raise fail(f"--workers must be at least 1, got {workers}")
        shards = ShardPlan.of(config).count
        started = time.perf_counter()
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("shard-days"),
            TextColumn("{task.fields[rows]:,} rows"),
            TextColumn("{task.fields[rate]:,.0f} tx/s"),
            TimeElapsedColumn(),
            console=console,
            disable=quiet,
            transient=True,
        ) as progress:
            label = f"simulating {config.name}" + (f" ({shards} shards)" if shards > 1 else "")
            task = progress.add_task(label, total=shards * config.days, rows=0, rate=0.0)
            totals = {"rows": 0, "done": 0}

            def on_day(done: int, total: int, rows: int) -> None:
                totals["rows"] += rows
                totals["done"] += 1
                rate = totals["rows"] / max(time.perf_counter() - started, 1e-9)
                progress.update(task, completed=totals["done"], rows=totals["rows"], rate=rate)

            dataset = run_to_directory(
                config,
                out_dir,
                progress=on_day,
                workers=workers,
                scheduler=scheduler,
                resume=resume,
            )
        elapsed = time.perf_counter() - started
    except FraudsimError as exc:
        raise fail(str(exc)) from None
    except KeyboardInterrupt:
        raise fail(
            "interrupted; nothing was written (completed shards are kept: "
            "run again with --resume to continue)"
        ) from None
    n = dataset.transaction_rows
    if dataset.resumed_shards:
        console.print(f"resumed: kept {len(dataset.resumed_shards)} completed shard(s)")
    console.print(
        f"[green]wrote[/] {out_dir}/  {n:,} transactions in {elapsed:.1f} s "
        f"({n / elapsed:,.0f} transactions/s)",
        highlight=False,
    )
