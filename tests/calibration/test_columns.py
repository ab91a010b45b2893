"""Reading users' tables: column mapping, auto-detection, timestamps, directions, bad inputs."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from fraudsim.calibration.columns import parse_column_map, read_source
from fraudsim.core.errors import ConfigError

FIXTURES = Path(__file__).parents[1] / "fixtures"
BERKA = FIXTURES / "berka" / "trans_sample.asc"
CARD = FIXTURES / "card" / "card_sample.csv"


def test_parse_column_map() -> None:
    assert parse_column_map("timestamp=Time, amount=Amount,label=Class") == {
        "timestamp": "Time",
        "amount": "Amount",
        "label": "Class",
    }
    assert parse_column_map(None) == {}


def test_unknown_canonical_name_lists_the_allowed_ones() -> None:
    with pytest.raises(ConfigError, match=r"unknown name 'when'; allowed: timestamp, amount"):
        parse_column_map("when=Time")


def test_berka_auto_detection() -> None:
    source = read_source(BERKA)
    assert source.mapping["timestamp"] == "date"
    assert source.mapping["type"] == "operation"
    assert source.mapping["account"] == "account_id"
    assert source.mapping["counterparty_bank"] == "bank"
    assert not source.has_time  # YYMMDD dates only
    assert source.date_range == ("1993-01-01", "1994-10-31")
    directions = dict(source.frame.group_by("type").agg(pl.col("direction").first()).iter_rows())
    assert directions["VKLAD"] == "credit"  # PRIJEM
    assert directions["VYBER"] == "debit"  # VYDAJ / VYBER
    assert directions["UROK"] == "credit"  # interest rows have no operation: from k_symbol
    assert (source.frame["amount"] >= 0).all()
    assert len(source.sha256) == 64


def test_card_table_seconds_from_origin() -> None:
    source = read_source(CARD, parse_column_map("label=Class"), time_origin="2013-09-01")
    assert source.has_time and source.has_labels and not source.has_accounts
    assert source.date_range[0] == "2013-09-01"
    assert 0 < source.frame["label"].mean() < 0.05  # type: ignore[operator]


def test_signed_amounts_give_directions(tmp_path: Path) -> None:
    path = tmp_path / "signed.csv"
    path.write_text("when;value;acct\n2024-01-02 10:00;-12.5;a\n2024-01-03 11:30;40;b\n")
    source = read_source(path, parse_column_map("timestamp=when,amount=value,account=acct"))
    assert source.frame["direction"].to_list() == ["debit", "credit"]
    assert source.frame["amount"].to_list() == [12.5, 40.0]
    assert source.has_time


@pytest.mark.parametrize(
    ("text", "columns", "message"),
    [
        ("", None, r"empty file"),
        ("timestamp,amount\n", None, r"empty file"),
        ("when,amount\n2024-01-01,3\n", None, r"no timestamp column found .*--columns timestamp="),
        (
            "timestamp,amount\n2024-01-01,3\nyesterday,4\n",
            None,
            r"timestamp column 'timestamp': cannot parse 'yesterday'",
        ),
        (
            "timestamp,amount\n2024-01-01,3\n2024-01-02,lots\n",
            None,
            r"amount column 'amount' is not numeric \(e.g. 'lots'\)",
        ),
        (
            "timestamp,amount\n2024-01-01,3\n",
            "amount=Betrag",
            r"--columns amount=Betrag: no such column",
        ),
    ],
)
def test_bad_inputs_are_one_line_errors(
    tmp_path: Path, text: str, columns: str | None, message: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as info:
        read_source(path, parse_column_map(columns))
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_missing_file() -> None:
    with pytest.raises(ConfigError, match="file not found"):
        read_source("no/such/table.csv")
