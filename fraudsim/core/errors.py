"""User-facing errors: one readable line naming the file, field and allowed values."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError


class FraudsimError(Exception):
    """Base class for errors shown to the user as one line (CLI exit code 2)."""


class ConfigError(FraudsimError, ValueError):
    """A scenario, profile or typology configuration is invalid."""


class OutputError(FraudsimError, OSError):
    """The output could not be written (path, permissions, disk)."""


def _allowed_fields(model: type[BaseModel] | None, loc: tuple[Any, ...]) -> list[str]:
    """Field names allowed at the parent of `loc`, walking nested pydantic models."""
    current: Any = model
    for part in loc[:-1]:
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return []
        field = current.model_fields.get(str(part))
        if field is None:
            return []
        current = field.annotation
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def format_validation_error(
    label: str, exc: ValidationError, model: type[BaseModel] | None = None
) -> str:
    """`FILE: [field.path] message (got VALUE)` for the first error, plus a count of the rest."""
    errors = exc.errors()
    first = errors[0]
    loc = ".".join(str(p) for p in first["loc"]) or "(top level)"
    msg = first["msg"]
    got = first.get("input")
    shown = ""
    if first["type"] not in ("missing",) and not isinstance(got, dict):
        text = repr(got)
        shown = f" (got {text if len(text) <= 60 else text[:57] + '...'})"
    if first["type"] == "extra_forbidden":
        allowed = _allowed_fields(model, tuple(first["loc"]))
        msg = "unknown field" + (f"; allowed: {', '.join(allowed)}" if allowed else "")
    more = f"; and {len(errors) - 1} more error(s)" if len(errors) > 1 else ""
    return f"{label}: [{loc}] {msg}{shown}{more}"
