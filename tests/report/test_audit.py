"""fraudsim audit: planted shortcuts are flagged, causal features never look ahead, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from fraudsim.core.errors import FraudsimError
from fraudsim.report.audit import audit_run, audit_table_markdown, write_audit
from fraudsim.report.audit_features import derive

START = 1_740_960_000  # 2025-03-03 00:00:00 UTC


def _stamps(seconds: np.ndarray | list[int]) -> pl.Series:
    return (
        pl.from_epoch(pl.Series(np.asarray(seconds, np.int64) + START), time_unit="s")
        .dt.cast_time_unit("us")
        .dt.replace_time_zone("UTC")
    )


def _ids(values: list[int | None] | np.ndarray) -> pl.Series:
    return pl.Series(values, dtype=pl.Int64)


def _transactions(
    n: int, fraud: int, days: int = 10, planted: bool = True, one_victim: bool = False
) -> pl.DataFrame:
    """Card purchases over `days` days; fraud rows (spread over time and customers, or all on
    one victim) all cost 29.99 if planted."""
    rng = np.random.default_rng(3)
    secs = np.sort(rng.integers(0, days * 86_400, n))
    is_fraud = np.zeros(n, bool)
    is_fraud[rng.choice(n, fraud, replace=False)] = True
    amount = np.round(rng.lognormal(3.0, 1.0, n), 2)
    amount[amount == 29.99] = 30.0
    if planted:
        amount[is_fraud] = 29.99
    customer = rng.integers(0, 300, n)
    if one_victim:
        customer[is_fraud] = 999
    merchant = rng.integers(0, 40, n)
    stamps = _stamps(secs)
    nulls = _ids([None] * n)
    return pl.DataFrame(
        {
            "transaction_id": _ids(rng.permutation(n) * 7919 + 11),
            "timestamp": stamps,
            "customer_id": _ids(customer),
            "account_id": _ids(customer + 10_000),
            "card_id": _ids(customer + 20_000),
            "merchant_id": _ids(merchant),
            "terminal_id": _ids(merchant * 10 + rng.integers(0, 3, n)),
            "device_id": nulls,
            "counterparty_account_id": nulls,
            "amount": amount,
            "currency": ["EUR"] * n,
            "channel": ["pos"] * n,
            "mcc": pl.Series([5411] * n, dtype=pl.Int16),
            "tx_type": ["purchase"] * n,
            "direction": ["debit"] * n,
            "is_fraud": is_fraud,
            "fraud_type": pl.Series(
                ["planted.v1" if x else None for x in is_fraud], dtype=pl.String
            ),
            "episode_id": _ids([i if x else None for i, x in enumerate(is_fraud)]),
            "account_role": np.where(is_fraud, "victim", "none"),
            "pattern": pl.Series([None] * n, dtype=pl.String),
            "is_declined": [False] * n,
            "decline_reason": ["none"] * n,
            # reported two days after the fraud; never for honest rows
            "reported_at": (
                stamps + pl.Series([2 * 86_400_000_000] * n).cast(pl.Duration("us"))
            ).set(pl.Series(~is_fraud), None),
        }
    )


def _write_run(path: Path, frame: pl.DataFrame) -> Path:
    (path / "transactions.parquet").mkdir(parents=True)
    frame.write_parquet(path / "transactions.parquet" / "part-s0000-d00000.parquet")
    return path


def test_planted_amount_is_flagged(tmp_path: Path) -> None:
    run = _write_run(tmp_path / "run", _transactions(4000, 120))
    result = audit_run(run)
    flagged = [f["what"] for f in result.flags]
    assert any("amount == 29.99" in what for what in flagged), flagged
    top = result.rules[0]
    assert top["rule"] == "amount == 29.99" and top["test_precision"] == 1.0
    assert result.models["raw"]["roc_auc"] > 0.99
    assert any("tables missing" in note for note in result.notes)
    json_path, html_path = write_audit(result, tmp_path / "out")
    text = json_path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    data = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))
    assert data["flags"] and data["fraud_rows"] == 120
    page = html_path.read_text()
    assert page.index("Flags") < page.index("one-threshold rules")
    assert "amount == 29.99" in page and "http" not in page
    assert "| transactions | amount == 29.99 |" in audit_table_markdown(result)


def test_one_victim_is_not_a_shortcut(tmp_path: Path) -> None:
    """A rule whose fraud rows are all one customer's memorises that customer: no rule flag."""
    result = audit_run(_write_run(tmp_path / "run", _transactions(4000, 120, one_victim=True)))
    assert result.rules[0]["test_customers_caught"] == 1
    assert not [f for f in result.flags if "rule" in f["what"]]


def test_honest_amounts_are_not_flagged(tmp_path: Path) -> None:
    result = audit_run(_write_run(tmp_path / "run", _transactions(4000, 120, planted=False)))
    assert not [f for f in result.flags if "amount" in f["what"]]
    assert result.models["raw"]["roc_auc"] < 0.8


def test_no_fraud_rows_gives_notes(tmp_path: Path) -> None:
    result = audit_run(_write_run(tmp_path / "run", _transactions(500, 0)))
    assert result.fraud_rows == 0 and not result.rules and not result.flags
    assert any("too few fraud rows" in note for note in result.notes)
    json_path, _ = write_audit(result, tmp_path / "out")
    assert json.loads(json_path.read_text())["models"] == {}
    assert "No flags" in (tmp_path / "out" / "audit.html").read_text()


def test_bad_input_raises_one_line(tmp_path: Path) -> None:
    with pytest.raises(FraudsimError, match="no such run directory"):
        audit_run(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FraudsimError) as err:
        audit_run(tmp_path / "empty")
    assert str(tmp_path / "empty" / "transactions.parquet") in str(err.value)
    run = _write_run(tmp_path / "run", _transactions(200, 0).drop("amount"))
    with pytest.raises(FraudsimError, match=r"missing column.*amount"):
        audit_run(run)


def test_causal_features_do_not_look_ahead() -> None:
    """Four rows on one card, device and terminal at t = 0, 0, 100, 4000 s. Rows in the same
    second are ties and never see each other; the first row sees nothing."""
    t = [0, 0, 100, 4000]
    frame = pl.DataFrame(
        {
            "timestamp": _stamps(t),
            "customer_id": _ids([1, 2, 2, 3]),
            "account_id": _ids([10, 10, 10, 10]),
            "card_id": _ids([7, 7, 7, 7]),
            "merchant_id": _ids([5, 5, 5, 5]),
            "terminal_id": _ids([50, 50, 50, 50]),
            "device_id": _ids([9, 9, 9, 9]),
            "counterparty_account_id": _ids([None, None, None, None]),
            "amount": [10.0, 20.0, 20.0, 40.0],
            "direction": ["debit"] * 4,
            # row 0 is fraud, reported at 50 s: known to the bank at rows 2 and 3 only
            "reported_at": _stamps([50, 0, 0, 0]).set(pl.Series([False, True, True, True]), None),
        }
    )
    f, events = derive(frame, None)
    assert events is None
    assert f["card_tx_1h"].to_list() == [0, 0, 2, 0]
    assert f["card_tx_24h"].to_list() == [0, 0, 2, 3]
    assert f["card_amount_24h"].to_list() == [0, 0, 30, 50]
    assert f["device_customers_so_far"].to_list() == [1, 1, 2, 3]
    assert f["device_new_for_customer"].to_list() == [1, 1, 0, 1]
    assert f["same_amount_before_on_account"].to_list() == [0, 0, 1, 0]
    assert f["terminal_known_frauds_30d"].to_list() == [0, 0, 1, 1]
    assert f["terminal_risk_30d"].to_list() == [0, 0, 0.5, 1 / 3]
    assert np.isnan(f["secs_since_prev_tx"][0]) and f["secs_since_prev_tx"][2] == 100
    # customer 2's earlier debits: only row 1 (20.0), so row 2 (20.0) is at its median
    assert np.isnan(f["amount_to_customer_median"][1]) and f["amount_to_customer_median"][2] == 1


def test_features_of_a_prefix_are_unchanged() -> None:
    """No look-ahead anywhere: dropping every row from day 5 on changes no earlier row's feature
    (NaN compares equal to NaN)."""
    frame = _transactions(3000, 100).with_columns(
        device_id=_ids(np.random.default_rng(1).integers(0, 40, 3000)),
        direction=pl.Series(np.where(np.arange(3000) % 7 == 0, "credit", "debit")),
    )
    prefix = frame.filter(pl.col("timestamp") < _stamps([5 * 86_400])[0])
    whole = derive(frame, None)[0].head(prefix.height)
    part = derive(prefix, None)[0]
    assert 0 < prefix.height < frame.height
    for name in part.columns:
        a, b = whole[name].to_numpy(), part[name].to_numpy()
        assert np.array_equal(a, b, equal_nan=True), name


def test_audit_of_a_simulated_run(tiny_run: Path) -> None:
    result = audit_run(tiny_run, max_honest_rows=20_000)
    assert result.rows > 0 and result.events["rows"] > 0
    if result.models:
        assert 0.5 <= result.models["raw+derived"]["roc_auc"] <= 1.0
        assert {t["typology"] for t in result.per_typology} <= {
            "card_testing.v1",
            "mule_network.v1",
            "app_scam.v1",
        }
    for rule in result.rules:
        assert rule["feature"] not in ("is_fraud", "fraud_type", "episode_id", "reported_at")
    assert "| features | ROC AUC |" in audit_table_markdown(result)
