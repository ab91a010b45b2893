"""Safe file output: JSON-safe copies (NaN -> None, numpy scalars -> Python, dates -> strings),
atomic text files and file digests."""

from __future__ import annotations

import hashlib
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from fraudsim.core.errors import OutputError


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


def write_text_atomic(path: Path, text: str) -> None:
    """Write a text file through a temporary beside it (no half-written report)."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"{path}: cannot write ({exc.strerror or exc})") from None


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
