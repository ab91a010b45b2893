"""`fraudsim stress`: train a detector on one scenario, stress it on a suite ."""

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


def stress(
    detector: Annotated[
        str, typer.Option("--detector", help="rules, gbm or package.module:factory")
    ] = "gbm",
    train: Annotated[
        str, typer.Option("--train", help="training scenario file")
    ] = "scenarios/training_set.toml",
    suite: Annotated[
        str, typer.Option("--suite", help="suite TOML file ([[entries]])")
    ] = "scenarios/suites/default.toml",
    out: Annotated[
        Path, typer.Option("--out", help="directory for report.json and report.html")
    ] = Path("outputs/stress"),
    customers: Annotated[
        int | None, typer.Option("--customers", help="override every scenario's customers")
    ] = None,
    days: Annotated[
        int | None, typer.Option("--days", help="override every scenario's days")
    ] = None,
    budget: Annotated[int, typer.Option("--budget", help="entities alerted per day")] = 100,
    validate_on: Annotated[
        Path | None,
        typer.Option("--validate-on", help="also score a real labelled table (CSV or Parquet)"),
    ] = None,
    columns: Annotated[
        str | None,
        typer.Option(
            "--columns",
            help="column mapping of --validate-on, e.g. timestamp=Time,amount=Amount,label=Class",
        ),
    ] = None,
    time_origin: Annotated[
        str | None,
        typer.Option("--time-origin", help="date a seconds-since-start time column counts from"),
    ] = None,
) -> None:
    """Train a detector on one scenario and report its recall per typology on a suite."""
    from fraudsim.evaluate.stress import run_stress

    if validate_on is None and (columns or time_origin):
        raise fail("--columns and --time-origin need --validate-on FILE")
    validate = (
        None
        if validate_on is None
        else {"path": validate_on, "columns": columns, "time_origin": time_origin}
    )
    try:
        with console.status(f"stress-testing {detector} on {suite}"):
            report = run_stress(
                detector,
                resolve_scenario(train),
                suite,
                out,
                customers=customers,
                days=days,
                budget=budget,
                validate=validate,
            )
    except FraudsimError as exc:
        raise fail(str(exc)) from None
    except KeyboardInterrupt:
        raise fail("interrupted") from None
    table = Table(
        title=f"{detector} trained on {report['train']['scenario_name']}, budget {budget}/day"
    )
    table.add_column("entry", overflow="fold")
    for name in ("PR-AUC", "recall@budget", "recall seen", "recall unseen", "lost", "friction"):
        table.add_column(name, justify="right")
    summary = report["summary"]
    for e in summary["entries"]:
        table.add_row(
            e["label"],
            _cell(e["pr_auc"]),
            _cell(e["recall_at_budget"]),
            _cell(e["recall_seen"]),
            _cell(e["recall_unseen"]),
            _cell(e["money_lost_before_alert"], 0),
            _cell(e["customer_friction"]),
        )
    table.add_row(
        "all entries",
        "",
        "",
        _cell(summary["recall_seen"]),
        _cell(summary["recall_unseen"]),
        "",
        "",
        style="bold",
    )
    Console().print(table)
    held = report["held_out"]["by_class"]
    for cls, m in held.items():
        first = m["first_day"]
        if first["macro_recall"] is not None:
            console.print(
                f"{cls:>8}: first-day recall {first['macro_recall']:.3f} "
                f"[{first['low']:.3f}, {first['high']:.3f}] over {first['typologies']} "
                f"typologies, {first['episodes']} episodes (isolated, macro)",
                highlight=False,
            )
    if "validation" in report:
        v = report["validation"]
        console.print(
            f"real table: PR-AUC {_cell(v['real']['pr_auc'])} (synthetic "
            f"{_cell(v['synthetic']['pr_auc'])}), recall at the synthetic alert rate "
            f"{_cell(v['real']['recall_at_matched_rate'])}; unavailable features: "
            f"{', '.join(v['unavailable_features']) or 'none'}",
            highlight=False,
        )
    console.print(
        f"[green]wrote[/] {out}/report.json and report.html in {report['seconds']:.1f} s",
        highlight=False,
    )
