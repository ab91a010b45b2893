"""Scenario files: loading, one-line errors naming file and field, overrides."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest

from fraudsim.config.scenario import ScenarioConfig, load_scenario, validate_scenario
from fraudsim.core.errors import ConfigError, FraudsimError
from tests.helpers import SCENARIOS


def _error(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_scenario(path)
    message = str(info.value)
    assert "\n" not in message, f"error is not one line: {message!r}"
    return message


def test_valid_file_loads(write_scenario: Callable[..., Path]) -> None:
    cfg = load_scenario(write_scenario(days=5, customers=1234))
    assert cfg.name == "mini"
    assert cfg.days == 5
    assert cfg.population.customers == 1234
    assert cfg.start_date == dt.date(2025, 3, 20)
    assert cfg.seed == 7
    # Defaults fill what the file leaves out.
    assert cfg.output.format == "parquet"
    assert cfg.profile == "default"


def test_repo_baseline_scenario_is_valid() -> None:
    """The shipped baseline scenario validates (read from the repo, not ../shared)."""
    path = SCENARIOS / "baseline.toml"
    cfg = load_scenario(path)
    assert cfg.name == "baseline"
    assert cfg.population.customers > 0


def test_name_defaults_to_file_stem(write_scenario: Callable[..., Path]) -> None:
    cfg = load_scenario(write_scenario("days = 2\n", filename="from-stem.toml"))
    assert cfg.name == "from-stem"


def test_config_is_frozen(tiny_config: ScenarioConfig) -> None:
    with pytest.raises(ValueError):
        tiny_config.days = 99  # type: ignore[misc]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("days = 0\n", "[days]"),
        ("days = 'ten'\n", "[days]"),
        ("seed = -1\n", "[seed]"),
        ("[population]\ncustomers = -5\n", "[population.customers]"),
        ("[population]\ncustomers = 0\n", "[population.customers]"),
        ("[output]\nformat = 'xlsx'\n", "[output.format]"),
        ("currency = 'euro'\n", "[currency]"),
        ("start_date = 'soon'\n", "[start_date]"),
    ],
)
def test_bad_field_names_file_and_field(
    write_scenario: Callable[..., Path], body: str, field: str
) -> None:
    path = write_scenario(body, filename="broken.toml")
    message = _error(path)
    assert str(path) in message
    assert field in message


def test_unknown_top_level_key_lists_allowed_fields(write_scenario: Callable[..., Path]) -> None:
    message = _error(write_scenario("dayz = 3\n", filename="typo.toml"))
    assert "typo.toml" in message
    assert "[dayz]" in message
    assert "unknown field" in message
    for allowed in ("name", "seed", "days", "start_date", "timezone", "population", "output"):
        assert allowed in message.split("allowed:", 1)[1]


def test_unknown_nested_key_lists_section_fields(write_scenario: Callable[..., Path]) -> None:
    message = _error(write_scenario("[population]\ncustomer = 10\n", filename="nested.toml"))
    assert "[population.customer]" in message
    allowed = message.split("allowed:", 1)[1]
    assert "customers" in allowed and "merchants" in allowed
    # Only the section's own fields are offered, not the top level's.
    assert "seed" not in allowed


def test_invalid_toml(write_scenario: Callable[..., Path]) -> None:
    path = write_scenario("days = = 3\n", filename="syntax.toml")
    message = _error(path)
    assert str(path) in message and "invalid TOML" in message


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"
    message = _error(path)
    assert str(path) in message and "not found" in message


def test_directory_path(tmp_path: Path) -> None:
    folder = tmp_path / "adir.toml"
    folder.mkdir()
    message = _error(folder)
    assert str(folder) in message and "directory" in message


def test_non_utf8_bytes(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes('description = "Café"\n'.encode("latin-1"))
    message = _error(path)
    assert str(path) in message and "UTF-8" in message


def test_unknown_timezone(write_scenario: Callable[..., Path]) -> None:
    message = _error(write_scenario("timezone = 'Mars/Olympus_Mons'\n", filename="tz.toml"))
    assert "[timezone]" in message and "Mars/Olympus_Mons" in message


def test_known_timezone_accepted(write_scenario: Callable[..., Path]) -> None:
    cfg = load_scenario(write_scenario("timezone = 'Europe/Berlin'\n", filename="tz.toml"))
    assert cfg.timezone == "Europe/Berlin"


@pytest.mark.parametrize(
    "name", ["../escape", "a/b", "/abs", "..", ".hidden", "", "x" * 65, "sp ace", "nul\0"]
)
def test_unsafe_names_rejected(name: str) -> None:
    with pytest.raises(ConfigError, match=r"\[name\]"):
        validate_scenario({"name": name}, "test")


@pytest.mark.parametrize("name", ["baseline", "a", "run_1.v2-final", "X" * 64])
def test_slug_names_accepted(name: str) -> None:
    assert validate_scenario({"name": name}, "test").name == name


def test_config_error_is_a_fraudsim_error() -> None:
    with pytest.raises(FraudsimError):
        validate_scenario({"name": "ok", "days": -1}, "test")


def test_only_first_error_detailed_with_count_of_rest() -> None:
    with pytest.raises(ConfigError) as info:
        validate_scenario({"name": "ok", "days": -1, "seed": -1}, "label")
    message = str(info.value)
    assert message.startswith("label: [")
    assert "1 more error" in message


def test_with_overrides_dotted_and_top_level(tiny_config: ScenarioConfig) -> None:
    cfg = tiny_config.with_overrides(
        **{"population.customers": 77, "days": 3, "output.format": "csv"}
    )
    assert cfg.population.customers == 77
    assert cfg.days == 3
    assert cfg.output.format == "csv"
    # Untouched fields survive; the original is unchanged.
    assert cfg.seed == tiny_config.seed and cfg.start_date == tiny_config.start_date
    assert tiny_config.population.customers != 77


def test_with_overrides_none_means_keep(tiny_config: ScenarioConfig) -> None:
    cfg = tiny_config.with_overrides(seed=None, **{"population.customers": None})
    assert cfg == tiny_config


def test_with_overrides_revalidates(tiny_config: ScenarioConfig) -> None:
    with pytest.raises(ConfigError, match=r"\[population\.customers\]"):
        tiny_config.with_overrides(**{"population.customers": -5})
    with pytest.raises(ConfigError, match=r"\[output\.format\]"):
        tiny_config.with_overrides(**{"output.format": "xml"})


def test_with_overrides_unknown_leaf_rejected(tiny_config: ScenarioConfig) -> None:
    with pytest.raises(ConfigError, match=r"\[population\.nope\]"):
        tiny_config.with_overrides(**{"population.nope": 1})


def test_with_overrides_unknown_section_is_config_error(tiny_config: ScenarioConfig) -> None:
    with pytest.raises(ConfigError):
        tiny_config.with_overrides(**{"nosuchsection.customers": 1})
