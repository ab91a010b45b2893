"""Reading TOML data files (scenarios, profiles, suites) with one-line errors naming the file."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from fraudsim.core.errors import ConfigError


def one_line(message: str) -> str:
    """The message with control characters (a key may hold a newline) shown escaped."""
    if message.isprintable():
        return message
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)


def read_toml(path: Path, kind: str, label: str | None = None) -> dict[str, Any]:
    """Parse a TOML file; any problem is a ConfigError `LABEL: reason` (kind: "scenario", ...)."""
    label = label or str(path)
    if path.is_dir():
        raise ConfigError(f"{label}: is a directory, expected a {kind} .toml file")
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{label}: {kind} file not found") from None
    except OSError as exc:
        raise ConfigError(f"{label}: cannot read ({exc.strerror})") from None
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{label}: not UTF-8 text; a {kind} is a TOML file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(one_line(f"{label}: invalid TOML: {exc}")) from None
    except RecursionError:
        raise ConfigError(f"{label}: invalid TOML: arrays or tables nested too deeply") from None
