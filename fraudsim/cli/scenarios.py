"""`fraudsim scenarios list|validate`: the scenario files of a folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from fraudsim.cli.app import (
    SCENARIO_DIR,
    console,
    fail,
    preflight,
    scenarios_app,
)
from fraudsim.config.scenario import load_scenario
from fraudsim.core.errors import FraudsimError
from fraudsim.core.tomlfile import one_line


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
