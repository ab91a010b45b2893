"""Resource limits: absurd sizes are refused up front, with the estimated rows and bytes."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import fraudsim.world.model
from fraudsim.api import run_to_directory, simulate
from fraudsim.cli import app
from fraudsim.config.scenario import (
    BYTES_PER_ROW,
    MAX_ROWS,
    ScenarioConfig,
    estimate_size,
    load_scenario,
    validate_scenario,
)
from fraudsim.core.errors import ConfigError

runner = CliRunner()


@pytest.fixture
def no_world(monkeypatch: pytest.MonkeyPatch) -> None:
    """Building a world at all would be a failure: refusals must come first."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a world was built for an absurd scenario")

    monkeypatch.setattr(fraudsim.world.model.World, "__init__", refuse)


def _load(tmp_path: Path, body: str) -> ScenarioConfig:
    path = tmp_path / "big.toml"
    path.write_text('name = "big"\n' + body, encoding="utf-8")
    return load_scenario(path)


@pytest.mark.parametrize(
    ("body", "field", "shown"),
    [
        (
            "[population]\ncustomers = 1_000_000_000_000\n",
            "[population.customers]",
            "1e12 customers",
        ),
        ("days = 1_000_000\n", "[days]", "1e6 days"),
        ("days = 3000\n[population]\ncustomers = 100_000_000\n", "[days]", "3,000 days"),
        ("days = 1000\n[population]\ncustomers = 10_000_000\n", "[", "1e7 customers"),
    ],
    ids=["1e12-customers", "1e6-days", "bounds-ok-product-not", "1e7x1000"],
)
def test_absurd_sizes_refused_with_estimate(
    tmp_path: Path, no_world: None, body: str, field: str, shown: str
) -> None:
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, body)
    message = str(info.value)
    assert message.startswith(f"{tmp_path / 'big.toml'}: {field}")
    assert shown in message
    assert "transactions (~" in message and "B)" in message  # rows and bytes
    assert "the limit is" in message
    assert "\n" not in message


def test_message_example(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, "[population]\ncustomers = 1_000_000_000_000\n")
    assert "1e12 customers x 30 days is about 3.3e13 transactions (~1.49 PB)" in str(info.value)


def test_overrides_are_checked_too(tiny_config: ScenarioConfig) -> None:
    with pytest.raises(ConfigError, match=r"\[population.customers\] 1e12 customers"):
        tiny_config.with_overrides(**{"population.customers": 10**12})
    with pytest.raises(ConfigError, match=r"\[days\] .* x 1e6 days"):
        tiny_config.with_overrides(days=10**6)


def test_cli_refuses_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_world: None
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.toml").write_text('name = "s"\n', encoding="utf-8")
    result = runner.invoke(app, ["run", "s.toml", "--customers", "1000000000000", "--out", "o"])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "1e12 customers" in lines[0] and "PB" in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.toml"]


def test_simulate_checks_configs_built_without_validation(
    tiny_config: ScenarioConfig, tmp_path: Path, no_world: None
) -> None:
    big = tiny_config.model_copy(
        update={
            "days": 3000,
            "population": tiny_config.population.model_copy(update={"customers": 100_000_000}),
        }
    )
    with pytest.raises(ConfigError, match="the limit is"):
        simulate(big)
    with pytest.raises(ConfigError, match="the limit is"):
        run_to_directory(big, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_typology_rates_and_target_share_count(tiny_config: ScenarioConfig) -> None:
    rows, _ = estimate_size(tiny_config)
    busy = validate_scenario(
        {
            "name": "busy",
            "days": 10,
            "population": {"customers": 1000},
            "typologies": [{"name": "card_testing.v1", "schedule": {"rate_per_day": 1000}}],
        },
        "test",
    )
    assert estimate_size(busy)[0] > 10_000 * 10  # 10,000 episodes dominate 11,000 honest rows
    shared = tiny_config.with_overrides(**{"fraud.target_share": 0.5})
    assert estimate_size(shared)[0] >= 2 * rows - 1
    with pytest.raises(ConfigError, match="transactions"):
        validate_scenario(
            {
                "name": "flood",
                "days": 3660,
                "typologies": [{"name": "card_testing.v1", "schedule": {"rate_per_day": 1e6}}],
            },
            "test",
        )


def test_estimate_is_calibrated(tiny_config: ScenarioConfig, tmp_path: Path) -> None:
    """The estimate stays within a factor of two of a real run (rows and bytes on disk)."""
    config = tiny_config.with_overrides(**{"population.customers": 3000, "days": 14})
    rows, size = estimate_size(config)
    out = tmp_path / "run"
    dataset = run_to_directory(config, out)
    written = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    assert 0.5 < rows / dataset.transaction_rows < 2.0
    assert 0.5 < size / written < 2.0
    assert MAX_ROWS * BYTES_PER_ROW < 10**12  # the limit itself is about 225 GB
