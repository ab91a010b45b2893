"""Reading a user's transaction table (CSV or Parquet) into canonical columns for calibration."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from fraudsim.core.errors import ConfigError
from fraudsim.core.files import sha256_file

CANONICAL = (
    "timestamp",
    "amount",
    "account",
    "type",
    "category",
    "channel",
    "direction",
    "balance",
    "counterparty",
    "counterparty_bank",
    "label",
)
REQUIRED = ("timestamp", "amount")
# Seconds-since-start timestamps without --time-origin count from this date (documented in
# README "Calibrate from your data"); only shapes (hour, weekday) depend on it.
DEFAULT_TIME_ORIGIN = dt.datetime(2000, 1, 1)

# Common spellings, lower case, first match wins. Berka trans.asc, the ULB credit-card table
# (Time/Amount/Class), PaySim (step/type/amount/isFraud) and generic names.
_AUTO: dict[str, tuple[str, ...]] = {
    "timestamp": ("timestamp", "time", "datetime", "date", "trans_date", "transaction_date", "ts"),
    "amount": ("amount", "amt", "value", "transaction_amount"),
    "account": ("account_id", "account", "customer_id", "card_id", "nameorig", "cc_num"),
    "type": ("operation", "tx_type", "transaction_type", "type"),
    "category": ("k_symbol", "category", "mcc"),
    "channel": ("channel",),
    "direction": ("direction", "type"),
    "balance": ("balance", "balance_after", "newbalanceorig"),
    "counterparty": ("counterparty", "counterparty_account", "account_to", "namedest", "account"),
    "counterparty_bank": ("bank", "bank_to", "counterparty_bank"),
    "label": ("class", "label", "is_fraud", "isfraud", "fraud"),
}
# Words meaning credit / debit in a direction or type column (Berka: PRIJEM in, VYDAJ/VYBER out).
CREDIT_WORDS = ("prijem", "credit", "cr", "in", "incoming", "deposit", "cash_in")
DEBIT_WORDS = ("vydaj", "vyber", "debit", "dr", "out", "outgoing", "withdrawal", "cash_out")


@dataclass
class SourceTable:
    """A user's table in canonical columns (see CANONICAL), with where it came from."""

    frame: pl.DataFrame
    has_time: bool  # False for dates-only data: no hour-of-day shape can be derived
    path: Path
    sha256: str
    rows: int
    date_range: tuple[str, str]
    mapping: dict[str, str] = field(default_factory=dict)  # canonical -> source column

    @property
    def has_accounts(self) -> bool:
        return "account" in self.frame.columns

    @property
    def has_labels(self) -> bool:
        return "label" in self.frame.columns


def parse_column_map(text: str | None) -> dict[str, str]:
    """`timestamp=Time,amount=Amount,...` -> {canonical: source column}."""
    if not text:
        return {}
    mapping: dict[str, str] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not value:
            raise ConfigError(f"--columns: '{part.strip()}' is not NAME=COLUMN")
        if key not in CANONICAL:
            raise ConfigError(f"--columns: unknown name '{key}'; allowed: {', '.join(CANONICAL)}")
        mapping[key] = value
    return mapping


def _sniff_separator(path: Path) -> str:
    with path.open("rb") as handle:
        head = handle.readline().decode("utf-8", errors="replace")
    return max((",", ";", "\t", "|"), key=head.count)


def _read_raw(path: Path) -> pl.DataFrame:
    label = str(path)
    if not path.exists():
        raise ConfigError(f"{label}: file not found")
    if path.is_dir():
        raise ConfigError(f"{label}: is a directory; expected a CSV or Parquet file")
    if path.stat().st_size == 0:
        raise ConfigError(f"{label}: empty file; expected a header row and transactions")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            frame = pl.read_parquet(path)
        else:
            frame = pl.read_csv(
                path,
                separator=_sniff_separator(path),
                infer_schema_length=10_000,
                null_values=[""],
                truncate_ragged_lines=True,
            )
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"{label}: cannot read as CSV or Parquet ({first})") from None
    if frame.height == 0:
        raise ConfigError(f"{label}: empty file; no transaction rows after the header")
    return frame


def _detect(frame: pl.DataFrame, given: dict[str, str], label: str) -> dict[str, str]:
    lower = {c.lower().strip(): c for c in frame.columns}
    mapping: dict[str, str] = {}
    for name, column in given.items():
        if column not in frame.columns:
            raise ConfigError(
                f"{label}: --columns {name}={column}: no such column; "
                f"columns are: {', '.join(frame.columns)}"
            )
        mapping[name] = column
    used = set(mapping.values())
    for name in CANONICAL:
        if name in mapping:
            continue
        for alias in _AUTO[name]:
            column = lower.get(alias)
            # `type` may serve as direction (Berka) only when it is not already the type.
            if column is not None and (column not in used or name == "direction"):
                if name == "direction" and mapping.get("type") == column:
                    continue
                mapping[name] = column
                used.add(column)
                break
    for name in REQUIRED:
        if name not in mapping:
            raise ConfigError(
                f"{label}: no {name} column found (columns: {', '.join(frame.columns)}); "
                f"name it with --columns {name}=COLUMN"
            )
    return mapping


def _bad_value(series: pl.Series, parsed: pl.Series) -> str:
    bad = series.filter(parsed.is_null() & series.is_not_null())
    return repr(bad[0]) if len(bad) else "?"


def _try_parse(parse: Callable[[], pl.Series], text: pl.Series) -> pl.Series:
    """polars raises when it cannot infer any format (every value bad): all null then."""
    try:
        return parse()
    except pl.exceptions.PolarsError:
        return pl.Series(text.name, [None] * len(text), dtype=pl.Datetime("us"))


def _timestamps(
    series: pl.Series, column: str, label: str, origin: dt.datetime | None
) -> tuple[pl.Series, bool]:
    """Datetimes (naive, local) and whether they carry a time of day."""
    where = f"{label}: timestamp column '{column}'"
    dtype = series.dtype
    if dtype == pl.Datetime or isinstance(dtype, pl.Datetime):
        out = series.dt.replace_time_zone(None) if series.dtype.time_zone else series  # type: ignore[attr-defined]
        return out.cast(pl.Datetime("us")), True
    if dtype == pl.Date:
        return series.cast(pl.Datetime("us")), False
    if dtype.is_integer() and series.drop_nulls().len():
        low, high = int(series.min()), int(series.max())  # type: ignore[arg-type]
        if low >= 100_101 and high <= 991_231 and origin is None:
            # Berka-style YYMMDD integers (930101): dates only.
            parsed = (
                series.cast(pl.String).str.zfill(6).str.strptime(pl.Date, "%y%m%d", strict=False)
            )
            if parsed.null_count() > series.null_count():
                raise ConfigError(
                    f"{where}: not YYMMDD dates (e.g. {_bad_value(series, parsed)}); "
                    "allowed: datetimes, dates, YYMMDD or seconds with --time-origin"
                )
            return parsed.cast(pl.Datetime("us")), False
    if dtype.is_numeric():
        start = origin or DEFAULT_TIME_ORIGIN
        seconds = series.cast(pl.Float64)
        if seconds.is_nan().any() or seconds.is_infinite().any():
            raise ConfigError(f"{where}: seconds include NaN or infinity")
        micro = (seconds * 1e6).round().cast(pl.Int64)
        out = pl.lit(start).cast(pl.Datetime("us")) + pl.duration(microseconds=micro)
        return pl.select(out.alias(column)).to_series(), True
    if dtype == pl.String:
        text = series.str.strip_chars()
        parsed = _try_parse(lambda: text.str.to_datetime(strict=False, time_unit="us"), text)
        if parsed.null_count() == text.null_count():
            has_time = bool(
                (parsed.dt.time() != dt.time(0)).any() or text.str.contains(r"[T ]\d").any()
            )
            if parsed.dtype.time_zone:  # type: ignore[attr-defined]
                parsed = parsed.dt.replace_time_zone(None)
            return parsed, has_time
        dates = _try_parse(lambda: text.str.to_date(strict=False), text)
        if dates.null_count() == text.null_count():
            return dates.cast(pl.Datetime("us")), False
        raise ConfigError(
            f"{where}: cannot parse {_bad_value(text, parsed)} as a date or time; "
            "allowed: ISO datetimes, dates, YYMMDD or seconds with --time-origin"
        )
    raise ConfigError(f"{where}: unsupported type {dtype}; allowed: datetime, date, text, seconds")


def _direction(frame: pl.DataFrame, mapping: dict[str, str], amount: pl.Series) -> pl.Series:
    """debit/credit per row: a direction (or Berka type) column, else the sign, else debit."""
    by_sign = pl.select(
        pl.when(amount < 0).then(pl.lit("debit")).otherwise(pl.lit("credit"))
    ).to_series()
    if not (amount < 0).any():
        by_sign = pl.Series(["debit"] * len(amount), dtype=pl.String)
    if "direction" in mapping:
        text = frame[mapping["direction"]].cast(pl.String).str.strip_chars().str.to_lowercase()
        words = pl.select(
            pl.when(text.is_in(CREDIT_WORDS))
            .then(pl.lit("credit"))
            .when(text.is_in(DEBIT_WORDS))
            .then(pl.lit("debit"))
            .otherwise(pl.lit(None, pl.String))
        ).to_series()
        if words.null_count() < len(words):
            return words.fill_null(by_sign).alias("direction")
    return by_sign.alias("direction")


def _parse_origin(time_origin: str | dt.datetime | None) -> dt.datetime | None:
    if time_origin is None or isinstance(time_origin, dt.datetime):
        return time_origin
    try:
        return dt.datetime.fromisoformat(str(time_origin))
    except ValueError:
        raise ConfigError(
            f"--time-origin: '{time_origin}' is not a date or datetime; allowed: ISO format "
            "such as 2013-09-01 or 2013-09-01T00:00:00"
        ) from None


def read_source(
    path: str | Path,
    columns: dict[str, str] | None = None,
    time_origin: str | dt.datetime | None = None,
) -> SourceTable:
    """Read a CSV (`,` `;` tab or `|`) or Parquet table into canonical columns.

    Amounts become absolute values in major units; `direction` says debit or credit.
    `type` falls back to `category` for rows without one (Berka interest rows).
    """
    path = Path(path)
    label = str(path)
    origin = _parse_origin(time_origin)
    raw = _read_raw(path)
    mapping = _detect(raw, columns or {}, label)
    stamps, has_time = _timestamps(raw[mapping["timestamp"]], mapping["timestamp"], label, origin)
    if stamps.null_count() == len(stamps):
        raise ConfigError(f"{label}: timestamp column '{mapping['timestamp']}' is empty")
    amount_raw = raw[mapping["amount"]]
    if amount_raw.dtype == pl.String:
        amount = (
            amount_raw.str.strip_chars().str.replace_all(r"[ _]", "").cast(pl.Float64, strict=False)
        )
        if amount.null_count() > amount_raw.null_count():
            bad = _bad_value(amount_raw, amount)
            raise ConfigError(
                f"{label}: amount column '{mapping['amount']}' is not numeric (e.g. {bad}); "
                "allowed: numbers with a '.' decimal point"
            )
    elif amount_raw.dtype.is_numeric():
        amount = amount_raw.cast(pl.Float64)
    else:
        raise ConfigError(
            f"{label}: amount column '{mapping['amount']}' is not numeric ({amount_raw.dtype})"
        )
    out: dict[str, pl.Series] = {
        "timestamp": stamps.alias("timestamp"),
        "amount": amount.abs().alias("amount"),
        "direction": _direction(raw, mapping, amount).alias("direction"),
    }
    for name in ("account", "category", "channel", "counterparty", "counterparty_bank"):
        if name in mapping:
            out[name] = raw[mapping[name]].cast(pl.String).str.strip_chars().alias(name)
    if "type" in mapping:
        kind = raw[mapping["type"]].cast(pl.String).str.strip_chars()
        kind = kind.replace("", None)
        if "category" in out:
            kind = kind.fill_null(out["category"].replace("", None))
        out["type"] = kind.fill_null(out["direction"]).alias("type")
    else:
        out["type"] = pl.Series("type", ["all"] * raw.height)
    if "balance" in mapping:
        out["balance"] = raw[mapping["balance"]].cast(pl.Float64, strict=False).alias("balance")
    if "label" in mapping:
        text = raw[mapping["label"]].cast(pl.String).str.strip_chars().str.to_lowercase()
        out["label"] = text.is_in(["1", "true", "yes", "fraud", "1.0"]).alias("label")
    frame = pl.DataFrame(list(out.values())).filter(
        pl.col("timestamp").is_not_null() & pl.col("amount").is_not_null()
    )
    if frame.height == 0:
        raise ConfigError(f"{label}: no rows with both a timestamp and an amount")
    first, last = frame["timestamp"].min(), frame["timestamp"].max()
    return SourceTable(
        frame=frame,
        has_time=has_time,
        path=path,
        sha256=sha256_file(path),
        rows=frame.height,
        date_range=(str(first.date()), str(last.date())),  # type: ignore[union-attr]
        mapping=mapping,
    )
