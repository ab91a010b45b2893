"""Deriving a profile (aggregates only) from a user's transaction table, and writing it."""

from __future__ import annotations

import os
import tempfile
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import tomli_w
from pydantic import ValidationError

from fraudsim.calibration.columns import SourceTable
from fraudsim.calibration.privacy import Privacy, quantiles_from_histogram
from fraudsim.calibration.profile import Profile
from fraudsim.core.errors import ConfigError, OutputError, format_validation_error
from fraudsim.core.version import __version__

DAYS_PER_MONTH = 30.44
LEVELS = (np.arange(100) + 0.5) / 100  # 100 quantile levels; the extreme rows are never released
# Data-independent amount bins for DP quantiles: 40 a decade from 0.01 to 10^9 (major units).
AMOUNT_EDGES = np.concatenate([[0.0], np.logspace(-2, 9, 441)])
ACTIVITY_BINS = 100  # account-months with 0..99 rows, and 100 or more
DEFAULT_MIN_COUNT = 5

# (words in the source type name, tx_type, channel) — first match wins; then by direction.
_TYPE_RULES: list[tuple[tuple[str, ...], str, str]] = [
    (("kartou", "atm"), "atm_withdrawal", "atm"),
    (("vklad", "deposit", "cash_in", "cash in"), "cash_deposit", "branch"),
    (("vyber", "withdraw", "cash_out", "cash out", "cash"), "atm_withdrawal", "branch"),
    (("duchod", "pension"), "pension", "incoming"),
    (("salary", "payroll", "wage"), "salary", "incoming"),
    (("urok", "interest"), "refund", "incoming"),
    (
        ("sipo", "pojistne", "uver", "bill", "insurance", "loan", "debit_order"),
        "bill_payment",
        "direct_debit",
    ),
    (("z uctu", "transfer in", "incoming"), "p2p_transfer", "incoming"),
    (("prevod", "transfer", "payment", "p2p"), "p2p_transfer", "online_banking"),
    (("refund", "return"), "refund", "pos"),
    (("online", "cnp", "ecommerce", "e-commerce"), "purchase", "cnp"),
    (("purchase", "pos", "card", "all"), "purchase", "pos"),
]
_FALLBACK = {
    "credit": [
        ("p2p_transfer", "incoming"),
        ("refund", "incoming"),
        ("salary", "incoming"),
        ("p2p_transfer", "online_banking"),
        ("cash_deposit", "branch"),
    ],
    "debit": [
        ("purchase", "pos"),
        ("purchase", "cnp"),
        ("bill_payment", "direct_debit"),
        ("p2p_transfer", "online_banking"),
        ("atm_withdrawal", "atm"),
        ("rent", "standing_order"),
    ],
}


def map_type(name: str, direction: str, taken: set[tuple[str, str, str]]) -> tuple[str, str]:
    """The (tx_type, channel) a source type is drawn as; unique with its direction."""
    lower = name.lower()
    candidates = [(t, c) for words, t, c in _TYPE_RULES if any(w in lower for w in words)]
    candidates += _FALLBACK[direction]
    for tx_type, channel in candidates:
        if (tx_type, channel, direction) not in taken:
            return tx_type, channel
    for tx_type in ("purchase", "p2p_transfer", "bill_payment", "refund", "salary"):
        for channel in ("pos", "cnp", "online_banking", "branch", "incoming", "standing_order"):
            if (tx_type, channel, direction) not in taken:
                return tx_type, channel
    raise ConfigError(f"too many transaction types to map onto the export enumerations ({name})")


def day_index(dates: pl.Expr) -> pl.Expr:
    """Day of month 1..30, with the last day of every month as 31."""
    return pl.when(dates == dates.dt.month_end()).then(31).otherwise(dates.dt.day())


def fit_calendar(
    by_weekday: np.ndarray, by_slot: np.ndarray, weekday: np.ndarray, slot: np.ndarray
) -> tuple[list[float], list[float]]:
    """Factors W (7) and D (31) with rows(date) ~ mean * W[weekday] * D[slot] over the dates
    of a calendar (`weekday`, `slot` per date; slot 30 is the last day of a month), fitted by
    iterative proportional fitting to the row totals per weekday and per slot; W has
    occurrence-weighted mean 1 and the product keeps the mean rows per date."""
    w, d = np.ones(7), np.ones(31)
    by_weekday, by_slot = np.asarray(by_weekday, float), np.asarray(by_slot, float)
    mean = by_slot.sum() / max(len(slot), 1)
    if mean <= 0 or by_weekday.sum() <= 0:  # all suppressed: neutral shapes
        return w.tolist(), d.tolist()
    for _ in range(30):
        w = by_weekday / np.maximum(np.bincount(weekday, mean * d[slot], 7), 1e-12)
        d = by_slot / np.maximum(np.bincount(slot, mean * w[weekday], 31), 1e-12)
    # Weekdays or days never seen in the source (a short table) get the neutral factor.
    w = np.where(np.bincount(weekday, minlength=7) > 0, w, 1.0)
    d = np.where(np.bincount(slot, minlength=31) > 0, d, 1.0)
    scale_w = w[weekday].mean()
    return np.round(w / scale_w, 5).tolist(), np.round(d * scale_w, 5).tolist()


def _shares(counts: np.ndarray) -> list[float]:
    total = counts.sum()
    return np.round(counts / total, 6).tolist() if total > 0 else [1.0] * len(counts)


class _Deriver:
    """Computes the released aggregates; every count passes through `Privacy`."""

    def __init__(self, source: SourceTable, privacy: Privacy) -> None:
        self.source, self.dp = source, privacy
        frame = source.frame.with_columns(pl.col("timestamp").dt.date().alias("date"))
        self.frame = frame.with_columns(
            (pl.col("date").dt.weekday() - 1).alias("weekday"),
            day_index(pl.col("date")).alias("dom"),
            pl.col("timestamp").dt.hour().alias("hour"),
            pl.col("date").dt.truncate("1mo").alias("month"),
        )
        self.first, last = self.frame["date"].min(), self.frame["date"].max()
        dates = pl.select(pl.date_range(self.first, last, "1d").alias("d"))["d"]
        self.date_weekday = (dates.dt.weekday() - 1).to_numpy()
        self.date_slot = pl.select(day_index(pl.lit(dates))).to_series().to_numpy() - 1

    def amounts(self, name: str, values: np.ndarray) -> list[float]:
        if self.dp.epsilon is None:
            return np.round(np.quantile(values, LEVELS), 4).tolist() if len(values) else []
        hist = np.histogram(values, AMOUNT_EDGES)[0]
        noisy = self.dp.counts(f"amount[{name}]", hist)
        return np.round(quantiles_from_histogram(noisy, AMOUNT_EDGES, LEVELS), 4).tolist()

    def calendar(self, name: str, part: pl.DataFrame) -> dict[str, list[float]]:
        """Weekday and day-of-month factors fitted jointly (see fit_calendar), so that
        month-end rows falling on some weekday in the source years are no weekday effect."""
        # Only the totals per weekday and per day of month are released (one noisy vector:
        # a row counts in both parts, so its sensitivity is 2); the calendar is public.
        totals = np.concatenate(
            [
                np.bincount(part["weekday"].to_numpy(), minlength=7)[:7],
                np.bincount(part["dom"].to_numpy() - 1, minlength=31)[:31],
            ]
        )
        noisy = self.dp.counts(f"calendar[{name}]", totals, sensitivity=2.0)
        weekday, dom = fit_calendar(noisy[:7], noisy[7:], self.date_weekday, self.date_slot)
        out = {"weekday_weights": weekday, "day_of_month_weights": dom}
        if self.source.has_time:
            hours = np.bincount(part["hour"].to_numpy(), minlength=24)
            out["hour_weights"] = _shares(self.dp.counts(f"hour[{name}]", hours))
        return out

    def count_types(self) -> None:
        """Rows per type (noisy): shares of types and, summed, the rows for the activity mean."""
        frame = self.frame
        self.type_rows = (
            frame.group_by("type").len().sort(["len", "type"], descending=[True, False])
        )
        self.type_counts = self.dp.counts(
            "rows", self.type_rows["len"].to_numpy().astype(np.float64)
        )
        self.noisy_rows = float(self.type_counts.sum())

    def activity(self) -> dict[str, Any]:
        """Rows per account and month, over each account's months from first to last row."""
        if not self.source.has_accounts:
            return {}
        per_cell = self.frame.group_by("account", "month").len()
        spans = self.frame.group_by("account").agg(
            pl.col("month").min().alias("a"), pl.col("month").max().alias("b")
        )
        months = spans.select(
            (pl.col("b").dt.year() - pl.col("a").dt.year()) * 12
            + pl.col("b").dt.month()
            - pl.col("a").dt.month()
            + 1
        ).to_series()
        zeros = int(months.sum()) - per_cell.height
        counts = np.minimum(per_cell["len"].to_numpy(), ACTIVITY_BINS)
        hist = np.bincount(counts, minlength=ACTIVITY_BINS + 1).astype(np.float64)
        hist[0] += zeros
        noisy = self.dp.counts("activity", hist, sensitivity=2.0)
        k = np.arange(len(noisy), dtype=np.float64)
        cells = max(noisy.sum(), 1.0)
        # The mean from the released row counts (many cells) rather than from the histogram
        # tail, which noise and suppression distort most.
        mean = (
            float(self.noisy_rows / cells) if self.noisy_rows else float((noisy * k).sum() / cells)
        )
        var = float((noisy * (k - mean) ** 2).sum() / cells)
        # Gamma-Poisson: between-account variance beyond Poisson sets the gamma shape.
        excess = var - mean
        shape = mean * mean / excess if excess > 1e-9 else 1000.0
        return {
            "activity_per_account_month": round(mean, 5),
            "activity_gamma_shape": round(min(shape, 1000.0), 5),
            "activity_histogram": np.round(noisy, 3).tolist(),
        }

    def types(self, activity: float) -> list[dict[str, Any]]:
        frame = self.frame
        names = self.type_rows
        noisy = self.type_counts
        total = max(noisy.sum(), 1.0)
        taken: set[tuple[str, str, str]] = set()
        out = []
        for name, count in zip(names["type"].to_list(), noisy.tolist(), strict=True):
            if count <= 0:
                continue  # suppressed: too few rows to release anything about this type
            part = frame.filter(pl.col("type") == name)
            credits = int((part["direction"] == "credit").sum())
            direction = "credit" if credits * 2 > part.height else "debit"
            tx_type, channel = map_type(name, direction, taken)
            taken.add((tx_type, channel, direction))
            quantiles = self.amounts(name, part["amount"].to_numpy())
            if not quantiles:
                continue
            entry: dict[str, Any] = {
                "name": name,
                "tx_type": tx_type,
                "channel": channel,
                "direction": direction,
                "share": round(count / total, 6),
                "per_account_month": round(activity * count / total, 6),
                "amount_quantiles": quantiles,
                **self.calendar(name, part),
            }
            entry.update(self.counterparties(name, part))
            out.append(entry)
        return out

    def counterparties(self, name: str, part: pl.DataFrame) -> dict[str, float]:
        cols = [c for c in ("counterparty", "counterparty_bank") if c in part.columns]
        if not cols:
            return {}
        has = pl.any_horizontal([pl.col(c).is_not_null() & (pl.col(c) != "") for c in cols])
        with_cp = part.filter(has)
        counts = [float(part.height), float(with_cp.height)]
        if "counterparty_bank" in part.columns:
            other = with_cp.filter(pl.col("counterparty_bank").is_not_null()).height
            counts.append(float(other))
        noisy = self.dp.counts(f"counterparty[{name}]", np.array(counts))
        share = min(noisy[1] / noisy[0], 1.0) if noisy[0] > 0 else 0.0
        other_share = min(noisy[2] / noisy[1], 1.0) if len(noisy) > 2 and noisy[1] > 0 else 0.0
        return {"counterparty_share": round(share, 5), "other_bank_share": round(other_share, 5)}

    def balances(self) -> list[float]:
        if "balance" not in self.frame.columns:
            return []
        values = self.frame["balance"].drop_nulls().to_numpy()
        if self.dp.epsilon is None:
            return np.round(np.quantile(values, LEVELS), 2).tolist() if len(values) else []
        # Balances may be negative: histogram of |balance| per sign, then quantiles.
        edges = np.concatenate([-AMOUNT_EDGES[:0:-1], AMOUNT_EDGES])
        noisy = self.dp.counts("balance", np.histogram(values, edges)[0])
        return np.round(quantiles_from_histogram(noisy, edges, LEVELS), 2).tolist()

    def fraud(self) -> dict[str, Any]:
        if not self.source.has_labels:
            return {}
        frame = self.frame
        bad = frame.filter(pl.col("label"))
        count, value = self.dp.counts(
            "fraud", np.array([float(bad.height), float(frame.height)])
        ).tolist()
        out: dict[str, Any] = {"fraud_share": round(count / value, 8) if value else 0.0}
        out["fraud_value_share"] = float(bad["amount"].sum() / max(frame["amount"].sum(), 1e-9))
        out["fraud_amount_quantiles"] = self.amounts("fraud", bad["amount"].to_numpy())
        if self.source.has_time:
            hours = np.bincount(bad["hour"].to_numpy(), minlength=24)
            out["fraud_hour_weights"] = _shares(self.dp.counts("hour[fraud]", hours))
        return out


def _kinds(source: SourceTable) -> list[str]:
    kinds = ["rows", "amount", "calendar"]
    if source.has_time:
        kinds.append("hour")
    if source.has_accounts:
        kinds.append("activity")
    if {"counterparty", "counterparty_bank"} & set(source.frame.columns):
        kinds.append("counterparty")
    if "balance" in source.frame.columns:
        kinds.append("balance")
    if source.has_labels:
        kinds.append("fraud")
    return kinds


def _default_profile() -> dict[str, Any]:
    ref = resources.files("fraudsim.calibration") / "profiles" / "default.toml"
    return tomllib.loads(ref.read_text(encoding="utf-8"))


def derive_profile(
    source: SourceTable,
    *,
    epsilon: float | None = None,
    min_count: int = DEFAULT_MIN_COUNT,
    currency: str | None = None,
    command: str | None = None,
) -> dict[str, Any]:
    """A profile dict: the default profile with the figures the data speaks to replaced, plus
    an [empirical] section of aggregates (quantiles, shapes, rates) and a provenance block.

    DP noise (with `epsilon`) comes from OS entropy on purpose: a seeded noise stream could be
    regenerated and subtracted."""
    if currency is not None and not (len(currency) == 3 and currency.isalpha()):
        raise ConfigError(f"--currency: '{currency}'; allowed: a 3-letter ISO 4217 code")
    privacy = Privacy(epsilon, min_count, _kinds(source), np.random.default_rng())
    derive = _Deriver(source, privacy)
    derive.count_types()
    activity = derive.activity()
    rate = activity.get("activity_per_account_month")
    if rate is None:  # no account column: keep the default profile's card activity
        rate = _default_profile()["cards"]["purchases_per_card_month"]
    types = derive.types(rate)
    if not types:
        raise ConfigError(
            f"{source.path}: every transaction type has fewer than --min-count {min_count} rows"
        )
    everything = derive.calendar("all", derive.frame)
    empirical: dict[str, Any] = {
        "source_has_time": source.has_time,
        "hour_shape": "data"
        if source.has_time
        else "default profile calendar.hour_weights (the source has dates only)",
        "levels": np.round(LEVELS, 4).tolist(),
        "activity_per_account_month": rate,
        "activity_gamma_shape": activity.get("activity_gamma_shape", 2.0),
        "activity_histogram": activity.get("activity_histogram", []),
        "accounts_in_source": source.has_accounts,
        **everything,
        "balance_quantiles": derive.balances(),
        "types": types,
    }
    fraud = derive.fraud()
    if fraud:
        empirical["fraud_share"] = fraud["fraud_share"]
        empirical["fraud_amount_quantiles"] = fraud["fraud_amount_quantiles"]
    profile = _default_profile()
    label = f"data: {source.path.name} sha256:{source.sha256[:16]}"
    sources = profile["sources"]
    profile["meta"] = {
        "name": f"from_{source.path.stem}",
        "description": f"Derived by fraudsim calibrate from {source.path.name} (aggregates only)",
        "currency": (currency or "XXX").upper(),
        "minor_units": 2,
    }
    profile["calendar"]["weekday_weights"] = everything["weekday_weights"]
    sources["calendar.weekday_weights"] = f"{label}: rows per weekday occurrence"
    if source.has_time:
        profile["calendar"]["hour_weights"] = everything["hour_weights"]
        sources["calendar.hour_weights"] = f"{label}: hour-of-day shape"
    # Opening balances and income on the data's scale, so balance checks make sense.
    monthly_in = sum(
        t["per_account_month"] * float(np.mean(t["amount_quantiles"]))
        for t in types
        if t["direction"] == "credit"
    )
    if monthly_in > 0 and source.has_accounts:
        profile["population"]["annual_income_median"] = round(12 * monthly_in, 2)
        sources["population.annual_income_median"] = f"{label}: 12 x mean credits per account-month"
        if empirical["balance_quantiles"]:
            median = float(np.median(empirical["balance_quantiles"]))
            months = max(median / monthly_in, 0.05)
            profile["balances"]["checking_months_median"] = round(months, 4)
            sources["balances.checking_months_median"] = (
                f"{label}: median balance / monthly credits"
            )
    if fraud:
        profile["fraud"]["prevalence_count_share"] = fraud["fraud_share"]
        profile["fraud"]["prevalence_value_share"] = round(fraud["fraud_value_share"], 8)
        sources["fraud.prevalence_count_share"] = f"{label}: labelled fraud share of rows"
        sources["fraud.prevalence_value_share"] = f"{label}: labelled fraud share of value"
        if "fraud_hour_weights" in fraud:
            profile["fraud"]["hour_weights"] = fraud["fraud_hour_weights"]
            sources["fraud.hour_weights"] = f"{label}: hour shape of labelled fraud"
    sources["empirical"] = f"{label}: honest traffic aggregates (see [empirical])"
    profile["empirical"] = empirical
    profile["provenance"] = {
        "source_file": source.path.name,
        "source_sha256": source.sha256,
        "rows": source.rows,
        "date_range": list(source.date_range),
        "columns": source.mapping,
        "command": command or "",
        "fraudsim_version": __version__,
        "privacy": privacy.provenance(),
    }
    return profile


def write_profile(profile: dict[str, Any], path: str | Path) -> Path:
    """Validate and write a profile atomically (temporary file in the same folder, renamed)."""
    path = Path(path)
    try:
        Profile.model_validate(profile)  # never write what cannot be loaded back
    except ValidationError as exc:
        raise ConfigError(format_validation_error(str(path), exc)) from None
    text = tomli_w.dumps(_drop_none(profile))
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise OutputError(f"{path}: folder {folder} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write("# Derived by fraudsim calibrate: aggregates only; see [provenance].\n")
            handle.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise OutputError(f"{path}: cannot write profile ({exc.strerror})") from None
    return path


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value
