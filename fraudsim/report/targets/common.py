"""Measurements the target families share: amount samples, monthly incomes, KS distances."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
from scipy.special import erf

from fraudsim.report.run import RunData

SAMPLE = 200_000  # amounts per KS test (a random sample keeps the sort cheap)


def sample(values: np.ndarray, seed: int = 0) -> np.ndarray:
    if len(values) <= SAMPLE:
        return values
    return np.random.default_rng(seed).choice(values, SAMPLE, replace=False)


def monthly_income(run: RunData) -> pl.DataFrame:
    """customer_id -> monthly net income, age band, income band, region, segment."""
    return run.table("customers").select(
        "customer_id",
        (pl.col("annual_income") / 12).alias("monthly"),
        "age",
        "age_band",
        "income_band",
        "region",
        "segment",
    )


def ks_lognormal(values: np.ndarray, median: float, sigma: float) -> float:
    """KS distance between a sample and a lognormal(log median, sigma)."""
    x = np.sort(np.asarray(values, float))
    x = x[x > 0]
    if len(x) == 0:
        return float("nan")
    return ks_sorted(x, lognormal_cdf(x, [math.log(median)], sigma, [1.0]))


def lognormal_cdf(
    x: np.ndarray, mus: list[float], sigma: float, weights: list[float]
) -> np.ndarray:
    """CDF of a mixture of lognormals sharing sigma."""
    logx = np.log(np.maximum(x, 1e-12))
    total = np.zeros(len(x))
    for mu, w in zip(mus, weights, strict=True):
        total += w * 0.5 * (1 + erf((logx - mu) / (sigma * math.sqrt(2))))
    return total / sum(weights)


def ks_sorted(x: np.ndarray, cdf: np.ndarray) -> float:
    """KS distance of a sorted sample against the model CDF evaluated at the sample."""
    n = len(x)
    if n == 0:
        return float("nan")
    upper = np.arange(1, n + 1) / n - cdf
    lower = cdf - np.arange(0, n) / n
    return float(max(upper.max(), lower.max()))
