"""The stress report's plots: matplotlib figures (fraudsim.evaluate.figures) as `<img>` tags.

Each function takes parts of a `fraudsim stress` report (plain dicts) and returns one
self-contained `<img>` element, or "" when there is nothing to draw.
"""

from __future__ import annotations

from matplotlib.patches import Patch

from fraudsim.evaluate import html
from fraudsim.evaluate.figures import Figure, plt, png_base64

CLASS_COLOURS = {"seen": "#2b6cb0", "variant": "#dd8a1b", "unseen": "#c53030"}


def _img(fig: Figure, alt: str) -> str:
    return html.img(png_base64(fig, dpi=90), alt)


def typology_recall(rows: list[dict]) -> str:
    """Horizontal bars: first-day recall per typology key, coloured by class, Wilson bars."""
    rows = [r for r in rows if r.get("first_day_recall") is not None]
    if not rows:
        return ""
    order = {c: i for i, c in enumerate(CLASS_COLOURS)}
    rows = sorted(rows, key=lambda r: (order.get(r["class"], 9), -(r["first_day_recall"] or 0)))
    fig, ax = plt.subplots(figsize=(8, 0.3 * len(rows) + 1.2))
    y = list(range(len(rows)))[::-1]
    values = [r["first_day_recall"] for r in rows]
    err = [
        [max(0.0, v - (r["first_day_low"] or v)) for v, r in zip(values, rows, strict=True)],
        [max(0.0, (r["first_day_high"] or v) - v) for v, r in zip(values, rows, strict=True)],
    ]
    ax.barh(y, values, xerr=err, color=[CLASS_COLOURS.get(r["class"], "grey") for r in rows])
    ax.set_yticks(y, [f"{r['typology']} (n={r['episodes']})" for r in rows], fontsize=8)
    ax.set_xlim(0, 1)
    ax.set_xlabel("first-day episode recall at the daily budget (isolated), 95% Wilson")
    handles = [Patch(color=colour, label=cls) for cls, colour in CLASS_COLOURS.items()]
    ax.legend(handles=handles, loc="lower right", fontsize=8)
    return _img(fig, "recall per typology, seen vs unseen")


def pr_curves(entries: list[dict]) -> str:
    """One precision-recall curve per suite entry."""
    fig, ax = plt.subplots(figsize=(6, 4.5))
    drawn = False
    for e in entries:
        curve = e.get("pr_curve") or {}
        if curve.get("recall"):
            ax.plot(curve["recall"], curve["precision"], label=f"{e['label']}")
            drawn = True
    if not drawn:
        plt.close(fig)
        return ""
    ax.set_xlabel("recall (rows)")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=8)
    return _img(fig, "precision-recall curves per suite entry")


def budget_curve(rows: list[dict]) -> str:
    """Macro first-day recall per class against the daily alert budget (log x)."""
    fig, ax = plt.subplots(figsize=(6, 4))
    drawn = False
    for cls, colour in CLASS_COLOURS.items():
        pts = [r for r in rows if r["class"] == cls and r["macro_recall"] is not None]
        if pts:
            ax.plot(
                [r["budget"] for r in pts],
                [r["macro_recall"] for r in pts],
                marker="o",
                color=colour,
                label=cls,
            )
            ax.fill_between(
                [r["budget"] for r in pts],
                [r["low"] for r in pts],
                [r["high"] for r in pts],
                color=colour,
                alpha=0.15,
            )
            drawn = True
    if not drawn:
        plt.close(fig)
        return ""
    ax.set_xscale("log")
    ax.set_xlabel("daily alert budget (entities)")
    ax.set_ylabel("macro first-day recall")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=8)
    return _img(fig, "recall against the daily alert budget")


def breakdowns(pooled: dict[str, list[dict]]) -> str:
    """Recall (bars) and alerted friction (dots, right axis) per group, one panel per breakdown."""
    names = [n for n, rows in pooled.items() if rows]
    if not names:
        return ""
    fig, axes = plt.subplots(len(names), 1, figsize=(8, 2.6 * len(names)), squeeze=False)
    for ax, name in zip(axes[:, 0], names, strict=True):
        rows = pooled[name]
        x = list(range(len(rows)))
        ax.bar(x, [r["recall"] or 0 for r in rows], color="#2b6cb0")
        ax.set_xticks(x, [str(r["group"]) for r in rows], fontsize=8, rotation=30)
        ax.set_ylim(0, 1)
        ax.set_ylabel("recall")
        ax.set_title(name, fontsize=9)
        twin = ax.twinx()
        twin.plot(x, [r["friction_alerted"] or 0 for r in rows], "o", color="#c53030")
        twin.set_ylabel("friction (legit alerted)", color="#c53030", fontsize=8)
        twin.set_ylim(bottom=0)
    fig.tight_layout()
    return _img(fig, "recall and friction by segment and channel")


def _weekly_series(entry: dict, by_class: bool) -> dict[str, list[tuple[int, float]]]:
    """Isolated entity-day recall per week, pooled or per class: {name: [(week, recall)]}."""
    acc: dict[str, dict[int, list[int]]] = {}
    for r in entry.get("weekly_isolated", []):
        name = r.get("class", "all") if by_class else "all"
        cell = acc.setdefault(name, {}).setdefault(r["week"], [0, 0])
        cell[0] += r["caught"]
        cell[1] += r["fraud_entity_days"]
    return {
        name: [(w + 1, weeks[w][0] / weeks[w][1]) for w in sorted(weeks)]
        for name, weeks in acc.items()
    }


def weekly(entries: list[dict]) -> str:
    """Left: isolated entity-day recall per week of each entry (all its fraud). Right: per
    class, for entries where seen typologies and their variants meet (drift)."""
    mixed = [
        e
        for e in entries
        if {"seen", "variant"} <= {r.get("class") for r in e.get("weekly_isolated", [])}
    ]
    if not any(e.get("weekly_isolated") for e in entries):
        return ""
    fig, axes = plt.subplots(1, 2 if mixed else 1, figsize=(11 if mixed else 6, 4), squeeze=False)
    left = axes[0, 0]
    for e in entries:
        points = _weekly_series(e, by_class=False).get("all", [])
        if points:
            left.plot(*zip(*points, strict=True), marker="o", label=e["label"])
    left.set_title("all fraud of each entry", fontsize=9)
    if mixed:
        right = axes[0, 1]
        styles = ["-", "--", ":", "-."]
        for i, e in enumerate(mixed):
            for cls, points in _weekly_series(e, by_class=True).items():
                right.plot(
                    *zip(*points, strict=True),
                    styles[i % len(styles)],
                    marker="o",
                    color=CLASS_COLOURS.get(cls, "grey"),
                    label=f"{e['label']}: {cls}",
                )
        right.set_title("by class, entries mixing seen typologies and variants", fontsize=9)
    for ax in axes[0]:
        ax.set_xlabel("week of the scenario")
        ax.set_ylabel("entity-day recall (isolated)")
        ax.set_ylim(0, 1.02)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return _img(fig, "recall per week")
