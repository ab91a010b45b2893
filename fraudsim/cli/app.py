"""The one typer app, its sub-apps and the helpers every command shares (errors, paths)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from fraudsim.config.scenario import ScenarioConfig
from fraudsim.core.tomlfile import one_line

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
    from fraudsim.world.fraud_engine import resolve_typologies

    load_profile(config.profile)
    resolve_typologies(config)
