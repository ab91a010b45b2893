"""Scenario files: pydantic models and a loader with one-line, readable errors."""

from __future__ import annotations

import datetime as dt
import math
import zoneinfo
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from fraudsim.config.schedule import Schedule
from fraudsim.core.errors import ConfigError, format_validation_error
from fraudsim.core.tomlfile import one_line, read_toml

# A scenario name becomes a directory name under the output root: keep it a plain slug.
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"

# Size estimates, calibrated on runs of scenarios/baseline.toml with the default profile:
# 20,000 customers x 30 days made 641,687 transactions (1.07 per customer and day, ~32 per
# customer-month) and 45 bytes per transaction on disk (zstd Parquet: 37 for the transactions,
# the rest entity tables and events); 5,000 x 90 days made 1.01 per customer-day, 44 bytes. A
# typology episode counts as ROWS_PER_EPISODE rows. The estimate only guards against absurd
# sizes, so it is rounded up a little.
ROWS_PER_CUSTOMER_DAY = 1.1
BYTES_PER_ROW = 45
ROWS_PER_EPISODE = 20
MAX_CUSTOMERS = 100_000_000
MAX_DAYS = 3660
MAX_ROWS = 5_000_000_000  # ~200 GB on disk; far past what one process simulates in a day
# Scenario windows stay within positive Unix seconds and far from Python's year 9999.
MIN_DATE = dt.date(1971, 1, 1)
MAX_DATE = dt.date(9000, 1, 1)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PopulationConfig(_Strict):
    """World size."""

    customers: int = Field(default=20_000, gt=0, le=MAX_CUSTOMERS)
    merchants: int | None = Field(
        default=None,
        gt=0,
        le=10_000_000,
        description="number of merchants; default from the profile's merchants per 1,000 customers",
    )
    shard_size: int = Field(
        default=100_000,
        ge=100,
        le=MAX_CUSTOMERS,
        description="most customers per shard: the population is split into equal shards of at "
        "most this size, simulated independently (in parallel with --workers); memory depends "
        "on this, not on the population; the data depend on it",
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


class DetectorConfig(_Strict):
    """A detector in the bank agent (`[bank.detector]`, see fraudsim.world.agents.live_detector)."""

    name: str = Field(
        min_length=1, description="rules, gbm or package.module:factory (see load_detector)"
    )
    threshold: float | None = Field(default=None, ge=0.0, description="block above this score")
    budget: int | None = Field(default=None, ge=1, description="entities alerted per day")
    batch: Literal["day", "hour"] = "day"
    window_days: int = Field(default=7, ge=1, le=90, description="history the features see")
    train_days: int = Field(
        default=7, ge=1, le=MAX_DAYS, description="days simulated before a detector is fitted"
    )
    review_hours: float = Field(
        default=24.0, ge=0.0, le=720.0, description="hours until an honest customer is unblocked"
    )

    @model_validator(mode="after")
    def _one_cut(self) -> DetectorConfig:
        if (self.threshold is None) == (self.budget is None):
            raise ValueError("give exactly one of threshold or budget")
        return self


class BankConfig(_Strict):
    """The bank's controls, applied to honest and fraudulent traffic alike."""

    sca_threshold: float = Field(
        default=30.0,
        ge=0.0,
        description=(
            "low-value exemption: online card payments up to this need no SCA while the card's "
            "exempted payments since its last SCA stay within the profile's limits (PSD2 caps "
            "it at the profile's sca.low_value_limit, EUR 30); a larger value models an issuer "
            "outside PSD2, which challenges only online payments above it"
        ),
    )
    legit_step_up_failure: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="share of honest SCA challenges that fail (default: sca.challenge_failure)",
    )
    issuer_tra_ceiling: float = Field(
        default=100.0,
        ge=0.0,
        description=(
            "largest online payment the issuer's own risk engine may let through without a "
            "challenge (PSD2 RTS Art. 18 tier its fraud rate qualifies for: 0, 100, 250, 500)"
        ),
    )
    card_replacement_days: float = Field(
        default=5.0,
        gt=0.0,
        le=60.0,
        description="median days until a blocked card's replacement reaches its owner",
    )
    block_notice_hours: float = Field(
        default=1.0,
        ge=0.0,
        le=72.0,
        description="median hours until a customer learns the bank blocked their card",
    )
    review_hours: float = Field(
        default=8.0,
        gt=0.0,
        le=240.0,
        description=(
            "median hours the bank reviews a frozen account before lifting a victim's freeze "
            "or exiting a mule"
        ),
    )
    legit_card_data_error: float = Field(
        default=0.004,
        ge=0.0,
        le=1.0,
        description="share of honest online card payments declined for a mistyped CVV/expiry",
    )
    velocity_max_per_hour: int = Field(default=8, ge=1, le=10_000)
    block_on_report: bool = True
    block_on_velocity: bool = True
    detector: DetectorConfig | None = None


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
        description="equalise expected fraud rows across typologies (balanced training sets)",
    )
    adaptive: bool = Field(default=True, description="fraudsters react to declines and blocks")


class ScenarioConfig(_Strict):
    """One scenario file: world size, profile, duration, seed and output options."""

    name: str = Field(pattern=NAME_PATTERN)
    description: str = ""
    seed: int = Field(default=0, ge=0, lt=2**63)
    days: int = Field(default=30, gt=0, le=MAX_DAYS)
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
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
            # OSError: a name that is a directory of the tz database ("Europe") or too long.
            raise ValueError(
                f"unknown time zone {value!r}; use an IANA name such as UTC or Europe/Berlin"
            ) from None
        return value

    @field_validator("locale")
    @classmethod
    def _known_locale(cls, value: str) -> str:
        from faker.config import AVAILABLE_LOCALES

        if value not in AVAILABLE_LOCALES:
            raise ValueError(f"unknown Faker locale {value!r}; use e.g. en_US, de_DE or fr_FR")
        return value

    @model_validator(mode="after")
    def _window_fits_the_calendar(self) -> ScenarioConfig:
        # Dates far out would overflow Python's calendar (year 9999) and Unix-second clocks.
        last = MAX_DATE - dt.timedelta(days=self.days)
        if not MIN_DATE <= self.start_date <= last:
            raise ValueError(
                f"start_date {self.start_date} with {self.days} days leaves the supported "
                f"calendar; use a start_date from {MIN_DATE} to {last}"
            )
        for i, typ in enumerate(self.typologies):
            sched = typ.schedule
            if sched.ramp == "exponential" and self.days / sched.doubling_days > 1000:
                raise ValueError(
                    f"typologies[{i}].schedule: doubling every {sched.doubling_days:g} days over "
                    f"{self.days} days grows past any number; use doubling_days >= "
                    f"{self.days / 1000:g}"
                )
        return self

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
                    raise ConfigError(
                        f"scenario '{self.name}': [{key}] unknown section "
                        f"'{part}'; allowed: {', '.join(sorted(target))}"
                    )
                target = target[part]
            target[leaf] = value
        return validate_scenario(data, f"scenario '{self.name}'")


def _number(value: float) -> str:
    """1,234 below a million, else 1.2e12."""
    if not math.isfinite(value):
        return str(value)
    if value < 1e6:
        return f"{value:,.0f}"
    mantissa, exponent = f"{value:.1e}".split("e")
    return f"{mantissa.removesuffix('.0')}e{int(exponent)}"


def _bytes(value: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB", "PB", "EB"):
        if value < 1000 or unit == "EB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.3g} {unit}"
        value /= 1000
    raise AssertionError  # unreachable


def _expected_rows(
    customers: float, days: float, typologies: list[Any], share: float | None
) -> float:
    honest = customers * days * ROWS_PER_CUSTOMER_DAY
    fraud = 0.0
    for typ in typologies:
        sched = typ.schedule
        if sched.episodes is not None:
            episodes = float(sched.episodes)
        elif getattr(sched, "per_customer_month", None) is not None:
            episodes = sched.per_customer_month * customers * days / 30
        else:
            rate = sched.rate_per_day if sched.rate_per_day is not None else 1.0
            episodes = rate * days  # an upper bound: ramps only lower it
        fraud += episodes * ROWS_PER_EPISODE
    if share:
        fraud = max(fraud, honest * share / (1.0 - share))
    return honest + fraud


def estimate_size(config: ScenarioConfig) -> tuple[int, int]:
    """(transactions, bytes on disk) a scenario is expected to produce, roughly (see
    ROWS_PER_CUSTOMER_DAY and BYTES_PER_ROW). Used to refuse absurd sizes up front."""
    rows = _expected_rows(
        config.population.customers,
        config.days,
        list(config.typologies),
        config.fraud.target_share,
    )
    return math.ceil(rows), math.ceil(rows * BYTES_PER_ROW)


def size_problem(
    config: ScenarioConfig, free_bytes: int | None = None, where: str = ""
) -> str | None:
    """Why the scenario is too large to run (MAX_ROWS, or `free_bytes` of disk), else None."""
    rows, size = estimate_size(config)
    limit_rows = MAX_ROWS
    if free_bytes is not None:
        limit_rows = min(limit_rows, free_bytes // BYTES_PER_ROW)
    if rows <= limit_rows:
        return None
    customers, days = config.population.customers, config.days
    # Blame the days when a month of these customers would fit, else the customers.
    month = _expected_rows(customers, min(days, 30), list(config.typologies), None)
    field = "days" if month <= limit_rows and days > 30 else "population.customers"
    if free_bytes is not None and limit_rows < MAX_ROWS:
        limit = f"the free space{where}, {_bytes(free_bytes)} (~{_number(limit_rows)} rows)"
    else:
        limit = f"{_number(MAX_ROWS)} transactions (~{_bytes(MAX_ROWS * BYTES_PER_ROW)})"
    return (
        f"[{field}] {_number(customers)} customers x {_number(days)} days is about "
        f"{_number(rows)} transactions (~{_bytes(size)}); the limit is {limit}"
    )


def check_size(config: ScenarioConfig, label: str | None = None) -> None:
    """Raise ConfigError if the scenario is over MAX_ROWS (see `size_problem`)."""
    problem = size_problem(config)
    if problem is not None:
        raise ConfigError(f"{label or f'scenario {config.name!r}'}: {problem}")


_BOUNDS = {("population", "customers"): MAX_CUSTOMERS, ("days",): MAX_DAYS}


def _bound_message(label: str, data: dict[str, Any], exc: ValidationError) -> str | None:
    """For customers or days over their bound: the message with the estimated size."""
    first = exc.errors()[0]
    loc = tuple(first["loc"])
    if first["type"] != "less_than_equal" or loc not in _BOUNDS:
        return None
    population = data.get("population") if isinstance(data.get("population"), dict) else {}
    customers, days = population.get("customers", 20_000), data.get("days", 30)
    try:
        customers, days = float(customers), float(days)
        rows = customers * days * ROWS_PER_CUSTOMER_DAY
    except (TypeError, ValueError, OverflowError):
        return None
    if not (math.isfinite(rows) and customers > 0 and days > 0):
        return None
    return (
        f"{label}: [{'.'.join(map(str, loc))}] {_number(customers)} customers x {_number(days)}"
        f" days is about {_number(rows)} transactions (~{_bytes(rows * BYTES_PER_ROW)}); the "
        f"limit is {_number(MAX_CUSTOMERS)} customers, {MAX_DAYS:,} days and "
        f"{_number(MAX_ROWS)} transactions (got {first['input']!r})"
    )


def validate_scenario(data: dict[str, Any], label: str) -> ScenarioConfig:
    """Validate a scenario mapping; errors (and absurd sizes) become one ConfigError line."""
    try:
        config = ScenarioConfig.model_validate(data)
    except ValidationError as exc:
        message = _bound_message(label, data, exc) if isinstance(data, dict) else None
        message = message or format_validation_error(label, exc, ScenarioConfig)
        raise ConfigError(one_line(message)) from None
    check_size(config, label)
    return config


def load_scenario(path: str | Path) -> ScenarioConfig:
    """Read and validate a scenario TOML file. The file is data: nothing in it is executed."""
    path = Path(path)
    label = str(path)
    data = read_toml(path, "scenario")
    if "name" not in data:
        data = {"name": path.stem, **data}
    return validate_scenario(data, label)
