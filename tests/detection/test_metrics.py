"""Tests of `fraudsim.detection.metrics` on hand-built frames with known answers."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from fraudsim.detection.metrics import (
    daily_alerts,
    per_typology_recall,
    pr_auc,
    recall_at_daily_budget,
    time_to_first_alert,
)

D1 = dt.datetime(2025, 3, 3, tzinfo=dt.UTC)
D2 = D1 + dt.timedelta(days=1)
H = dt.timedelta(hours=1)


def _frame(rows: list[dict[str, object]]) -> tuple[pl.DataFrame, np.ndarray]:
    defaults = {
        "card_id": None,
        "is_fraud": False,
        "fraud_type": None,
        "episode_id": None,
        "is_declined": False,
        "amount": 1.0,
    }
    data = [{**defaults, **{k: v for k, v in r.items() if k != "score"}} for r in rows]
    schema = {
        "timestamp": pl.Datetime("us", "UTC"),
        "card_id": pl.Int64,
        "account_id": pl.Int64,
        "is_fraud": pl.Boolean,
        "fraud_type": pl.String,
        "episode_id": pl.Int64,
        "is_declined": pl.Boolean,
        "amount": pl.Float64,
    }
    return pl.DataFrame(data, schema=schema), np.array([r["score"] for r in rows], float)


A = {"card_id": 1, "account_id": 100}
B = {"card_id": 2, "account_id": 101}
C = {"card_id": 7, "account_id": 102}
X = {"account_id": 7}  # a transfer: no card, the account is the entity
T1 = {"is_fraud": True, "fraud_type": "t1", "episode_id": 10}
T2 = {"is_fraud": True, "fraud_type": "t2", "episode_id": 11}

ROWS = [
    {"timestamp": D1 + 8 * H, "score": 0.1, "amount": 5.0, **A, **T2},
    {"timestamp": D1 + 9 * H, "score": 0.3, "amount": 7.0, "is_declined": True, **X, **T2},
    {"timestamp": D1 + 10 * H, "score": 0.5, "amount": 20.0, **B, **T1},
    {"timestamp": D1 + 12 * H, "score": 0.9, "amount": 50.0, **A},
    {"timestamp": D2 + 9 * H, "score": 0.2, "amount": 30.0, **B, **T1},
    {"timestamp": D2 + 11 * H, "score": 0.8, **C},
]
# Entity-days by max score. Day 1: A 0.9 (has a fraud row), B 0.5 (fraud), X 0.3 (fraud).
# Day 2: C 0.8 (legit), B 0.2 (fraud). Four fraudulent entity-days in all.


def test_pr_auc_known_values_and_sklearn_agreement() -> None:
    assert pr_auc([1, 0, 1, 0], np.array([0.9, 0.8, 0.7, 0.1])) == pytest.approx(0.5 + 0.5 * 2 / 3)
    assert pr_auc([1, 0], np.array([0.5, 0.5])) == pytest.approx(0.5)  # ties enter together
    assert pr_auc([0, 1, 1], np.array([0.1, 0.2, 0.3])) == pytest.approx(1.0)
    assert math.isnan(pr_auc([0, 0], np.array([0.1, 0.2])))
    with pytest.raises(ValueError, match="one value per row"):
        pr_auc([0, 1], np.array([0.1]))
    with pytest.raises(ValueError, match="NaN"):
        pr_auc([0, 1], np.array([0.1, np.nan]))
    from sklearn.metrics import average_precision_score

    rng = np.random.default_rng(3)
    for _ in range(20):
        y = rng.random(300) < 0.1
        s = np.round(rng.random(300) + y * 0.3, 1)  # many ties
        assert pr_auc(y, s) == pytest.approx(average_precision_score(y, s), abs=1e-12)


@pytest.mark.parametrize(("budget", "expected"), [(1, 1 / 4), (2, 3 / 4), (3, 1.0), (50, 1.0)])
def test_recall_at_daily_budget(budget: int, expected: float) -> None:
    frame, score = _frame(ROWS)
    assert recall_at_daily_budget(frame, score, budget) == pytest.approx(expected)
    # Row order does not matter.
    perm = np.random.default_rng(0).permutation(frame.height)
    assert recall_at_daily_budget(frame[perm], score[perm], budget) == pytest.approx(expected)


def test_cards_and_accounts_are_distinct_entities_and_no_fraud_is_nan() -> None:
    frame, score = _frame(
        [
            {"timestamp": D1, "score": 0.9, "card_id": 7, "account_id": 200},
            {"timestamp": D1 + H, "score": 0.1, "account_id": 7, "is_fraud": True},
        ]
    )
    assert recall_at_daily_budget(frame, score, 1) == 0.0  # card 7 is not account 7
    legit, s = _frame([{"timestamp": D1, "score": 0.5, **A}])
    assert math.isnan(recall_at_daily_budget(legit, s, 1))
    with pytest.raises(ValueError, match="budget"):
        recall_at_daily_budget(frame, score, 0)
    with pytest.raises(ValueError, match="one value per row"):
        recall_at_daily_budget(frame, score[:1], 1)


def test_ties_are_broken_by_entity_not_by_label() -> None:
    rows = [{"timestamp": D1, "score": 0.5, "card_id": c, "account_id": 1} for c in (3, 1, 2)]
    rows[1]["is_fraud"] = True  # card 1: the smallest id wins a tie
    frame, score = _frame(rows)
    assert recall_at_daily_budget(frame, score, 1) == 1.0
    rows[1]["is_fraud"], rows[0]["is_fraud"] = False, True  # card 3 loses it
    frame, score = _frame(rows)
    assert recall_at_daily_budget(frame, score, 1) == 0.0


def test_daily_alerts_rows_fire_at_the_cutoff() -> None:
    frame, score = _frame(ROWS)
    out = daily_alerts(frame, score, 2)
    assert out["day"].to_list() == [D1.date()] * 4 + [D2.date()] * 2
    assert out["entity_kind"].to_list() == ["card", "account", "card", "card", "card", "card"]
    assert out["entity_id"].to_list() == [1, 7, 2, 1, 2, 7]
    assert out["entity_alerted"].to_list() == [True, False, True, True, True, True]
    # Day 1 cutoff 0.5 (B), day 2 cutoff 0.2 (B): A's 0.1 row is not where A's alert fires.
    assert out["row_alerted"].to_list() == [False, False, True, True, True, True]


def test_per_typology_recall() -> None:
    frame, score = _frame(ROWS)
    out = per_typology_recall(frame, score, 2)
    expected = pl.DataFrame(
        {
            "fraud_type": ["t1", "t2"],
            "fraud_rows": [2, 2],
            "episodes": [1, 1],
            "fraud_entity_days": [2, 2],  # t1: B day 1, B day 2; t2: A day 1, X day 1
            "caught_entity_days": [2, 1],
            "recall": [1.0, 0.5],
            # t1 rows 0.5, 0.2 below legit 0.9, 0.8: (1/3 + 2/4) / 2; t2 rows 0.3, 0.1 likewise.
            "pr_auc": [(1 / 3 + 2 / 4) / 2, (1 / 3 + 2 / 4) / 2],
        }
    )
    assert_frame_equal(out, expected)
    # Budget 1 alerts A on day 1 (a t2 entity-day) and C on day 2.
    assert per_typology_recall(frame, score, 1)["recall"].to_list() == [0.0, 0.5]


def test_time_to_first_alert() -> None:
    frame, score = _frame(ROWS)
    out = time_to_first_alert(frame, score, 3)  # day 1 cutoff 0.3: X's row alerts, A's 0.1 not
    assert out["episode_id"].to_list() == [11, 10]  # by start
    assert out["fraud_type"].to_list() == ["t2", "t1"]
    assert out["start"].to_list() == [D1 + 8 * H, D1 + 10 * H]
    assert out["first_alert"].to_list() == [D1 + 9 * H, D1 + 10 * H]
    assert out["seconds_to_alert"].to_list() == [3600.0, 0.0]
    assert out["amount_before_alert"].to_list() == [5.0, 0.0]

    never = time_to_first_alert(frame, score, 1)  # only A (day 1) and C (day 2) are alerted
    assert never["first_alert"].to_list() == [None, None]
    assert never["seconds_to_alert"].to_list() == [None, None]
    # Declined rows lose nothing: episode 11 loses 5 (its 7 was declined), episode 10 20 + 30.
    assert never["amount_before_alert"].to_list() == [5.0, 50.0]

    two = time_to_first_alert(frame, score, 2)  # day 1 cutoff 0.5: X not alerted
    assert two["seconds_to_alert"].to_list() == [None, 0.0]
