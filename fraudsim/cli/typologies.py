"""`fraudsim typologies list|show`: the typology catalogue."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from fraudsim.cli.app import (
    fail,
    typologies_app,
)
from fraudsim.config.schedule import Schedule
from fraudsim.core.errors import FraudsimError
from fraudsim.typologies import registry


@typologies_app.command("list")
def typologies_list() -> None:
    """List every registered typology with its family and one-line behaviour."""

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
