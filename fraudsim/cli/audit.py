"""`fraudsim audit RUN_DIR`: the shortcut hunt — rules and raw-column models a lazy simulator
would hand a detector, with flags for what real bank data would not show."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from fraudsim.cli.app import console, fail
from fraudsim.core.errors import FraudsimError


def audit(
    run_dir: Annotated[Path, typer.Argument(help="a run directory written by fraudsim run")],
    out: Annotated[
        Path | None,
        typer.Option("--out", help="where audit.json and audit.html go [default: RUN_DIR]"),
    ] = None,
    fail_on_flags: Annotated[
        bool, typer.Option("--fail-on-flags", help="exit with code 1 when anything is flagged")
    ] = False,
    seed: Annotated[int, typer.Option(help="seed of the models and the honest-row sample")] = 0,
    top: Annotated[int, typer.Option(help="rules shown in the terminal")] = 10,
) -> None:
    """Write RUN_DIR/audit.json and RUN_DIR/audit.html; print the flags and the top rules."""
    from fraudsim.report.audit import audit_run, write_audit

    try:
        with console.status(f"auditing {run_dir}"):
            result = audit_run(run_dir, seed=seed)
            json_path, html_path = write_audit(result, out or run_dir)
    except FraudsimError as exc:
        raise fail(str(exc)) from None
    except KeyboardInterrupt:
        raise fail("interrupted") from None
    for note in result.notes:
        console.print(f"note: {escape(note)}", highlight=False)
    table = Table("table", "rule", "precision", "recall", title="top one-threshold rules (test)")
    for rule in result.rules[:top]:
        table.add_row(
            rule["table"],
            escape(str(rule["rule"])),
            f"{rule['test_precision']:.3f}",
            f"{rule['test_recall']:.1%}",
        )
    Console().print(table)
    for label, model in result.models.items():
        console.print(
            f"{label} model: ROC AUC {model.get('roc_auc', float('nan')):.3f}, "
            f"average precision {model.get('average_precision', float('nan')):.3f}",
            highlight=False,
        )
    if result.flags:
        console.print(f"[bold red]{len(result.flags)} flag(s):[/]")
        for flag in result.flags:
            console.print(f"  {escape(flag['what'])}: {flag['metric']} {flag['value']:.3f}")
    else:
        console.print("[green]no flags[/]")
    console.print(f"wrote {json_path} and {html_path}", highlight=False)
    if fail_on_flags and result.flags:
        raise typer.Exit(code=1)
