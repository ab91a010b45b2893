"""Matplotlib for every page: the Agg backend (no display on servers and in CI), set once, and
figures rendered to PNG for embedding. Plot modules take `plt` from here."""

from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

__all__ = ["Figure", "plt", "png", "png_base64"]


def png(fig: Figure, dpi: int = 90, tight: bool = True) -> bytes:
    """The figure as PNG bytes; the figure is closed (pyplot keeps no reference to it)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight" if tight else None)
    plt.close(fig)
    return buffer.getvalue()


def png_base64(fig: Figure, dpi: int = 90, tight: bool = True) -> str:
    """The figure as base64 PNG text (for a data: URI or a JSON field); the figure is closed."""
    return base64.b64encode(png(fig, dpi, tight)).decode("ascii")
