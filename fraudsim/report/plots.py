"""The run report's plots (matplotlib, fraudsim.evaluate.figures), each as base64 PNG."""

from __future__ import annotations

import math
from collections.abc import Callable

import networkx as nx
import numpy as np
import polars as pl
from matplotlib.axes import Axes

from fraudsim.evaluate.figures import Figure, plt, png_base64
from fraudsim.report.run import RunData

Plot = Callable[[RunData], Figure | None]


def _shape_plot(ax: Axes, labels: list[str], target: list[float], counts: np.ndarray) -> None:
    x = np.arange(len(labels))
    t = np.asarray(target, float) / sum(target)
    s = counts / counts.sum() if counts.sum() else counts
    ax.bar(x, s, color="#4c78a8", label="simulated")
    ax.plot(x, t, "o-", color="#e45756", label="profile target")
    ax.set_xticks(x, labels, fontsize=7)
    ax.set_ylabel("share")
    ax.legend(fontsize=8)


def calendar_shapes(run: RunData) -> Figure | None:
    buys = run.honest.filter(pl.col("tx_type") == "purchase")
    if buys.height == 0:
        return None
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 3.2))
    _shape_plot(
        a,
        [str(h) for h in range(24)],
        run.profile.calendar.hour_weights,
        np.bincount(buys["hour"].to_numpy(), minlength=24)[:24].astype(float),
    )
    a.set_title("Card purchases by hour of day")
    _shape_plot(
        b,
        ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
        run.profile.calendar.weekday_weights,
        np.bincount(buys["weekday"].to_numpy() - 1, minlength=7)[:7].astype(float),
    )
    b.set_title("Card purchases by weekday (raw counts)")
    return fig


def _log_hist(ax: Axes, groups: dict[str, np.ndarray], title: str) -> None:
    edges = np.logspace(-1, 5, 60)
    for name, values in groups.items():
        if len(values):
            ax.hist(values, bins=edges, histtype="step", density=True, label=name)
    ax.set_xscale("log")
    ax.set_xlabel("amount (log scale)")
    ax.set_title(title)
    ax.legend(fontsize=7, ncol=2)


def amounts(run: RunData) -> Figure | None:
    h = run.honest
    if h.height == 0:
        return None
    names = dict(run.table("merchants").select("mcc", "category").unique().iter_rows())
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 3.5))
    _log_hist(
        a,
        {
            str(ch): h.filter(pl.col("channel") == ch)["amount"].to_numpy()
            for ch in h["channel"].unique().sort().to_list()
        },
        "Amounts by channel (honest rows)",
    )
    buys = h.filter(pl.col("tx_type") == "purchase")
    top = buys.group_by("mcc").len().sort("len", descending=True).head(8)["mcc"].to_list()
    _log_hist(
        b,
        {names.get(m, str(m)): buys.filter(pl.col("mcc") == m)["amount"].to_numpy() for m in top},
        "Card purchase amounts by category (8 largest)",
    )
    return fig


def per_card(run: RunData) -> Figure | None:
    counts = run.honest.filter(pl.col("card_id").is_not_null()).group_by("card_id").len()["len"]
    if len(counts) == 0:
        return None
    fig, ax = plt.subplots(figsize=(6, 3.2))
    values = counts.to_numpy()
    ax.hist(values, bins=np.arange(0, min(values.max(), 150) + 2) - 0.5, color="#4c78a8")
    ax.set_xlabel(f"transactions per card over {run.days} days")
    ax.set_ylabel("cards")
    ax.set_title("Transactions per card")
    return fig


def fraud_over_time(run: RunData) -> Figure | None:
    rows = (
        run.transactions()
        .filter(pl.col("is_fraud"))
        .group_by(pl.col("timestamp").dt.date().alias("date"), "fraud_type")
        .len()
        .collect()
    )
    if rows.height == 0:
        return None
    wide = rows.pivot(on="fraud_type", index="date", values="len").sort("date").fill_null(0)
    fig, ax = plt.subplots(figsize=(11, 3.5))
    dates = wide["date"].to_list()
    bottom = np.zeros(len(dates))
    for name in [c for c in wide.columns if c != "date"]:
        values = wide[name].to_numpy().astype(float)
        ax.bar(dates, values, bottom=bottom, label=name)
        bottom += values
    ax.set_title("Fraud rows by typology per day")
    ax.legend(fontsize=6, ncol=3)
    return fig


def declines(run: RunData) -> Figure | None:
    daily = run.table("daily_stats").sort("date")
    if daily.height == 0:
        return None
    fig, ax = plt.subplots(figsize=(8, 3))
    rate = daily["declined"] / daily["transactions"].clip(lower_bound=1)
    ax.plot(daily["date"].to_list(), rate.to_numpy() * 100, "o-")
    ax.set_ylabel("% declined")
    ax.set_title("Decline rate per day (all rows)")
    return fig


def report_delays(run: RunData) -> Figure | None:
    ep = run.table("episodes").filter(pl.col("reported_at").is_not_null())
    if ep.height == 0:
        return None
    days = ((ep["reported_at"] - ep["start"]).dt.total_seconds() / 86400).to_numpy()
    fig, ax = plt.subplots(figsize=(7, 3.2))
    ax.hist(np.maximum(days, 0.01), bins=np.logspace(-2, math.log10(200), 40), color="#f58518")
    ax.set_xscale("log")
    ax.set_xlabel("days from episode start to report (log scale)")
    ax.set_title(f"Report delays ({ep.height} reported episodes)")
    return fig


def laundering_shape(run: RunData) -> Figure | None:
    """The transfers of one mule or laundering episode, drawn as a graph of accounts."""
    ep = run.table("episodes").filter(
        pl.col("typology").str.contains("mule|fan_|scatter|pass_through|laundering")
    )
    if ep.height == 0:
        return None
    ids = ep["episode_id"].to_list()
    rows = (
        run.transactions()
        .filter(pl.col("episode_id").is_in(ids) & pl.col("counterparty_account_id").is_not_null())
        .select("episode_id", "account_id", "counterparty_account_id", "amount")
        .collect()
    )
    if rows.height == 0:
        return None
    # The episode with the most transfers (up to 60 edges) draws the clearest shape.
    sizes = rows.group_by("episode_id").len().filter(pl.col("len") <= 60).sort("len")
    if sizes.height == 0:
        return None
    chosen = sizes["episode_id"][-1]
    edges = rows.filter(pl.col("episode_id") == chosen)
    graph = nx.DiGraph()
    for src, dst, amount in edges.select(
        "account_id", "counterparty_account_id", "amount"
    ).iter_rows():
        w = graph.get_edge_data(src, dst, {"weight": 0.0})["weight"]
        graph.add_edge(src, dst, weight=w + amount)
    name = ep.filter(pl.col("episode_id") == chosen)["typology"][0]
    fig, ax = plt.subplots(figsize=(7, 5))
    pos = nx.spring_layout(graph, seed=1)
    degree = dict(graph.out_degree())
    colors = ["#e45756" if degree[n] > 1 else "#4c78a8" for n in graph.nodes]
    nx.draw_networkx(
        graph, pos, ax=ax, node_size=120, node_color=colors, with_labels=False, arrowsize=8
    )
    ax.set_title(f"{name}: transfers of one episode ({graph.number_of_nodes()} accounts)")
    ax.axis("off")
    return fig


PLOTS: dict[str, tuple[str, Plot]] = {
    "calendar": ("Hour-of-day and weekday shapes", calendar_shapes),
    "amounts": ("Amount distributions", amounts),
    "per_card": ("Transactions per card", per_card),
    "fraud_over_time": ("Fraud by typology over time", fraud_over_time),
    "declines": ("Decline rate over time", declines),
    "report_delays": ("Report-delay distribution", report_delays),
    "laundering": ("A mule or laundering shape", laundering_shape),
}


def render_all(run: RunData) -> dict[str, dict[str, str]]:
    """title and base64 PNG of every plot the run has data for."""
    out = {}
    for key, (title, make) in PLOTS.items():
        fig = make(run)
        if fig is not None:
            out[key] = {"title": title, "png": png_base64(fig, dpi=80)}
    return out
