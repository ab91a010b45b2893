"""Deriving profiles from data: aggregates only, provenance, DP noise. The `fraudsim calibrate`
command is tested in tests/cli/test_calibrate.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fraudsim.calibration import load_profile
from fraudsim.calibration.columns import parse_column_map, read_source
from fraudsim.calibration.fromdata import derive_profile, write_profile
from fraudsim.core.errors import ConfigError

FIXTURES = Path(__file__).parents[1] / "fixtures"
BERKA = FIXTURES / "berka" / "trans_sample.asc"
CARD = FIXTURES / "card" / "card_sample.csv"


@pytest.fixture(scope="module")
def berka_profile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("berka") / "berka.toml"
    profile = derive_profile(read_source(BERKA), currency="CZK", command="test")
    return write_profile(profile, path)


def test_berka_profile_loads_with_aggregates_and_provenance(berka_profile: Path) -> None:
    profile = load_profile(berka_profile)
    emp = profile.empirical
    assert emp is not None and profile.meta.currency == "CZK"
    names = {t.name for t in emp.types}
    assert {"VYBER", "VKLAD", "UROK", "PREVOD NA UCET", "PREVOD Z UCTU"} <= names
    assert all(len(t.amount_quantiles) == len(emp.levels) for t in emp.types)
    prov = profile.provenance
    assert prov["source_file"] == "trans_sample.asc" and len(prov["source_sha256"]) == 64
    assert prov["rows"] == 6430 and prov["date_range"] == ["1993-01-01", "1994-10-31"]
    assert prov["fraudsim_version"] and prov["command"] == "test"
    assert profile.sources["empirical"].startswith("data: trans_sample.asc sha256:")
    # Month-end interest: the last day of the month carries far more than an average day.
    urok = next(t for t in emp.types if t.name == "UROK")
    assert urok.day_of_month_weights[30] > 10


def test_dates_only_data_gets_no_hour_shape(berka_profile: Path) -> None:
    profile = load_profile(berka_profile)
    emp = profile.empirical
    assert emp is not None and not emp.source_has_time
    assert emp.hour_weights == [] and all(t.hour_weights == [] for t in emp.types)
    assert "dates only" in emp.hour_shape
    default = load_profile("default")
    assert profile.calendar.hour_weights == default.calendar.hour_weights


def test_no_source_row_is_released(berka_profile: Path) -> None:
    text = berka_profile.read_text()
    source = read_source(BERKA).frame
    # Account ids and exact (account, amount, balance) records never appear in the profile.
    assert "account_id" not in text.replace('account = "account_id"', "")
    row = source.row(100, named=True)
    assert f"{row['balance']}" not in text or f"{row['amount']}" not in text


def test_card_table_with_labels_and_hours() -> None:
    source = read_source(CARD, parse_column_map("label=Class"), time_origin="2013-09-01")
    profile = derive_profile(source, currency="EUR")
    emp = profile["empirical"]
    assert emp["source_has_time"] and len(emp["hour_weights"]) == 24
    assert 0 < emp["fraud_share"] < 0.05 and emp["fraud_amount_quantiles"]
    assert profile["fraud"]["prevalence_count_share"] == emp["fraud_share"]
    assert profile["sources"]["calendar.hour_weights"].startswith("data: card_sample.csv")


def test_dp_noise_changes_counts_and_is_recorded() -> None:
    source = read_source(BERKA)
    plain = derive_profile(source)
    noisy = derive_profile(source, epsilon=0.5, min_count=5)
    privacy = noisy["provenance"]["privacy"]
    assert privacy["epsilon"] == 0.5 and privacy["mechanism"] == "laplace"
    assert privacy["min_count"] == 5 and privacy["cells_suppressed"] > 0
    assert "budget_split" in privacy and privacy["suppressed"]
    share = {t["name"]: t["share"] for t in plain["empirical"]["types"]}
    noisy_share = {t["name"]: t["share"] for t in noisy["empirical"]["types"]}
    assert any(noisy_share[k] != share[k] for k in noisy_share)
    assert plain["empirical"]["activity_histogram"] != noisy["empirical"]["activity_histogram"]
    assert "epsilon" not in plain["provenance"]["privacy"]


@pytest.mark.parametrize("epsilon", [-1.0, 0.0])
def test_non_positive_epsilon_is_refused(epsilon: float) -> None:
    with pytest.raises(ConfigError, match=r"--epsilon: .* allowed: a positive number"):
        derive_profile(read_source(BERKA), epsilon=epsilon)


def test_fully_suppressed_calendar_is_neutral_not_nan() -> None:
    from fraudsim.calibration.fromdata import fit_calendar

    weekday, slot = np.arange(60) % 7, np.arange(60) % 31
    w, d = fit_calendar(np.zeros(7), np.ones(31), weekday, slot)
    assert w == [1.0] * 7 and d == [1.0] * 31
