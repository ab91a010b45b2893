"""Bulk UTF-8 encoding of numpy unicode arrays (identity strings) for Arrow and polars."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from fraudsim.export.strings import arrow_strings, string_series


def test_every_utf8_width_round_trips() -> None:
    # 1-, 2-, 3- and 4-byte code points, the empty string and mixed rows.
    values = np.array(["", "a", "Müller", "Łódź 12", "日本語", "😀x", "Karl-Hölzenbecher-Platz 18"])
    assert arrow_strings(values).to_pylist() == values.tolist()
    series = string_series(values, "street")
    assert series.name == "street" and series.dtype == pl.String
    assert series.to_list() == values.tolist()


def test_random_strings_round_trip() -> None:
    rng = np.random.default_rng(7)
    alphabet = np.array(list("abcXYZ09 -'üßéøÅ日本😀"))
    values = np.array(["".join(rng.choice(alphabet, rng.integers(0, 25))) for _ in range(3000)])
    assert string_series(values).to_list() == values.tolist()


def test_empty_and_non_unicode_input() -> None:
    assert arrow_strings(np.array([], dtype="U5")).to_pylist() == []
    assert arrow_strings(np.array(["", ""])).to_pylist() == ["", ""]
    with pytest.raises(TypeError, match="unicode"):
        arrow_strings(np.array([1, 2]))
