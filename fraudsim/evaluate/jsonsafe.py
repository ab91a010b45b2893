"""JSON-safe copies of report data (NaN -> None, numpy scalars -> Python, dates -> strings)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def finite(value: float | None) -> float | None:
    """A float for JSON: NaN / infinite -> None."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def json_safe(obj: Any) -> Any:
    """A JSON-safe copy of nested dicts, lists and scalars."""
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    if isinstance(obj, bool | np.bool_):
        return bool(obj)
    if isinstance(obj, int | np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        return finite(obj)
    if obj is None or isinstance(obj, str):
        return obj
    return str(obj)
