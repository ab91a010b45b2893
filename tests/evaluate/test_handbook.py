"""The Handbook baseline: its windows, its delayed terminal risk and its 7+7+7 split."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from fraudsim.core.errors import FraudsimError
from fraudsim.evaluate.handbook import (
    FEATURES,
    card_precision_top_k,
    handbook_baseline,
    handbook_features,
    split,
)

T0 = dt.datetime(2025, 3, 3, tzinfo=dt.UTC)


def frame(rows: list[tuple[float, int, int, float, bool]]) -> pl.DataFrame:
    """(hours after T0, customer, merchant, amount, fraud) rows."""
    return pl.DataFrame(
        {
            "timestamp": [T0 + dt.timedelta(hours=h) for h, *_ in rows],
            "customer_id": [c for _, c, *_ in rows],
            "merchant_id": [m for _, _, m, *_ in rows],
            "amount": [a for *_, a, _ in rows],
            "is_fraud": [f for *_, f in rows],
        }
    )


def test_customer_windows_include_the_current_transaction():
    got = handbook_features(frame([(1, 1, 9, 10.0, False), (2, 1, 9, 30.0, False)]))
    assert got["customer_nb_tx_1d"].to_list() == [1, 2]
    assert got["customer_avg_amount_1d"].to_list() == [10.0, 20.0]


def test_terminal_risk_sees_only_frauds_older_than_the_delay():
    rows = [(0, 1, 5, 10.0, True), (24 * 3, 2, 5, 10.0, False), (24 * 7.5, 3, 5, 10.0, False)]
    got = handbook_features(frame(rows))
    # day 3: the fraud of day 0 is inside the 7-day delay, so unknown
    assert got["terminal_risk_1d"][1] == 0.0 and got["terminal_nb_tx_7d"][1] == 0
    # day 7.5: the fraud is 7.5 days old, inside (t - 7 - 1d, t - 7]
    assert got["terminal_risk_1d"][2] == 1.0


def test_split_leaves_known_compromised_customers_out_of_the_test_week():
    rows = [(24 * d + 1, c, 1, 5.0, c == 1 and d == 1) for d in range(21) for c in (1, 2)]
    features = handbook_features(frame(rows))
    train, test = split(features, T0.date())
    assert train["day"].max() < dt.date(2025, 3, 10) <= dt.date(2025, 3, 17) <= test["day"].min()
    assert test["customer_id"].unique().to_list() == [2]


def test_card_precision_counts_compromised_customers_among_the_top_k():
    rows = [(1, c, 1, 1.0, c < 3) for c in range(10)]
    test = handbook_features(frame(rows))
    scores = np.where(test["customer_id"].to_numpy() < 3, 1.0, 0.0)
    assert card_precision_top_k(test, scores, k=3) == 1.0
    assert card_precision_top_k(test, scores, k=6) == 0.5


def test_features_are_the_handbooks_fifteen():
    assert len(FEATURES) == 15


def test_a_run_without_transactions_is_a_clear_error(tmp_path: Path):
    with pytest.raises(FraudsimError, match="no transactions"):
        handbook_baseline(tmp_path)
