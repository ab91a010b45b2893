"""Calibration profiles: loading, sourcing of every figure, validation of weights."""

from __future__ import annotations

import math
from importlib import resources
from pathlib import Path

import pytest

from fraudsim.calibration import Profile, load_profile
from fraudsim.calibration.profile import builtin_profiles, lognormal_mixture_median
from fraudsim.core.errors import ConfigError


def _default_text() -> str:
    ref = resources.files("fraudsim.calibration") / "profiles" / "default.toml"
    return ref.read_text(encoding="utf-8")


def _write_variant(tmp_path: Path, text: str, name: str = "variant.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_default_loads(profile: Profile) -> None:
    assert profile.meta.name == "default"
    assert profile.meta.currency == "EUR"
    assert profile.minor_per_major == 100
    assert "default" in builtin_profiles()
    assert len(profile.cards.categories) > 0


def test_every_numeric_field_has_a_nonempty_source(profile: Profile) -> None:
    fields = profile.numeric_fields()
    # The sections' figures are all there (a spot check that the walk finds them).
    for key in (
        "cards.purchases_per_card_month",
        "calendar.hour_weights",
        "population.age_band_bounds",
        "cards.categories",
        "atm.amount_median",
    ):
        assert key in fields
    assert "population.age_bands" not in fields  # names, not figures
    for key in fields:
        assert profile.sources.get(key, "").strip(), f"{key} has no source"


def test_sources_name_only_real_fields(profile: Profile) -> None:
    assert set(profile.sources) <= set(profile.numeric_fields())


def test_loading_by_path_equals_builtin(tmp_path: Path, profile: Profile) -> None:
    path = _write_variant(tmp_path, _default_text())
    assert load_profile(path) == profile
    assert load_profile(str(path)) == profile


@pytest.mark.parametrize(
    "key", ["cards.ticket_sigma", "calendar.hour_weights", "population.retirement_age"]
)
def test_removing_a_source_is_an_error_naming_it(tmp_path: Path, key: str) -> None:
    lines = _default_text().splitlines(keepends=True)
    kept = [line for line in lines if not line.startswith(f'"{key}"')]
    assert len(kept) == len(lines) - 1
    path = _write_variant(tmp_path, "".join(kept))
    with pytest.raises(ConfigError) as info:
        load_profile(path)
    message = str(info.value)
    assert "\n" not in message
    assert str(path) in message
    assert key in message and "source" in message


def test_unknown_profile_lists_builtins() -> None:
    with pytest.raises(ConfigError) as info:
        load_profile("no_such_profile")
    message = str(info.value)
    assert "no_such_profile" in message
    for name in builtin_profiles():
        assert name in message


def test_negative_weight_rejected(tmp_path: Path) -> None:
    text = _default_text().replace("hour_weights = [2.4,", "hour_weights = [-2.4,")
    assert "[-2.4," in text
    with pytest.raises(ConfigError, match=r"hour_weights"):
        load_profile(_write_variant(tmp_path, text))


def test_negative_age_share_rejected(tmp_path: Path) -> None:
    text = _default_text().replace("age_band_shares = [0.127,", "age_band_shares = [-0.127,")
    with pytest.raises(ConfigError, match=r"age_band_shares"):
        load_profile(_write_variant(tmp_path, text))


def test_all_zero_weights_rejected(tmp_path: Path) -> None:
    old = "weekday_weights = [0.95, 0.97, 1.00, 1.03, 1.12, 1.15, 0.78]"
    text = _default_text().replace(old, "weekday_weights = [0, 0, 0, 0, 0, 0, 0]")
    assert text != _default_text()
    with pytest.raises(ConfigError, match=r"weekday_weights"):
        load_profile(_write_variant(tmp_path, text))


def test_wrong_length_weights_rejected(profile: Profile) -> None:
    data = profile.model_dump()
    data["calendar"]["hour_weights"] = data["calendar"]["hour_weights"][:23]
    with pytest.raises(ValueError, match="hour_weights"):
        Profile.model_validate(data)


def test_unknown_profile_key_rejected(tmp_path: Path) -> None:
    text = _default_text().replace("[merchants]\n", "[merchants]\nmerchants_per_km2 = 3.0\n")
    with pytest.raises(ConfigError, match=r"merchants_per_km2"):
        load_profile(_write_variant(tmp_path, text))


def test_invalid_toml_profile(tmp_path: Path) -> None:
    path = _write_variant(tmp_path, "[meta\nname = 1\n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_profile(path)


def test_non_utf8_profile(tmp_path: Path) -> None:
    path = tmp_path / "latin.toml"
    path.write_bytes(b"[meta]\nname = 'caf\xe9'\n")
    with pytest.raises(ConfigError, match="UTF-8"):
        load_profile(path)


def test_profile_path_that_is_a_directory_is_config_error(tmp_path: Path) -> None:
    folder = tmp_path / "profiles.toml"
    folder.mkdir()
    with pytest.raises(ConfigError):
        load_profile(folder)


def test_weights_are_normalised(profile: Profile) -> None:
    w = profile.weights("calendar", "hour_weights")
    assert len(w) == 24
    assert math.isclose(sum(w), 1.0)
    assert all(x >= 0 for x in w)


@pytest.mark.parametrize(("mu", "sigma"), [(0.0, 1.0), (math.log(19.5), 1.0), (3.0, 0.3)])
def test_lognormal_mixture_median_single_component(mu: float, sigma: float) -> None:
    assert lognormal_mixture_median([mu], sigma, [1.0]) == pytest.approx(math.exp(mu), rel=1e-9)


def test_lognormal_mixture_median_symmetric_pair() -> None:
    """Two equal-weight components symmetric around 1 have median exp(1)."""
    assert lognormal_mixture_median([0.0, 2.0], 0.7, [0.5, 0.5]) == pytest.approx(math.e, rel=1e-9)


def test_lognormal_mixture_median_follows_weights() -> None:
    low = lognormal_mixture_median([0.0, 3.0], 0.5, [0.9, 0.1])
    high = lognormal_mixture_median([0.0, 3.0], 0.5, [0.1, 0.9])
    assert low < math.exp(1.5) < high
