"""One fidelity check as a plain dict, and the helpers that build the kinds of check."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from fraudsim.export.fidelity import FidelityCheck

Check = dict[str, Any]


def _finite(x: float) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


def make(
    section: str,
    name: str,
    target: float,
    simulated: float,
    error: float,
    tolerance: float,
    kind: str,
    note: str = "",
) -> Check:
    passed = bool(math.isfinite(error) and error <= tolerance + 1e-12)
    return {
        "section": section,
        "name": name,
        "target": _finite(target),
        "simulated": _finite(simulated),
        "error": _finite(error),
        "tolerance": tolerance,
        "kind": kind,
        "passed": passed,
        "note": note,
    }


def relative(
    section: str, name: str, target: float, simulated: float, tol: float, note: str = ""
) -> Check:
    """error = |sim - target| / target (or |sim| when the target is 0)."""
    error = abs(simulated - target) / abs(target) if target else abs(simulated)
    return make(section, name, target, simulated, error, tol, "relative", note)


def absolute(
    section: str, name: str, target: float, simulated: float, tol: float, note: str = ""
) -> Check:
    """error = |sim - target| (for shares whose target is 0 and for exact counts)."""
    return make(section, name, target, simulated, abs(simulated - target), tol, "absolute", note)


def at_most(section: str, name: str, limit: float, simulated: float, note: str = "") -> Check:
    """Passes when the simulated value does not exceed the limit; error = excess."""
    return make(section, name, limit, simulated, max(simulated - limit, 0.0), 0.0, "max", note)


def shape(
    section: str,
    name: str,
    target: list[float] | np.ndarray,
    counts: np.ndarray,
    tol: float,
    note="",
) -> Check:
    """L1 distance (0..2) between two normalised shapes."""
    p = np.asarray(target, float)
    p = p / p.sum()
    counts = np.asarray(counts, float)
    q = counts / counts.sum() if counts.sum() else np.zeros_like(p)
    l1 = float(np.abs(p - q).sum())
    return make(section, name, 0.0, l1, l1, tol, "l1", note)


def ks(section: str, name: str, distance: float, tol: float, note: str = "") -> Check:
    return make(section, name, 0.0, distance, distance, tol, "ks", note)


def from_fidelity(section: str, check: FidelityCheck) -> Check:
    """The writer's own checks (fraudsim.export.fidelity), in this module's form."""
    return make(
        section,
        check.name,
        check.target,
        check.simulated,
        check.error,
        check.tolerance,
        check.kind,
        check.note,
    )


def not_measured(section: str, name: str, why: str) -> Check:
    """A profile figure the exported tables cannot show: listed, not counted."""
    return {
        "section": section,
        "name": name,
        "target": None,
        "simulated": None,
        "error": None,
        "tolerance": None,
        "kind": "not_measured",
        "passed": None,
        "note": why,
    }


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
    from scipy.special import erf

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
