"""Paths and plugins: scenario names cannot escape the output directory; `--out` elsewhere only
when named; typology plugins load only as installed entry points named by a scenario; scenario
files never import or execute anything."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from fraudsim.cli import app
from fraudsim.cli.app import resolve_output
from fraudsim.config.scenario import NAME_PATTERN, ScenarioConfig, load_scenario, validate_scenario
from fraudsim.core.errors import ConfigError
from fraudsim.export.writer import verify_run
from fraudsim.typologies import registry
from fraudsim.world.fraud_engine import resolve_typologies

runner = CliRunner()
ESCAPES = [
    "../x",
    "..",
    ".",
    "../../etc",
    "/abs",
    "a/../../b",
    "a/b",
    "a\\..\\b",
    "~root",
    ".hidden",
    "-rf",
    "x\n",
    "x\x00",
    "",
    "a" * 65,
    "ü",
]


@pytest.mark.parametrize("name", ESCAPES)
def test_unsafe_scenario_names_rejected_in_file_overrides_and_cli(
    name: str, tmp_path: Path, tiny_config: ScenarioConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "s.toml"
    escaped = name.replace("\\", "\\\\").replace("\n", "\\n").replace("\x00", "\\u0000")
    path.write_text(f'name = "{escaped}"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[name\]"):
        load_scenario(path)
    with pytest.raises(ConfigError, match=r"\[name\]"):
        tiny_config.with_overrides(name=name)
    with pytest.raises(ConfigError, match=r"\[name\]"):
        validate_scenario({"name": name}, "test")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    result = runner.invoke(app, ["run", str(path), "-q"])
    assert result.exit_code == 2
    assert "[name]" in result.output
    assert list(work.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.toml", "work"]


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(name=st.one_of(st.text(max_size=70), st.from_regex(NAME_PATTERN, fullmatch=True)))
def test_every_accepted_name_stays_one_level_under_outputs(name: str) -> None:
    try:
        config = validate_scenario({"name": name, "population": {"customers": 10}}, "test")
    except ConfigError:
        return
    out = resolve_output(config, None)
    assert out.parent == Path("outputs")
    assert out.name == name and name not in (".", "..")
    assert (Path("/base") / out).resolve().parent == Path("/base/outputs")


def test_scenario_files_cannot_choose_the_output_path(tmp_path: Path) -> None:
    for body in ('out = "/tmp/x"\n', '[output]\ndir = "/tmp/x"\n', '[output]\npath = "../x"\n'):
        path = tmp_path / "s.toml"
        path.write_text(body, encoding="utf-8")
        with pytest.raises(ConfigError, match="unknown field"):
            load_scenario(path)


def test_without_out_the_run_lands_under_cwd_outputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenarios = tmp_path / "elsewhere"
    scenarios.mkdir()
    (scenarios / "s.toml").write_text(
        'name = "s"\ndays = 2\n[population]\ncustomers = 150\n', encoding="utf-8"
    )
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    result = runner.invoke(app, ["run", str(scenarios / "s.toml"), "-q"])
    assert result.exit_code == 0, result.output
    assert verify_run(work / "outputs" / "s") == []
    assert sorted(p.name for p in scenarios.iterdir()) == ["s.toml"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["elsewhere", "work"]


def test_explicit_out_outside_the_working_tree_is_allowed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "s.toml").write_text(
        'name = "s"\ndays = 2\n[population]\ncustomers = 150\n', encoding="utf-8"
    )
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    target = tmp_path / "far" / "away"
    result = runner.invoke(app, ["run", str(tmp_path / "s.toml"), "--out", str(target), "-q"])
    assert result.exit_code == 0, result.output
    assert verify_run(target) == []
    assert list(work.iterdir()) == []
    result = runner.invoke(app, ["run", str(tmp_path / "s.toml"), "--out", "../rel", "-q"])
    assert result.exit_code == 0, result.output
    assert verify_run(tmp_path / "rel") == []


# -- plugins -----------------------------------------------------------------------------------

PLUGIN_MODULE = "fraudsim_fake_plugin"
PLUGIN_SOURCE = """
import pathlib
from fraudsim.typologies.registry import register
from fraudsim.typologies.base import Typology, TypologyParams

pathlib.Path(__file__).with_name("imported.marker").write_text("yes")


class Params(TypologyParams):
    pass


class FakeSkim(Typology):
    family = "card"
    description = "a fake plugin"
    report_kind = "card"
    Params = Params

    def run(self, ep):
        yield self.ch.wait(60)
"""


@pytest.fixture
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An installed-looking plugin: a module on sys.path and an entry point for it."""
    (tmp_path / f"{PLUGIN_MODULE}.py").write_text(PLUGIN_SOURCE, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, PLUGIN_MODULE, raising=False)
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry.builtin()))
    entry = metadata.EntryPoint(
        name="fake_skim.v1", value=f"{PLUGIN_MODULE}:FakeSkim", group=registry.ENTRY_POINT_GROUP
    )
    real = metadata.entry_points

    def entry_points(**kwargs: object) -> object:
        if kwargs.get("group") == registry.ENTRY_POINT_GROUP:
            return metadata.EntryPoints([entry])
        return real(**kwargs)

    monkeypatch.setattr(registry.metadata, "entry_points", entry_points)
    yield tmp_path / "imported.marker"
    sys.modules.pop(PLUGIN_MODULE, None)


def _scenario(*typologies: str) -> ScenarioConfig:
    return validate_scenario(
        {
            "name": "plug",
            "days": 2,
            "population": {"customers": 150},
            "typologies": [{"name": n, "schedule": {"episodes": 1}} for n in typologies],
        },
        "test",
    )


def test_plugin_listed_but_not_imported(plugin: Path) -> None:
    assert "fake_skim.v1" in registry.available()
    result = runner.invoke(app, ["typologies", "list"])
    assert result.exit_code == 0 and "fake_skim.v1" in result.output
    resolve_typologies(_scenario("card_testing.v1"))
    assert not plugin.exists() and PLUGIN_MODULE not in sys.modules


def test_plugin_imported_only_when_named(plugin: Path) -> None:
    [(cls, _)] = resolve_typologies(_scenario("fake_skim.v1"))
    assert cls.__name__ == "FakeSkim" and cls.name == "fake_skim.v1"
    assert plugin.exists()


def test_uninstalled_names_load_nothing(plugin: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    loaded: list[str] = []
    monkeypatch.setattr(metadata.EntryPoint, "load", lambda self: loaded.append(self.value))
    with pytest.raises(ConfigError, match=r"unknown typology 'os_system\.v1'; available:"):
        resolve_typologies(_scenario("os_system.v1"))
    assert loaded == [] and not plugin.exists()


@pytest.mark.parametrize(
    "name",
    [
        "os.system",
        "os:system",
        "subprocess.run",
        f"{PLUGIN_MODULE}:FakeSkim",
        f"{PLUGIN_MODULE}.FakeSkim.v1",
        "__import__('os').system('id')",
        "builtins.eval",
        "../card_testing.v1",
        "Card_Testing.v1",
        "card_testing",
    ],
)
def test_code_like_typology_names_rejected_before_any_lookup(
    name: str, plugin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    looked_up: list[str] = []
    monkeypatch.setattr(registry, "get", lambda n: looked_up.append(n))
    path = tmp_path / "s.toml"
    path.write_text(f'name = "s"\n[[typologies]]\nname = "{name}"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[typologies.0.name\] String should match pattern"):
        load_scenario(path)
    result = runner.invoke(app, ["scenarios", "validate", str(path)])
    assert result.exit_code == 2
    assert looked_up == [] and not plugin.exists()


def test_scenario_values_are_data(tmp_path: Path, plugin: Path) -> None:
    """Strings that look like code stay strings: in params they only fail validation."""
    marker = tmp_path / "pwned"
    path = tmp_path / "s.toml"
    path.write_text(
        "name = \"s\"\ndescription = \"__import__('os').system('touch pwned')\"\n"
        '[[typologies]]\nname = "card_testing.v1"\n'
        f"params = {{ cards = \"__import__('pathlib').Path('{marker}').touch()\" }}\n",
        encoding="utf-8",
    )
    config = load_scenario(path)
    assert config.description.startswith("__import__")
    with pytest.raises(ConfigError, match=r"\[cards\]"):
        resolve_typologies(config)
    assert not marker.exists() and not plugin.exists()
