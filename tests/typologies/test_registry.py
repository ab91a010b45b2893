"""The typology registry (fraudsim.typologies.registry): versioned names, built-ins found by
listing the package folder, plugins through the `fraudsim.typologies` entry-point group.

The plugin guarantees seen from a scenario (a plugin module is listed but not imported until a
scenario names it, uninstalled or code-like names load nothing) are proven end to end in
tests/hardening/test_paths_and_plugins.py; here the registry's own lookups are checked.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from importlib import metadata

import pytest

import fraudsim.typologies
from fraudsim.core.errors import ConfigError
from fraudsim.typologies import registry
from fraudsim.typologies.base import Episode, Process, Typology


class _Dummy(Typology):
    description = "test-only typology"

    def run(self, ep: Episode) -> Process:
        yield self.ch.wait(60)


class Plugin(_Dummy):
    """What an installed plugin's entry point names."""


class First(_Dummy):
    pass


class Second(_Dummy):
    pass


@pytest.fixture
def isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    """A copy of the registry, so test-only registrations vanish afterwards."""
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry.builtin()))


@pytest.mark.parametrize(
    "name", ["card_testing", "Card_testing.v1", "card-testing.v1", "1card.v1", "card.v", ""]
)
def test_register_rejects_names_that_are_not_versioned_slugs(name: str) -> None:
    with pytest.raises(ValueError, match=r"must look like 'card_testing\.v1'"):
        registry.register(name)


def test_a_name_belongs_to_one_class(isolated: None) -> None:
    registry.register("dummy_twice.v1")(First)
    registry.register("dummy_twice.v1")(First)  # the same class again: harmless
    assert registry.get("dummy_twice.v1") is First and First.name == "dummy_twice.v1"
    with pytest.raises(
        ValueError, match=rf"'dummy_twice\.v1' is already registered by {re.escape(__name__)}$"
    ):
        registry.register("dummy_twice.v1")(Second)
    with pytest.raises(
        ValueError, match=r"already registered by fraudsim\.typologies\.card_testing$"
    ):
        registry.register("card_testing.v1")(Second)
    assert registry.get("card_testing.v1").__module__ == "fraudsim.typologies.card_testing"


def test_unknown_name_is_a_config_error_listing_what_is_available() -> None:
    with pytest.raises(ConfigError, match=r"^unknown typology 'nope\.v1'; available: ") as info:
        registry.get("nope.v1")
    message = str(info.value)
    assert "\n" not in message
    missing = [name for name in registry.available() if name not in message]
    assert not missing and registry.builtin().keys() <= set(registry.available())


def test_builtin_lists_every_typology_of_every_module() -> None:
    """Each concrete Typology class of the package's modules is registered under its name, so
    adding a module is enough to add a typology."""
    builtin = registry.builtin()
    assert all(registry.NAME.match(name) and cls.name == name for name, cls in builtin.items())
    registered = set(builtin.values())
    defining = set()
    for info in pkgutil.iter_modules(fraudsim.typologies.__path__):
        module = importlib.import_module(f"fraudsim.typologies.{info.name}")
        concrete = [
            cls
            for _, cls in inspect.getmembers(module, inspect.isclass)
            if issubclass(cls, Typology)
            and cls.__module__ == module.__name__
            and not inspect.isabstract(cls)
        ]
        unregistered = [cls.__name__ for cls in concrete if cls not in registered]
        assert not unregistered, f"{module.__name__}: {unregistered} not registered"
        if concrete:
            defining.add(module.__name__)
    from_package = {cls.__module__ for cls in registered if cls.__module__.startswith("fraudsim.")}
    assert from_package == defining and len(defining) >= 15


def test_entry_point_is_loaded_once_when_named_and_never_shadows_a_builtin(
    isolated: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    group = registry.ENTRY_POINT_GROUP
    entries = metadata.EntryPoints(
        [
            metadata.EntryPoint(name="fake_plugin.v1", value=f"{__name__}:Plugin", group=group),
            metadata.EntryPoint(name="card_testing.v1", value=f"{__name__}:Plugin", group=group),
        ]
    )
    real_entry_points, real_load = metadata.entry_points, metadata.EntryPoint.load
    loaded: list[str] = []

    def entry_points(**kwargs: object) -> object:
        return entries if kwargs.get("group") == group else real_entry_points(**kwargs)

    def load(self: metadata.EntryPoint) -> object:
        loaded.append(self.name)
        return real_load(self)

    monkeypatch.setattr(registry.metadata, "entry_points", entry_points)
    monkeypatch.setattr(metadata.EntryPoint, "load", load)

    assert "fake_plugin.v1" in registry.available()
    assert registry.get("card_testing.v1").__module__ == "fraudsim.typologies.card_testing"
    assert loaded == []  # listing and built-ins load no plugin
    assert registry.get("fake_plugin.v1") is Plugin and Plugin.name == "fake_plugin.v1"
    assert registry.get("fake_plugin.v1") is Plugin
    assert loaded == ["fake_plugin.v1"]  # once: then it is registered
