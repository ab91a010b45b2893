"""`fraudsim loop`: rounds of a detector in the bank against fraudsters ."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from fraudsim.cli.app import console, fail, resolve_scenario
from fraudsim.core.errors import FraudsimError


def _cell(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def loop(
    detector: Annotated[
        str, typer.Option("--detector", help="rules, gbm or package.module:factory")
    ] = "gbm",
    scenario: Annotated[
        str | None,
        typer.Option("--scenario", help="scenario file or name (default: built-in card+ATO)"),
    ] = None,
    rounds: Annotated[int, typer.Option("--rounds", help="rounds with the detector")] = 4,
    out: Annotated[
        Path, typer.Option("--out", help="directory for rounds.json and rounds.html")
    ] = Path("outputs/rounds"),
    customers: Annotated[int, typer.Option("--customers", help="population size")] = 3_000,
    days: Annotated[int, typer.Option("--days", help="days per round")] = 7,
    budget: Annotated[int, typer.Option("--budget", help="entities alerted per day")] = 20,
    threshold: Annotated[
        float | None, typer.Option("--threshold", help="alert at this score (not a budget)")
    ] = None,
    batch: Annotated[str, typer.Option("--batch", help="score per day or hour")] = "day",
    calibrate: Annotated[
        bool,
        typer.Option(
            "--calibrate/--daily-top",
            help="budget as a score cut set at each fit (default) or each day's top entities",
        ),
    ] = True,
) -> None:
    """Fixed vs retrained detector in the bank, adaptive vs non-adaptive fraudsters, per round."""
    from fraudsim.evaluate.rounds import run_rounds, write_rounds

    try:
        with console.status(
            f"{rounds} rounds of {detector} on {scenario or 'the default scenario'}"
        ):
            result = run_rounds(
                detector,
                resolve_scenario(scenario) if scenario else None,
                rounds=rounds,
                customers=customers,
                days=days,
                budget=budget,
                threshold=threshold,
                batch=batch,
                calibrate=calibrate,
            )
            write_rounds(result, out)
    except FraudsimError as exc:
        raise fail(str(exc)) from None
    except KeyboardInterrupt:
        raise fail("interrupted") from None
    table = Table(title=f"{detector} in the bank: recall per round (round 0 trains it)")
    table.add_column("fraudsters / detector")
    for r in range(1, rounds + 1):
        table.add_column(f"round {r}", justify="right")
    table.add_column("loss r1..", justify="right")
    for arm in result["arms"]:
        live = arm["rounds"][1:]
        table.add_row(
            f"{'adaptive' if arm['adaptive'] else 'non-adaptive'} / "
            f"{'retrained' if arm['retrain'] else 'fixed'}",
            *[_cell(x["recall"]) for x in live],
            _cell(sum(x["fraud_loss"] for x in live), 0),
        )
    Console().print(table)
    console.print(
        f"[green]wrote[/] {out}/rounds.json and rounds.html in {result['seconds']:.1f} s",
        highlight=False,
    )
