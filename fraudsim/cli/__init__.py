"""Command-line interface: one typer app (`app.py`), one module per command.

Importing this package registers every command on the app, in the order `--help` lists them;
`main` is the console script.
"""

import sys

from fraudsim.cli import audit, calibrate, report, rounds, run, scenarios, stress, typologies
from fraudsim.cli.app import app

app.command("run")(run.run)
app.command(
    "stress",
    help="Train a detector on one world and report how it does on a suite of others, per typology.",
)(stress.stress)
app.command(
    "loop",
    help="Rounds of a detector in the bank against fraudsters that adapt: "
    "recall and losses per round, fixed vs retrained detector.",
)(rounds.loop)
app.command(
    "report", help="Fidelity, plots, representation, leakage and privacy audit of a run directory."
)(report.report)
app.command(
    "audit",
    help="Hunt for shortcuts: one-threshold rules and raw-column models that separate fraud "
    "too well to be behaviour; writes audit.json and audit.html.",
)(audit.audit)
app.command(
    "calibrate",
    help="Derive a calibration profile (aggregates only, optional differential "
    "privacy) from your own transaction table.",
)(calibrate.calibrate)

__all__ = ["app", "main", "scenarios", "typologies"]


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except BrokenPipeError:  # e.g. `fraudsim scenarios list | head`
        sys.exit(0)
