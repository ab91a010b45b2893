"""`fraudsim calibrate`: derive a profile (aggregates only) from a user's table."""

from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from fraudsim.cli.app import fail
from fraudsim.core.errors import FraudsimError


def calibrate(
    source: Annotated[
        Path, typer.Option("--from", help="transaction table: CSV (, ; tab |) or Parquet")
    ],
    out: Annotated[Path, typer.Option("--out", help="profile TOML file to write")],
    columns: Annotated[
        str | None,
        typer.Option(
            "--columns", help="column names, e.g. timestamp=Time,amount=Amount,label=Class"
        ),
    ] = None,
    time_origin: Annotated[
        str | None,
        typer.Option("--time-origin", help="date that seconds-since-start timestamps count from"),
    ] = None,
    epsilon: Annotated[
        float | None,
        typer.Option("--epsilon", help="differential privacy budget (Laplace noise); > 0"),
    ] = None,
    min_count: Annotated[
        int, typer.Option("--min-count", help="suppress released cells below this count")
    ] = 5,
    currency: Annotated[
        str | None, typer.Option("--currency", help="ISO 4217 code of the amounts, e.g. CZK")
    ] = None,
) -> None:
    """Derive a calibration profile (aggregates only) from your own transaction table."""
    from fraudsim.calibration.columns import parse_column_map, read_source
    from fraudsim.calibration.fromdata import derive_profile, write_profile
    from fraudsim.calibration.privacy import check_epsilon

    console = Console(soft_wrap=True)
    started = time.perf_counter()
    try:
        check_epsilon(epsilon)
        table = read_source(source, parse_column_map(columns), time_origin)
        command = shlex.join(["fraudsim", *sys.argv[1:]])
        profile = derive_profile(
            table, epsilon=epsilon, min_count=min_count, currency=currency, command=command
        )
        write_profile(profile, out)
    except FraudsimError as exc:
        raise fail(str(exc)) from None
    empirical = profile["empirical"]
    names = ", ".join(t["name"] for t in empirical["types"])
    console.print(
        f"{table.rows:,} rows from {table.date_range[0]} to {table.date_range[1]}; "
        f"{len(empirical['types'])} types: {names}",
        highlight=False,
    )
    if not table.has_time:
        console.print("dates only: no hour-of-day shape (runs use the default profile's)")
    privacy = profile["provenance"]["privacy"]
    if epsilon is not None:
        console.print(
            f"epsilon {epsilon} (Laplace); {privacy['cells_suppressed']} cells suppressed",
            highlight=False,
        )
    console.print(
        f"wrote {out} in {time.perf_counter() - started:.1f} s; "
        f"simulate with: fraudsim run SCENARIO --profile {out}",
        highlight=False,
    )
