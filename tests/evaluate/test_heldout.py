"""Tests of the held-out measurement (fraudsim.evaluate.heldout) and the breakdowns
(fraudsim.evaluate.breakdown) on hand-built tables."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from fraudsim.evaluate import heldout
from fraudsim.evaluate.breakdown import breakdowns, pool

DAY1 = dt.datetime(2025, 3, 3, 10, tzinfo=dt.UTC)
DAY2 = DAY1 + dt.timedelta(days=1)


def _tx(rows: list[tuple]) -> tuple[pl.DataFrame, np.ndarray]:
    """Rows of (time, card, fraud_type or None, episode or None, score, channel, customer)."""
    frame = pl.DataFrame(
        {
            "timestamp": [r[0] for r in rows],
            "card_id": [r[1] for r in rows],
            "account_id": [1000 + r[1] for r in rows],
            "customer_id": [r[6] for r in rows],
            "is_fraud": [r[2] is not None for r in rows],
            "fraud_type": [r[2] for r in rows],
            "episode_id": [r[3] for r in rows],
            "channel": [r[5] for r in rows],
            "amount": [10.0] * len(rows),
            "is_declined": [False] * len(rows),
        },
        schema_overrides={"episode_id": pl.Int64, "fraud_type": pl.String},
    )
    return frame, np.array([r[4] for r in rows], dtype=float)


def _world() -> tuple[pl.DataFrame, np.ndarray]:
    return _tx(
        [
            # day 1: honest cards 1-3 at 0.9 / 0.5 / 0.1
            (DAY1, 1, None, None, 0.9, "pos", 1),
            (DAY1, 2, None, None, 0.5, "pos", 2),
            (DAY1, 3, None, None, 0.1, "cnp", 3),
            # card 10: typology A (episode 1) at 0.6 beside an honest row at 0.2
            (DAY1, 10, None, None, 0.2, "pos", 4),
            (DAY1, 10, "a.v1", 1, 0.6, "cnp", 4),
            # card 11: typology B (episode 2) at 0.95; card 12: B (episode 3) at 0.05
            (DAY1, 11, "b.v1", 2, 0.95, "cnp", 5),
            (DAY1, 12, "b.v1", 3, 0.05, "cnp", 6),
            # day 2: episode 1 again on card 10, now on top; one honest card at 0.3
            (DAY2, 4, None, None, 0.3, "pos", 1),
            (DAY2, 10, "a.v1", 1, 0.99, "cnp", 4),
        ]
    )


def test_isolated_rank_counts_only_honest_entities() -> None:
    tx, score = _world()
    ranks = heldout.isolated_ranks(tx, score, heldout.typology_key(tx)).sort("typology", "day")
    ahead = dict(
        zip(
            zip(ranks["typology"], ranks["entity"], ranks["day"], strict=True),
            ranks["legit_ahead"],
            strict=True,
        )
    )
    # A on day 1 (0.6): only honest card 1 (0.9) is ahead; fraud card 11 (0.95) does not count.
    assert ahead[("a.v1", "0:10", DAY1.date())] == 1
    assert ahead[("b.v1", "0:11", DAY1.date())] == 0
    assert ahead[("b.v1", "0:12", DAY1.date())] == 3  # below every honest card
    assert ahead[("a.v1", "0:10", DAY2.date())] == 0

    at1 = {r["typology"]: r for r in heldout.per_typology(ranks, budget=1).to_dicts()}
    # Episode 1 is missed on its first day, caught on its second: first-day 0, ever 1.
    assert at1["a.v1"]["first_day_caught"] == 0 and at1["a.v1"]["episodes_caught"] == 1
    assert at1["a.v1"]["entity_days_caught"] == 1 and at1["a.v1"]["fraud_entity_days"] == 2
    assert at1["b.v1"]["episodes"] == 2 and at1["b.v1"]["first_day_recall"] == 0.5
    at2 = {r["typology"]: r for r in heldout.per_typology(ranks, budget=2).to_dicts()}
    assert at2["a.v1"]["first_day_recall"] == 1.0


def test_tie_with_an_honest_entity_counts_against_the_fraud() -> None:
    tx, score = _tx([(DAY1, 1, None, None, 0.5, "pos", 1), (DAY1, 2, "a.v1", 1, 0.5, "cnp", 2)])
    ranks = heldout.isolated_ranks(tx, score, heldout.typology_key(tx))
    assert ranks["legit_ahead"].to_list() == [1]


def test_typology_key_and_class() -> None:
    tx, _ = _world()
    episodes = pl.DataFrame({"episode_id": [1, 2, 3], "label": [None, "slow", None]})
    keys = heldout.typology_key(tx, episodes).to_list()
    assert "b.v1 [slow]" in keys and "a.v1" in keys and "b.v1" in keys
    seen = {"a.v1", "b.v1"}
    assert heldout.classify("a.v1", seen) == "seen"
    assert heldout.classify("b.v1 [slow]", seen) == "variant"
    assert heldout.classify("c.v1", seen) == "unseen"
    assert heldout.classify("c.v1 [x]", seen) == "unseen"


def test_wilson_and_macro() -> None:
    assert heldout.wilson(0, 0) == (None, None)
    low, high = heldout.wilson(5, 10)
    assert low < 0.5 < high and low >= 0 and high <= 1
    rows = [
        {"episodes": 10, "first_day_caught": 10},
        {"episodes": 10, "first_day_caught": 0},
        {"episodes": heldout.MIN_EPISODES - 1, "first_day_caught": 0},
    ]
    m = heldout.macro(rows)
    assert m["macro_recall"] == 0.5 and m["left_out"] == 1 and m["typologies"] == 2
    assert m["low"] <= 0.5 <= m["high"]
    assert heldout.macro(rows[2:])["macro_recall"] is None


def test_summary_pools_entries_and_flags_a_clear_gap() -> None:
    def entry(label: str, rows: list[tuple[str, int, int]]) -> dict:
        iso = [
            {
                "typology": t,
                "episodes": n,
                "first_day_caught": k,
                "fraud_entity_days": n,
                "entity_days_caught": k,
            }
            for t, n, k in rows
        ]
        return {"label": label, "isolated": iso, "budget_curve": [{"budget": 5, **r} for r in iso]}

    entries = [
        entry("one", [("a.v1", 40, 38), ("u.v1", 40, 4)]),
        entry("two", [("a.v1", 10, 10), ("b.v1", 30, 27), ("u.v1", 10, 1), ("w.v1", 30, 6)]),
    ]
    s = heldout.summarise(entries, {"a.v1", "b.v1"}, budget=5)
    pooled = {r["typology"]: r for r in s["typologies"]}
    assert pooled["a.v1"]["episodes"] == 50 and pooled["a.v1"]["entries"] == ["one", "two"]
    assert s["by_class"]["seen"]["first_day"]["typologies"] == 2
    assert s["gap_seen_minus_unseen"] == pytest.approx(
        (48 / 50 + 27 / 30) / 2 - (5 / 50 + 6 / 30) / 2
    )
    assert s["clearly_lower"] is True
    assert {r["class"] for r in s["budget_curve"]} == set(heldout.CLASSES)


def test_breakdowns_sum_to_the_totals() -> None:
    tx, score = _world()
    customers = pl.DataFrame(
        {
            "customer_id": [1, 2, 3, 4, 5, 6],
            "age_band": ["18-24", "25-34", "18-24", "65-74", "25-34", "65-74"],
            "income_band": ["low", "low", "high", "high", "low", "high"],
            "region": [0, 1, 0, 1, 0, 1],
        }
    )
    out = breakdowns(tx, score, budget=2, customers=customers)
    assert set(out) == {"channel", "age_band", "income_band", "region"}
    fraud_entity_days = 4  # cards 10, 11, 12 on day 1 and card 10 on day 2
    legit_rows = int((~tx["is_fraud"]).sum())
    for name in ("age_band", "income_band", "region"):
        rows = out[name]
        assert sum(r["fraud_entity_days"] for r in rows) == fraud_entity_days, name
        assert sum(r["legit_rows"] for r in rows) == legit_rows, name
        caught = sum(r["caught_entity_days"] for r in rows)
        assert caught == 2, name  # day 1: cards 11 (0.95) and 1 (0.9) alerted; day 2: card 10
    channels = {r["group"]: r for r in out["channel"]}
    assert channels["cnp"]["fraud_entity_days"] == fraud_entity_days
    assert channels["pos"]["fraud_entity_days"] == 0 and channels["pos"]["recall"] is None
    # Honest card 1 (0.9) is alerted on day 1: its row is both alerted and declined.
    assert channels["pos"]["legit_alerted"] >= 1
    assert sum(r["legit_rows"] for r in out["channel"]) == legit_rows
    doubled = pool([out, out])
    assert doubled["region"][0]["legit_rows"] == 2 * out["region"][0]["legit_rows"]
    assert doubled["region"][0]["recall"] == out["region"][0]["recall"]
