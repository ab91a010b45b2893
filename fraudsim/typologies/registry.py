"""Typology registry: versioned names ("card_testing.v1") to classes, plus plugin entry points.

Built-in typologies register themselves when their module is imported. Third-party typologies
are found through the `fraudsim.typologies` entry-point group and are imported only when a
scenario names them; scenario files themselves never import or execute anything.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from fraudsim.core.errors import ConfigError

if TYPE_CHECKING:
    from fraudsim.typologies.base import Typology

ENTRY_POINT_GROUP = "fraudsim.typologies"
NAME = re.compile(r"^[a-z][a-z0-9_]*\.v[0-9]+$")
_REGISTRY: dict[str, type[Typology]] = {}
_builtins_loaded = False
_NOT_TYPOLOGIES = {"base", "registry", "port", "checks"}
T = TypeVar("T", bound="type[Typology]")


def register(name: str) -> Callable[[T], T]:
    """Class decorator: register a typology under a versioned name."""
    if not NAME.match(name):
        raise ValueError(f"typology name {name!r} must look like 'card_testing.v1'")

    def decorate(cls: T) -> T:
        existing = _REGISTRY.get(name)
        if existing is not None and existing is not cls:
            raise ValueError(f"typology {name!r} is already registered by {existing.__module__}")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return decorate


def _load_builtins() -> None:
    global _builtins_loaded
    if _builtins_loaded:
        return
    # The package's own folder, listed rather than imported: this module is part of it.
    for info in pkgutil.iter_modules([str(Path(__file__).parent)]):
        if info.name not in _NOT_TYPOLOGIES:
            importlib.import_module(f"fraudsim.typologies.{info.name}")
    _builtins_loaded = True


def _entry_points() -> dict[str, metadata.EntryPoint]:
    return {ep.name: ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}


def get(name: str) -> type[Typology]:
    """The typology class registered under `name` (loading a plugin only if it is named)."""
    _load_builtins()
    if name in _REGISTRY:
        return _REGISTRY[name]
    plugin = _entry_points().get(name)
    if plugin is not None:
        cls = plugin.load()
        _REGISTRY.setdefault(name, cls)
        cls.name = name
        return cls
    raise ConfigError(f"unknown typology '{name}'; available: {', '.join(available())}")


def available() -> list[str]:
    """Every registered or installed typology name."""
    _load_builtins()
    return sorted(set(_REGISTRY) | set(_entry_points()))


def builtin() -> dict[str, type[Typology]]:
    _load_builtins()
    return dict(sorted(_REGISTRY.items()))
