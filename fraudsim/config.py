"""Scenario files: pydantic models and a loader with one-line, readable errors."""

from __future__ import annotations

import datetime as dt
import tomllib
import zoneinfo
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from fraudsim.errors import ConfigError, format_validation_error
from fraudsim.typologies.schedule import Schedule

# A scenario name becomes a directory name under the output root: keep it a plain slug.
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PopulationConfig(_Strict):
    """World size."""

    customers: int = Field(default=20_000, gt=0, le=100_000_000)
    merchants: int | None = Field(
        default=None,
        gt=0,
        le=10_000_000,
        description="number of merchants; default from the profile's merchants per 1,000 customers",
    )


class OutputConfig(_Strict):
    """What the exporter writes."""

    format: Literal["parquet", "csv"] = "parquet"


class TypologyConfig(_Strict):
    """One typology in a scenario: registry name, parameters and schedule."""

    name: str = Field(
        pattern=r"^[a-z][a-z0-9_]*\.v[0-9]+$", description="registry name, e.g. card_testing.v1"
    )
    params: dict[str, Any] = Field(default_factory=dict)
    schedule: Schedule = Schedule()
    label: str | None = Field(
        default=None,
        pattern=r"^[a-z][a-z0-9_]*$",
        description="optional variant label kept in episodes.parquet",
    )


class BankConfig(_Strict):
    """The bank's controls, applied to honest and fraudulent traffic alike."""

    sca_threshold: float = Field(
        default=30.0, ge=0.0, description="online card payments above this need step-up"
    )
    legit_step_up_failure: float = Field(default=0.03, ge=0.0, le=1.0)
    legit_card_data_error: float = Field(
        default=0.004,
        ge=0.0,
        le=1.0,
        description="share of honest online card payments declined for a mistyped CVV/expiry",
    )
    velocity_max_per_hour: int = Field(default=8, ge=1, le=10_000)
    block_on_report: bool = True
    block_on_velocity: bool = True


class FraudConfig(_Strict):
    """Prevalence control and adaptation."""

    target_share: float | None = Field(
        default=None,
        gt=0.0,
        lt=1.0,
        description="scale episode counts so fraud rows reach this share of all rows",
    )
    target_by: Literal["count", "value"] = "count"
    balance: bool = Field(
        default=False,
        description="equalise expected fraud rows across typologies (balanced training sets)")
    adaptive: bool = Field(default=True, description="fraudsters react to declines and blocks")


class ScenarioConfig(_Strict):
    """One scenario file: world size, profile, duration, seed and output options."""

    name: str = Field(pattern=NAME_PATTERN)
    description: str = ""
    seed: int = Field(default=0, ge=0, lt=2**63)
    days: int = Field(default=30, gt=0, le=3660)
    start_date: dt.date = dt.date(2025, 3, 3)
    timezone: str = "UTC"
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    locale: str = "en_US"
    profile: str = "default"
    population: PopulationConfig = PopulationConfig()
    output: OutputConfig = OutputConfig()
    bank: BankConfig = BankConfig()
    fraud: FraudConfig = FraudConfig()
    typologies: list[TypologyConfig] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}; use an IANA name such as UTC or Europe/Berlin"
            ) from None
        return value

    def with_overrides(self, **overrides: Any) -> ScenarioConfig:
        """A copy with top-level or dotted (`population.customers`) fields replaced, revalidated."""
        data = self.model_dump()
        for key, value in overrides.items():
            if value is None:
                continue
            target = data
            *parents, leaf = key.split(".")
            for part in parents:
                if not isinstance(target.get(part), dict):
                    raise ConfigError(f"scenario '{self.name}': [{key}] unknown section "
                                      f"'{part}'; allowed: {', '.join(sorted(target))}")
                target = target[part]
            target[leaf] = value
        return validate_scenario(data, f"scenario '{self.name}'")


def validate_scenario(data: dict[str, Any], label: str) -> ScenarioConfig:
    """Validate a scenario mapping; errors become one ConfigError line."""
    try:
        return ScenarioConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(label, exc, ScenarioConfig)) from None


def load_scenario(path: str | Path) -> ScenarioConfig:
    """Read and validate a scenario TOML file. The file is data: nothing in it is executed."""
    path = Path(path)
    label = str(path)
    if path.is_dir():
        raise ConfigError(f"{label}: is a directory, expected a scenario .toml file")
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{label}: scenario file not found") from None
    except OSError as exc:
        raise ConfigError(f"{label}: cannot read ({exc.strerror})") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{label}: not UTF-8 text; a scenario is a TOML file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{label}: invalid TOML: {exc}") from None
    if "name" not in data:
        data = {"name": path.stem, **data}
    return validate_scenario(data, label)
