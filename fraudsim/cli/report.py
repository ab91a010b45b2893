"""`fraudsim report RUN_DIR`: fidelity, plots, representation, leakage and privacy audit."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fraudsim.cli.app import console, fail
from fraudsim.core.errors import FraudsimError


def report(
    run_dir: Annotated[Path, typer.Argument(help="a run directory written by fraudsim run")],
    against: Annotated[
        Path | None,
        typer.Option("--against", help="the source table (CSV or Parquet) the profile came from"),
    ] = None,
    columns: Annotated[
        str | None,
        typer.Option(
            "--columns", help="column map of the source, e.g. timestamp=Time,amount=Amount"
        ),
    ] = None,
    time_origin: Annotated[
        str | None,
        typer.Option("--time-origin", help="origin of seconds-since timestamps in the source"),
    ] = None,
) -> None:
    """Write RUN_DIR/report.html and RUN_DIR/report.json."""
    from fraudsim.report import write_report

    try:
        with console.status(f"reporting on {run_dir}"):
            result = write_report(run_dir, against, columns, time_origin)
    except FraudsimError as exc:
        raise fail(str(exc)) from None
    except KeyboardInterrupt:
        raise fail("interrupted") from None
    fid = result["fidelity"]["summary"]
    console.print(
        f"fidelity: {fid['passed']} of {fid['total']} targets pass"
        + (f"; missed: {', '.join(fid['failed'])}" if fid["failed"] else ""),
        highlight=False,
    )
    flagged = result["leakage"]["flagged"]
    if flagged:
        console.print(f"[bold red]LEAKAGE: columns above AUC 0.95: {', '.join(flagged)}[/]")
    if "privacy" in result:
        console.print(f"privacy: {result['privacy']['exact_matches']} exact matches")
    console.print(f"wrote {run_dir / 'report.html'} and report.json in {result['seconds']:.1f} s")
