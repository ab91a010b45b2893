"""Command-line interface (typer): thin wrappers over the Python API."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from fraudsim.config import ScenarioConfig, load_scenario
from fraudsim.errors import FraudsimError
from fraudsim.shards import ShardPlan
from fraudsim.tomlfile import one_line

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="fraudsim: simulate labelled payment transactions and fraud.",
)
scenarios_app = typer.Typer(no_args_is_help=True, help="Scenario files: list and validate.")
app.add_typer(scenarios_app, name="scenarios")
typologies_app = typer.Typer(no_args_is_help=True, help="Typologies: list and document them.")
app.add_typer(typologies_app, name="typologies")

console = Console(stderr=True)
SCENARIO_DIR = Path("scenarios")


def fail(message: str) -> typer.Exit:
    """Print a one-line error and return the exit to raise (code 2)."""
    console.print(
        f"[bold red]error:[/] {escape(one_line(message))}", highlight=False, soft_wrap=True
    )
    return typer.Exit(code=2)


def resolve_scenario(value: str) -> Path:
    """A scenario path, or a bare name looked up in ./scenarios/."""
    path = Path(value)
    if path.exists() or path.suffix == ".toml" or "/" in value:
        return path
    candidate = SCENARIO_DIR / f"{value}.toml"
    return candidate if candidate.exists() else path


def resolve_output(config: ScenarioConfig, out: Path | None) -> Path:
    """The run directory: `--out` if given, else outputs/<scenario name>."""
    if out is not None:
        return out
    # The name is a validated slug, so this stays under outputs/.
    return Path("outputs") / config.name


def preflight(config: ScenarioConfig) -> None:
    """What `scenarios validate` checks beyond the file: the profile and every typology (names
    and params), so a run that cannot start fails before anything is created on disk."""
    from fraudsim.calibration import load_profile
    from fraudsim.fraud import resolve_typologies

    load_profile(config.profile)
    resolve_typologies(config)


@app.command()
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
    from fraudsim.dataset import run_to_directory

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


@scenarios_app.command("list")
def scenarios_list(
    folder: Annotated[Path, typer.Option(help="folder of scenario files")] = SCENARIO_DIR,
) -> None:
    """List the scenario files of a folder with their description and validity."""
    files = sorted(folder.glob("*.toml"))
    if not files:
        raise fail(f"{folder}: no scenario files (*.toml)")
    table = Table("scenario", "customers", "days", "description")
    for path in files:
        try:
            cfg = load_scenario(path)
            table.add_row(
                path.stem, f"{cfg.population.customers:,}", str(cfg.days), cfg.description
            )
        except FraudsimError as exc:
            table.add_row(path.stem, "-", "-", f"[red]invalid: {escape(str(exc))}[/]")
    Console().print(table)


@scenarios_app.command("validate")
def scenarios_validate(
    files: Annotated[list[Path], typer.Argument(help="scenario files to check")],
) -> None:
    """Check scenario files; exit code 2 if any is invalid."""
    bad = 0
    for path in files:
        try:
            preflight(load_scenario(path))
            console.print(f"[green]ok[/] {path}", highlight=False)
        except FraudsimError as exc:
            message = str(exc)
            if not message.startswith(f"{path}:"):  # errors of typologies or the profile
                message = f"{path}: {message}"
            console.print(
                f"[bold red]error:[/] {escape(one_line(message))}", highlight=False, soft_wrap=True
            )
            bad += 1
    if bad:
        raise typer.Exit(code=2)


@typologies_app.command("list")
def typologies_list() -> None:
    """List every registered typology with its family and one-line behaviour."""
    from fraudsim import registry

    table = Table("typology", "family", "fraud", "behaviour")
    for name, cls in registry.builtin().items():
        table.add_row(
            name, cls.family, "yes" if cls.is_fraud else "no (look-alike)", cls.description
        )
    for name in sorted(set(registry.available()) - set(registry.builtin())):
        table.add_row(name, "plugin", "?", "installed entry point (loaded when named)")
    Console().print(table)


@typologies_app.command("show")
def typologies_show(name: Annotated[str, typer.Argument(help="e.g. card_testing.v1")]) -> None:
    """Document one typology: behaviour, parameters with defaults, schedule and labels."""
    from fraudsim import registry
    from fraudsim.typologies.schedule import Schedule

    try:
        cls = registry.get(name)
    except FraudsimError as exc:
        raise fail(str(exc)) from None
    out = Console()
    out.print(
        f"[bold]{name}[/]  ({cls.family}; {'fraud' if cls.is_fraud else 'legitimate'};"
        f" reported: {cls.report_kind})",
        highlight=False,
    )
    out.print(cls.description, highlight=False)
    for title, model in (("params", cls.Params), ("schedule", Schedule)):
        table = Table("field", "type", "default", "description", title=title)
        for field_name, info in model.model_fields.items():
            annotation = getattr(info.annotation, "__name__", str(info.annotation))
            table.add_row(field_name, annotation, repr(info.default), info.description or "")
        out.print(table)
    out.print(
        "Scenario entry:\n"
        f'[[typologies]]\nname = "{name}"\nparams = {{ }}\n'
        "schedule = { start_day = 0, rate_per_day = "
        f"{cls.default_rate_per_day} }}",
        highlight=False,
        markup=False,
    )


def _register_stress() -> None:
    from fraudsim.cli_stress import stress

    app.command(
        "stress",
        help="Train a detector on one world and report how it does on a "
        "suite of others, per typology (first version).",
    )(stress)


_register_stress()


def _register_loop() -> None:
    from fraudsim.cli_loop import loop

    app.command(
        "loop",
        help="Rounds of a detector in the bank against fraudsters that adapt: recall and "
        "losses per round, fixed vs retrained detector.",
    )(loop)


_register_loop()


def _register_report() -> None:
    from fraudsim.cli_report import report

    app.command(
        "report",
        help="Fidelity, plots, representation, leakage and privacy audit of a run directory.",
    )(report)


_register_report()


def _register_calibrate() -> None:
    from fraudsim.cli_calibrate import calibrate

    app.command(
        "calibrate",
        help="Derive a calibration profile (aggregates only, optional differential privacy) "
        "from your own transaction table.",
    )(calibrate)


_register_calibrate()


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except BrokenPipeError:  # e.g. `fraudsim scenarios list | head`
        sys.exit(0)


if __name__ == "__main__":
    main()
