"""Baseline fraud detectors behind one small protocol: `fit(frame)` then `score(frame)`.

A detector receives an exported `transactions` table (README, "Output schema"), builds its own
features with `detection.features.build_features` (strictly-past, leakage-safe) and returns one
score per row, in the input order; a higher score is more suspicious.

Training labels (`training_labels`): by default a detector trains only on what the bank knows at
the end of its training data. A row counts as fraud when its `reported_at` is not null and
`reported_at <= max(timestamp)` of the training frame; every other row (unreported or reported
later) counts as legit. `label="is_fraud"` uses the simulator's ground truth instead (an upper
bound no bank has).

Detectors:

- `RuleDetector`: a transparent weighted sum of a handful of rules (see `RULES`).
- `GradientBoostingDetector`: scikit-learn's `HistGradientBoostingClassifier` on the `f_*`
  features, balanced sample weights, fixed `random_state`.
- `load_detector("rules" | "gbm" | "package.module:factory", **kwargs)`: a detector by name, or
  a user's factory (any callable returning an object with `fit` and `score`).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Protocol, Self, runtime_checkable

import numpy as np
import polars as pl
import polars.selectors as cs
from threadpoolctl import threadpool_limits

from fraudsim.core.codes import INTERNAL_TRANSFER_TYPES, TX_TYPES
from fraudsim.core.errors import ConfigError
from fraudsim.detection.features import build_features

LABELS = ("reported", "is_fraud")
"""Label modes: `reported` (known by the end of the training data) or `is_fraud` (truth)."""


@runtime_checkable
class Detector(Protocol):
    """What `fraudsim stress` needs from a detector."""

    def fit(self, frame: pl.DataFrame) -> Detector:
        """Learn from a transactions table; return the fitted detector (usually `self`)."""
        ...

    def score(self, frame: pl.DataFrame) -> np.ndarray:
        """One float per row of a transactions table, in its order; higher = more suspicious."""
        ...


def training_labels(frame: pl.DataFrame, label: str = "reported") -> np.ndarray:
    """Binary training labels of a transactions table.

    Args:
        frame: Transactions with `timestamp` and `reported_at` (mode `reported`) or `is_fraud`.
        label: `reported`: fraud iff `reported_at` is not null and `<= max(timestamp)` of
            `frame` (what the bank knows when the training data ends); `is_fraud`: ground truth.

    Returns:
        A boolean array, one value per row.

    Raises:
        ConfigError: On an unknown label mode.
    """
    if label == "is_fraud":
        return frame["is_fraud"].fill_null(False).to_numpy().astype(bool)
    if label == "reported":
        end = frame["timestamp"].max()
        known = pl.col("reported_at").is_not_null() & (pl.col("reported_at") <= end)
        return frame.select(known.fill_null(False))[:, 0].to_numpy().astype(bool)
    raise ConfigError(f"unknown label mode {label!r}; allowed: {', '.join(LABELS)}")


# --- rules -----------------------------------------------------------------------------------

TINY_AMOUNT = 5.0
"""CNP amounts at or below this (major units) count as card-testing sized."""

RULES: dict[str, float] = {
    "card_velocity_1h": 2.0,
    "amount_spike": 1.5,
    "new_device_new_payee": 2.5,
    "night_cnp": 0.75,
    "tiny_cnp_burst": 3.0,
    "new_device_cnp": 0.75,
    "terminal_known_fraud": 1.5,
}
"""Rule name -> default weight. Each rule gives a value in [0, 1] per row:

- `card_velocity_1h`: prior rows of the card in the last hour, `(n - 1) / 4` clipped (5+ -> 1);
- `amount_spike`: amount over the customer's mean prior amount, `(ratio - 2) / 8` clipped,
  only with at least 5 prior rows;
- `new_device_new_payee`: a transfer from a device new to the customer to a new payee;
- `night_cnp`: card-not-present at local hours 0-5;
- `tiny_cnp_burst`: a CNP payment of at most `TINY_AMOUNT` at a merchant that saw other tiny
  CNP payments in the prior hour, `(n - 2) / 8` clipped (10+ -> 1) - card testing;
- `new_device_cnp`: a CNP payment from a device new to the customer;
- `terminal_known_fraud`: share of the terminal's prior rows already reported as fraud, x 5
  clipped (a compromised terminal).
"""


def _clip01(expr: pl.Expr) -> pl.Expr:
    return expr.cast(pl.Float64).fill_null(0.0).clip(0.0, 1.0)


def _flag(expr: pl.Expr) -> pl.Expr:
    return expr.fill_null(False).cast(pl.Float64)


def rule_values(frame: pl.DataFrame) -> pl.DataFrame:
    """The value in [0, 1] of every rule of `RULES`, one row per transaction in input order."""
    feats = build_features(frame)
    tiny = _tiny_cnp_at_merchant(frame)
    transfer = pl.col("f_tx_type_code").is_in([TX_TYPES.index(t) for t in INTERNAL_TRANSFER_TYPES])
    return feats.with_columns(__tiny_prior=tiny).select(
        card_velocity_1h=_clip01((pl.col("f_card_cnt_1h") - 1) / 4),
        amount_spike=_clip01(
            pl.when(pl.col("f_cust_prior_cnt") >= 5).then((pl.col("f_amount_to_cust_mean") - 2) / 8)
        ),
        new_device_new_payee=_flag(transfer & pl.col("f_new_device") & pl.col("f_new_payee")),
        night_cnp=_flag(pl.col("f_is_night") & pl.col("f_is_cnp")),
        tiny_cnp_burst=_clip01(
            pl.when(pl.col("f_is_cnp") & (pl.col("f_amount") <= TINY_AMOUNT)).then(
                (pl.col("__tiny_prior") - 2) / 8
            )
        ),
        new_device_cnp=_flag(pl.col("f_is_cnp") & pl.col("f_new_device")),
        terminal_known_fraud=_clip01(pl.col("f_term_known_fraud_share") * 5),
    )


def _tiny_cnp_at_merchant(frame: pl.DataFrame) -> pl.Series:
    """Tiny CNP rows at the row's merchant in `[t - 1h, t)` (strictly past), input order."""
    tiny = (pl.col("channel").cast(pl.String) == "cnp") & (pl.col("amount") <= TINY_AMOUNT)
    out = (
        frame.select("timestamp", "merchant_id", "channel", "amount")
        .with_row_index("__row")
        .sort(["timestamp", "__row"])
        .with_columns(
            __n=tiny.cast(pl.Int64)
            .rolling_sum_by("timestamp", "1h", closed="left")
            .over("merchant_id")
        )
        .sort("__row")
    )
    return out["__n"].fill_null(0)


class RuleDetector:
    """A transparent rule set: score = sum of `weight * rule value` over `RULES`.

    `fit` learns nothing (the rules and weights are fixed and documented); it only checks the
    frame has the columns the rules need.
    """

    def __init__(self, weights: dict[str, float] | None = None) -> None:
        unknown = sorted(set(weights or {}) - set(RULES))
        if unknown:
            raise ConfigError(f"unknown rule(s) {unknown}; allowed: {', '.join(RULES)}")
        self.weights = {**RULES, **(weights or {})}

    def fit(self, frame: pl.DataFrame) -> Self:
        rule_values(frame.head(1))
        return self

    def score(self, frame: pl.DataFrame) -> np.ndarray:
        values = rule_values(frame)
        total = pl.sum_horizontal(pl.col(k) * w for k, w in self.weights.items())
        return values.select(total)[:, 0].to_numpy().astype(np.float64)


# --- gradient boosting -----------------------------------------------------------------------


def feature_matrix(
    frame: pl.DataFrame, columns: list[str] | None = None
) -> tuple[np.ndarray, list[str]]:
    """The `f_*` features of `build_features(frame)` as a float matrix (null -> NaN).

    Args:
        frame: Transactions.
        columns: Feature columns to take, in order; default: every `f_*` column that is not
            entirely null (e.g. `f_dist_home_km` without the customers and merchants tables).

    Returns:
        The matrix and its column names.
    """
    feats = build_features(frame).select(cs.starts_with("f_")).cast(pl.Float64)
    if columns is None:
        columns = [c for c in feats.columns if feats[c].null_count() < feats.height]
    missing = sorted(set(columns) - set(feats.columns))
    if missing:
        raise ValueError(f"transactions lack the trained feature column(s) {missing}")
    return feats.select(columns).to_numpy(), list(columns)


class GradientBoostingDetector:
    """`HistGradientBoostingClassifier` on the `f_*` features; the score is P(fraud).

    Classes are balanced with sample weights (each class weighs half in total); `random_state`
    and no early stopping make it deterministic on the same data. The trees see every fraud
    row but only `negative_share` of the legit rows (chosen by a hash of `transaction_id`, so
    independent of row order; features still use every row): with balanced weights this
    barely changes the model and halves the fit time at the default 0.25.

    `threads` caps scikit-learn's OpenMP threads (default 1): on a shared machine, OpenMP's
    busy-waiting threads made one fit take 378 s instead of 31 s single-threaded (2 cores,
    load about 5).
    """

    def __init__(
        self,
        label: str = "reported",
        max_iter: int = 200,
        learning_rate: float = 0.1,
        max_leaf_nodes: int = 31,
        random_state: int = 0,
        negative_share: float = 0.25,
        threads: int | None = 1,
    ) -> None:
        if label not in LABELS:
            raise ConfigError(f"unknown label mode {label!r}; allowed: {', '.join(LABELS)}")
        if not 0.0 < negative_share <= 1.0:
            raise ConfigError(f"negative_share must be in (0, 1] (got {negative_share!r})")
        self.label = label
        self.negative_share = negative_share
        self.threads = threads
        self.params = {
            "max_iter": max_iter,
            "learning_rate": learning_rate,
            "max_leaf_nodes": max_leaf_nodes,
            "random_state": random_state,
            "early_stopping": False,
        }
        self.model = None
        self.features: list[str] = []

    def fit(self, frame: pl.DataFrame) -> Self:
        from sklearn.ensemble import HistGradientBoostingClassifier

        x, self.features = feature_matrix(frame)
        y = training_labels(frame, self.label)
        if y.all() or not y.any():
            raise ConfigError(
                f"training data needs both fraud and legit rows under label={self.label!r} "
                f"(got {int(y.sum())} fraud of {y.size})"
            )
        keep = y | self._legit_sample(frame)
        x, y = x[keep], y[keep]
        weight = np.where(y, 0.5 / y.sum(), 0.5 / (~y).sum()) * y.size
        self.model = HistGradientBoostingClassifier(**self.params)
        with threadpool_limits(self.threads):
            self.model.fit(x, y, sample_weight=weight)
        return self

    def _legit_sample(self, frame: pl.DataFrame) -> np.ndarray:
        """Rows the trees may see as legit: a `negative_share` hash sample of the rows."""
        if self.negative_share >= 1.0:
            return np.ones(frame.height, dtype=bool)
        if "transaction_id" in frame.columns:
            ids = frame["transaction_id"].hash(seed=self.params["random_state"]).to_numpy()
            return (ids % 1_000_000) < self.negative_share * 1_000_000
        rng = np.random.default_rng(self.params["random_state"])
        return rng.random(frame.height) < self.negative_share

    def score(self, frame: pl.DataFrame) -> np.ndarray:
        if self.model is None:
            raise RuntimeError("GradientBoostingDetector.score called before fit")
        x, _ = feature_matrix(frame, self.features)
        with threadpool_limits(self.threads):
            return self.model.predict_proba(x)[:, 1].astype(np.float64)


# --- loading ---------------------------------------------------------------------------------

BUILTIN: dict[str, Callable[..., Detector]] = {
    "rules": RuleDetector,
    "gbm": GradientBoostingDetector,
}


def load_detector(spec: str, **kwargs: object) -> Detector:
    """A detector from a spec: `rules`, `gbm` or `package.module:factory`.

    Args:
        spec: A built-in name or the import path of a callable returning a detector.
        **kwargs: Passed to the detector class or factory.

    Returns:
        An unfitted detector (any object with callable `fit` and `score`).

    Raises:
        ConfigError: One line, on an unknown name, a malformed path, a module or attribute that
            cannot be imported, a factory that fails, or a result without `fit` / `score`.
    """
    if spec in BUILTIN:
        factory: Callable[..., object] = BUILTIN[spec]
    elif ":" in spec:
        module_name, _, attr = spec.partition(":")
        if not module_name or not attr or ":" in attr:
            raise ConfigError(f"detector {spec!r}: expected 'package.module:factory'")
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:  # a user module may fail in any way on import
            raise ConfigError(
                f"detector {spec!r}: cannot import {module_name!r} ({_why(exc)})"
            ) from None
        factory = getattr(module, attr, None)  # type: ignore[assignment]
        if not callable(factory):
            raise ConfigError(f"detector {spec!r}: {module_name!r} has no callable {attr!r}")
    else:
        raise ConfigError(
            f"unknown detector {spec!r}; allowed: {', '.join(BUILTIN)} or 'package.module:factory'"
        )
    try:
        detector = factory(**kwargs)
    except ConfigError:
        raise
    except Exception as exc:
        raise ConfigError(f"detector {spec!r}: factory failed ({_why(exc)})") from None
    missing = [m for m in ("fit", "score") if not callable(getattr(detector, m, None))]
    if missing:
        raise ConfigError(
            f"detector {spec!r}: {type(detector).__name__} lacks method(s) {', '.join(missing)}"
        )
    return detector  # type: ignore[return-value]


def _why(exc: BaseException) -> str:
    """An exception as one short line."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if text != type(exc).__name__ else text
