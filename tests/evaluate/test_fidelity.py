"""Fidelity: a run matches the profile it was drawn from, and a wrong profile is caught (the
dataset card's checks, `check_fidelity`, which the report also files under its sections)."""

from __future__ import annotations

import math
from dataclasses import replace

import polars as pl
import pytest

from fraudsim.api import simulate
from fraudsim.calibration import Profile
from fraudsim.config.scenario import ScenarioConfig, validate_scenario
from fraudsim.dataset import Dataset
from fraudsim.export.fidelity import FidelityCheck, check_fidelity, fidelity_table, not_measured

PURCHASES = "card purchases per card per month"


@pytest.fixture(scope="module")
def month() -> Dataset:
    """3,000 customers over 28 days: enough rows for every target to be measured."""
    cfg = validate_scenario(
        {"name": "fidelity", "seed": 1234, "days": 28, "population": {"customers": 3_000}}, "test"
    )
    return simulate(cfg)


@pytest.fixture(scope="module")
def checks(month: Dataset) -> list[FidelityCheck]:
    return check_fidelity(month.transactions, month.cards, month.profile, month.config.days)


def _by_name(checks: list[FidelityCheck]) -> dict[str, FidelityCheck]:
    return {c.name: c for c in checks}


def test_all_checks_present(checks: list[FidelityCheck]) -> None:
    names = set(_by_name(checks))
    assert {
        PURCHASES,
        "CNP share of card purchases",
        "median ticket, pos",
        "median ticket, cnp",
        "hour-of-day shape of card purchases",
        "weekday shape of card purchases",
        "ATM withdrawals per debit card per month",
        "mean ATM withdrawal",
    } == names


def test_every_check_passes(checks: list[FidelityCheck]) -> None:
    failed = [c.to_json() for c in checks if not c.passed]
    assert not failed, failed


def test_checks_are_filed_under_their_profile_section(checks: list[FidelityCheck]) -> None:
    sections = {c.name: c.section for c in checks}
    assert sections[PURCHASES] == "cards"
    assert sections["hour-of-day shape of card purchases"] == "calendar"
    assert sections["mean ATM withdrawal"] == "atm"


def test_json_form_of_a_check(checks: list[FidelityCheck]) -> None:
    """report.json's keys, in order; `why` only once the report has explained a miss."""
    data = checks[0].to_json()
    assert list(data) == [
        "section",
        "name",
        "target",
        "simulated",
        "error",
        "tolerance",
        "kind",
        "passed",
        "note",
    ]
    assert replace(checks[0], why="because").to_json()["why"] == "because"
    assert not_measured("merchants", "merchant size sigma", "not exported").passed is None


def test_checks_use_profile_tolerances(checks: list[FidelityCheck], month: Dataset) -> None:
    tol = month.profile.tolerances
    for c in checks:
        assert c.tolerance == (tol.shape_l1 if c.kind == "l1" else tol.relative), c.name
        assert c.error >= 0


def test_lazy_frame_gives_same_checks(checks: list[FidelityCheck], month: Dataset) -> None:
    lazy = check_fidelity(month.transactions.lazy(), month.cards, month.profile, month.config.days)
    assert lazy == checks


def test_wrong_profile_fails_purchases(month: Dataset, profile: Profile) -> None:
    """Data from the default profile, judged against a profile with twice the card use."""
    data = profile.model_dump()
    data["cards"]["purchases_per_card_month"] *= 2
    doubled = Profile.model_validate(data)
    result = _by_name(check_fidelity(month.transactions, month.cards, doubled, month.config.days))
    purchases = result[PURCHASES]
    assert not purchases.passed
    assert math.isclose(purchases.target, 2 * profile.cards.purchases_per_card_month)
    assert purchases.error == pytest.approx(0.5, abs=0.1)
    # The rest of the profile is unchanged, so the rest still passes.
    assert all(c.passed for name, c in result.items() if name != PURCHASES)


def test_wrong_ticket_target_fails_median(month: Dataset, profile: Profile) -> None:
    data = profile.model_dump()
    data["cards"]["ticket_median_cnp"] *= 3
    result = _by_name(
        check_fidelity(
            month.transactions, month.cards, Profile.model_validate(data), month.config.days
        )
    )
    assert not result["median ticket, cnp"].passed
    assert result["median ticket, pos"].passed


def test_flat_hour_profile_fails_hour_shape(month: Dataset, profile: Profile) -> None:
    data = profile.model_dump()
    data["calendar"]["hour_weights"] = [1.0] * 24
    result = _by_name(
        check_fidelity(
            month.transactions, month.cards, Profile.model_validate(data), month.config.days
        )
    )
    assert not result["hour-of-day shape of card purchases"].passed


def test_fraud_rows_are_excluded(month: Dataset) -> None:
    """Relabelling half the purchases as fraud halves the measured purchase rate."""
    tx = month.transactions.with_columns(
        (pl.col("is_fraud") | ((pl.int_range(pl.len()) % 2) == 0)).alias("is_fraud")
    )
    base = _by_name(
        check_fidelity(month.transactions, month.cards, month.profile, month.config.days)
    )
    half = _by_name(check_fidelity(tx, month.cards, month.profile, month.config.days))
    assert half[PURCHASES].simulated == pytest.approx(base[PURCHASES].simulated / 2, rel=0.02)


def test_short_run_skips_weekday_shape(month: Dataset, tiny_config: ScenarioConfig) -> None:
    first_days = month.transactions.filter(
        pl.col("timestamp") < pl.col("timestamp").min().dt.truncate("1d").dt.offset_by("5d")
    )
    names = {c.name for c in check_fidelity(first_days, month.cards, month.profile, 5)}
    assert "weekday shape of card purchases" not in names
    assert PURCHASES in names


def test_empty_transactions_give_no_checks(month: Dataset) -> None:
    assert check_fidelity(pl.DataFrame(), month.cards, month.profile, 28) == []


def test_fidelity_table_markdown(checks: list[FidelityCheck]) -> None:
    table = fidelity_table(checks)
    lines = table.splitlines()
    assert len(lines) == 2 + len(checks)
    assert all(line.startswith("|") and line.endswith("|") for line in lines)
    assert "**no**" not in table


def test_arrays_give_the_same_aggregates_as_a_table(tiny_config: ScenarioConfig) -> None:
    """The exporter's array path (`add_arrays`) counts exactly what `add` counts from the
    written table, daylight-saving change included."""
    from fraudsim.export import days
    from fraudsim.export.fidelity import FidelityStats
    from fraudsim.world.model import World
    from fraudsim.world.tables import frame_context

    config = tiny_config.with_overrides(timezone="Europe/Berlin", start_date="2024-03-29", days=4)
    world = World(config)
    by_table, by_arrays = FidelityStats(), FidelityStats()

    def add(day: int, rows: dict) -> None:
        built = days.arrow_from_rows(rows, frame_context(world))
        by_table.add(pl.from_arrow(built.table))  # type: ignore[arg-type]
        by_arrays.add_arrays(
            built.is_fraud, built.tx_type, built.channel, built.amount, built.local_seconds
        )

    world.day_callbacks.append(add)
    world.run()
    assert by_arrays.purchases > 0
    assert by_arrays.to_json() == by_table.to_json()
