"""Causal features a fraud team derives from a run: relational, temporal, velocity, money."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import polars as pl

HOUR = 3600
DAY = 86_400
VELOCITY = {"1h": HOUR, "24h": DAY, "7d": 7 * DAY}
RISK_WINDOW = 30 * DAY  # terminal/merchant risk look-back, as in the ULB handbook
MARGIN = RISK_WINDOW + DAY  # room on the time axis for every window and offset used below
# Entity columns joined onto the transactions (feature name: prefix_column), per table:
# (join key, prefix, columns).
ENTITY = (
    ("customer_id", "customer", ("age", "annual_income", "segment", "income_band")),
    ("account_id", "account", ("opening_balance", "limit", "kind")),
    ("card_id", "card", ("kind", "product")),
)

# Causality convention: time resolution is one second (the exporter writes whole seconds) and a
# row's history is every row at a strictly earlier second. Rows in the same second are ties whose
# order the bank cannot know, so they never see each other, except in the `same_second_*`
# features, which are symmetric on purpose: they probe the simulator (bursts stamped at one
# instant), not what a bank would know.


def seconds(stamps: pl.Series) -> np.ndarray:
    """Epoch seconds (int64) of a timestamp column."""
    return stamps.dt.epoch("s").to_numpy().astype(np.int64)


def codes(*series: pl.Series) -> list[np.ndarray]:
    """Dense int64 codes shared by all the series (same value, same code); -1 for null."""
    joined = pl.concat([s.cast(pl.Int64).rename("k") for s in series])
    ranks = joined.rank("dense").fill_null(0).to_numpy().astype(np.int64) - 1
    bounds = np.cumsum([0] + [len(s) for s in series])
    return [ranks[a:b] for a, b in pairwise(bounds)]


def dense(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dense codes of the pairs of non-negative int64 keys (a -1 on either side gives -1)."""
    valid = (a >= 0) & (b >= 0)
    out = np.full(len(a), -1, np.int64)
    if valid.any():
        a, b = a[valid], b[valid]
        width = int(b.max()) + 1
        if (int(a.max()) + 1) * width < 2**62:  # one 1-d sort is far faster than unique(axis=0)
            out[valid] = np.unique(a * width + b, return_inverse=True)[1].ravel()
        else:
            pairs = np.stack([a, b], axis=1)
            out[valid] = np.unique(pairs, axis=0, return_inverse=True)[1].ravel()
    return out


class Axis:
    """Maps (key, second) to one sortable int64 so a searchsorted answers per-key window queries."""

    def __init__(self, *times: np.ndarray) -> None:
        full = [t for t in times if t.size]
        lo = min(int(t.min()) for t in full) if full else 0
        hi = max(int(t.max()) for t in full) if full else 0
        self.origin = lo - MARGIN
        self.scale = hi - self.origin + MARGIN + 1
        self.start = np.int64(self.origin)  # a time before every row: "since the beginning"

    def composite(self, key: np.ndarray, time: np.ndarray | np.int64) -> np.ndarray:
        return key * self.scale + (time - self.origin)


class Timeline:
    """History rows (key, second[, value]) sorted by key then time."""

    def __init__(
        self, axis: Axis, key: np.ndarray, time: np.ndarray, value: np.ndarray | None = None
    ) -> None:
        comp = axis.composite(key, time)
        # Ties (same key, same second) only matter when a value is read off the last row: then
        # keep the table order (stable); else the faster unstable sort gives the same counts.
        order = np.argsort(comp, kind="stable" if value is not None else None)
        keep = key[order] >= 0  # null keys (-1) sort first; they are no history
        self.axis = axis
        self.comp = comp[order][keep]
        self.time = time[order][keep]
        self.value = value[order][keep] if value is not None else None
        self.cum = (
            np.concatenate(([0.0], np.cumsum(self.value))) if self.value is not None else None
        )
        # A table queried against itself (velocity, same second ...) reuses this order: the
        # needles are then sorted, and searchsorted on sorted needles is several times faster
        # on millions of rows (it walks the history instead of jumping around it).
        self._key, self._order = key, order

    def _pos(self, key: np.ndarray, time: np.ndarray | np.int64) -> np.ndarray:
        """Index of the first history row with the same key at `time` or later."""
        needles = self.axis.composite(key, time)
        if key is not self._key:
            return np.searchsorted(self.comp, needles, side="left")
        out = np.empty(len(needles), np.int64)
        out[self._order] = np.searchsorted(self.comp, needles[self._order], side="left")
        return out

    def count(self, key: np.ndarray, start: np.ndarray | np.int64, stop: np.ndarray) -> np.ndarray:
        """Rows with the same key in [start, stop); NaN for a null key."""
        n = (self._pos(key, stop) - self._pos(key, start)).astype(np.float64)
        return np.where(key >= 0, n, np.nan)

    def recent(
        self, key: np.ndarray, t: np.ndarray, widths: list[int]
    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Per width w: the count and the value sum of the rows with the same key in [t - w, t);
        NaN for a null key. The stop position is searched once for all widths."""
        stop = self._pos(key, t)
        counts, totals = [], []
        for width in widths:
            start = self._pos(key, t - width)
            counts.append(np.where(key >= 0, (stop - start).astype(np.float64), np.nan))
            if self.cum is not None:
                totals.append(np.where(key >= 0, self.cum[stop] - self.cum[start], np.nan))
        return counts, totals

    def last_before(self, key: np.ndarray, time: np.ndarray) -> np.ndarray:
        """Index (into the sorted history) of the key's latest row strictly before `time`, or -1."""
        p = self._pos(key, time) - 1
        same = (p >= 0) & (key >= 0)
        same[same] = self.comp[p[same]] >= key[same] * self.axis.scale
        return np.where(same, p, -1)

    def since_last(self, key: np.ndarray, time: np.ndarray) -> np.ndarray:
        """Seconds since the key's latest strictly earlier row; NaN without one."""
        return time - self.take(self.time, self.last_before(key, time))

    @staticmethod
    def take(values: np.ndarray, index: np.ndarray) -> np.ndarray:
        """values[index] as floats, NaN where index is -1 (also for an empty history)."""
        out = np.full(len(index), np.nan)
        ok = index >= 0
        out[ok] = values[index[ok]]
        return out


def distinct_so_far(
    axis: Axis, key: np.ndarray, who: np.ndarray, t: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per row: distinct `who` seen with the same key at an earlier second, plus the row's own
    `who` when new (so >= 1), and whether the (key, who) pair is new at this row."""
    pair = dense(key, who)
    if not (pair >= 0).any():  # e.g. no row has a device
        return np.full(len(key), np.nan), np.full(len(key), np.nan)
    n_pairs = int(pair.max()) + 1
    first = np.full(n_pairs, np.iinfo(np.int64).max)
    ok = pair >= 0
    np.minimum.at(first, pair[ok], t[ok])
    pair_key = np.full(n_pairs, -1, np.int64)
    pair_key[pair[ok]] = key[ok]
    earlier = Timeline(axis, pair_key, first).count(key, axis.start, t)
    new = np.where(ok, first[np.maximum(pair, 0)] >= t, False)
    return np.where(ok, earlier + new, np.nan), np.where(ok, new.astype(np.float64), np.nan)


def first_seen(key: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Earliest second of each key code (the rows themselves included, so it is causal)."""
    ok = key >= 0
    first = np.full(max(int(key.max()) + 1 if key.size else 0, 1), np.iinfo(np.int64).max)
    np.minimum.at(first, key[ok], t[ok])
    return first


def known_fraud_risk(
    axis: Axis, key: np.ndarray, t: np.ndarray, reported: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """ULB-handbook risk of a terminal/merchant: rows of the previous 30 days that the bank knew
    to be fraud at time t (reported before t), over all rows of those 30 days (excluding now).

    A reported row at s, reported at r, counts for the key's rows at t in (max(r, s), s + 30d],
    so the count is (#intervals started before t) - (#intervals ended before t)."""
    rep = (key >= 0) & (reported >= 0)
    start = np.maximum(reported[rep], t[rep])
    end = t[rep] + RISK_WINDOW
    live = start < end
    k, start, end = key[rep][live], start[live], end[live]
    # Both histories hold one entry per interval, so a key's entries begin at the same index
    # in each: the difference of the positions of (key, t) is started minus ended (end < t).
    known = (Timeline(axis, k, start)._pos(key, t) - Timeline(axis, k, end)._pos(key, t)) * 1.0
    known[key < 0] = np.nan
    rows = Timeline(axis, key, t).count(key, t - RISK_WINDOW, t)
    return known, known / np.maximum(rows, 1)


def _median_so_far(tx: pl.DataFrame, span_days: int) -> np.ndarray:
    """Median of the customer's debit amounts at earlier seconds (rolling, window = whole run)."""
    frame = tx.select(
        "customer_id",
        "timestamp",
        pl.when(pl.col("direction").cast(pl.String) == "debit").then(pl.col("amount")).alias("d"),
    ).with_row_index("i")
    med = (
        frame.sort("timestamp")
        .with_columns(
            pl.col("d")
            .rolling_median_by("timestamp", window_size=f"{span_days + 2}d", closed="left")
            .over("customer_id")
            .alias("m")
        )
        .sort("i")
    )
    return med["m"].fill_null(np.nan).to_numpy().astype(np.float64)


def _shared(customers: pl.DataFrame, column: str) -> pl.DataFrame:
    """Per customer: how many customers share its `column` (KYC data, static)."""
    counts = customers.group_by(column).agg(pl.len().alias("n"))
    return customers.join(counts, on=column, how="left").select("customer_id", "n")


def _attach(
    tx: pl.DataFrame, table: pl.DataFrame | None, on: str, cols: dict[str, str]
) -> dict[str, pl.Series]:
    """Columns of an entity table joined onto the rows by `on`, renamed per `cols`."""
    if table is None or on not in table.columns:
        return {}
    cols = {c: name for c, name in cols.items() if c in table.columns}
    right = table.select(on, *cols).unique(on, keep="first").rename(cols)
    joined = tx.select(on).with_row_index("i").join(right, on=on, how="left").sort("i")
    return {name: joined[name] for name in cols.values()}


def derive(
    tx: pl.DataFrame,
    events: pl.DataFrame | None,
    customers: pl.DataFrame | None = None,
    accounts: pl.DataFrame | None = None,
    cards: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame | None]:
    """Derived features of the transactions and (if any) the events, row-aligned with them."""
    has_events = events is not None and events.height > 0
    ev = events if has_events else None
    t = seconds(tx["timestamp"])
    et = seconds(ev["timestamp"]) if ev is not None else np.empty(0, np.int64)
    # Only when the bank learnt of a fraud (reported_at) is used, never the label itself.
    rep = tx["reported_at"] if "reported_at" in tx.columns else pl.Series([None] * tx.height)
    stamp = rep.cast(tx["timestamp"].dtype).dt.epoch("s").fill_null(-1)
    reported = stamp.to_numpy().astype(np.int64)
    axis = Axis(t, et, reported[reported >= 0])
    amount = tx["amount"].to_numpy().astype(np.float64)
    f: dict[str, object] = {}
    e: dict[str, object] = {}

    # Relational: a device or payee seen with many customers is a mule/ATO tell.
    none = pl.Series([None] * (ev.height if ev is not None else 0), dtype=pl.Int64)
    dev_tx, dev_ev = codes(tx["device_id"], ev["device_id"] if ev is not None else none)
    cus_tx, cus_ev = codes(tx["customer_id"], ev["customer_id"] if ev is not None else none)
    n = tx.height
    dev_n, dev_new = distinct_so_far(
        axis,
        np.concatenate([dev_tx, dev_ev]),
        np.concatenate([cus_tx, cus_ev]),
        np.concatenate([t, et]),
    )
    f["device_customers_so_far"], f["device_new_for_customer"] = dev_n[:n], dev_new[:n]
    e["device_customers_so_far"], e["device_new_for_customer"] = dev_n[n:], dev_new[n:]
    (payee,) = codes(tx["counterparty_account_id"])
    f["payee_customers_so_far"], f["payee_new_for_customer"] = distinct_so_far(
        axis, payee, cus_tx, t
    )

    # Temporal: gaps to the customer's previous activity, account age, instant bursts.
    tl_tx, tl_ev = Timeline(axis, cus_tx, t), Timeline(axis, cus_ev, et)
    f["secs_since_prev_tx"] = tl_tx.since_last(cus_tx, t)
    f["secs_since_prev_event"] = tl_ev.since_last(cus_tx, t)
    f["same_second_customer_tx"] = tl_tx.count(cus_tx, t, t + 1) - 1
    acc_tx, cp_acc, acc_ev = codes(
        tx["account_id"],
        tx["counterparty_account_id"],
        ev["account_id"] if ev is not None else none,
    )
    first = first_seen(np.concatenate([acc_tx, cp_acc, acc_ev]), np.concatenate([t, t, et]))
    f["secs_since_account_first_seen"] = np.where(
        acc_tx >= 0, t - first[np.maximum(acc_tx, 0)], np.nan
    )
    if ev is not None:
        e["same_second_customer_events"] = tl_ev.count(cus_ev, et, et + 1) - 1
        e["same_second_customer_tx"] = tl_tx.count(cus_ev, et, et + 1)
        e["secs_since_prev_event"] = tl_ev.since_last(cus_ev, et)
        e["secs_since_prev_tx"] = tl_tx.since_last(cus_ev, et)
        e["secs_since_account_first_seen"] = np.where(
            acc_ev >= 0, et - first[np.maximum(acc_ev, 0)], np.nan
        )

    # Velocity on the card and the account (window [t - w, t), the current row excluded).
    (card,) = codes(tx["card_id"])
    card_n, card_sum = Timeline(axis, card, t, amount).recent(card, t, list(VELOCITY.values()))
    acc_n = Timeline(axis, acc_tx, t).recent(acc_tx, t, list(VELOCITY.values()))[0]
    for i, name in enumerate(VELOCITY):
        f[f"card_tx_{name}"], f[f"account_tx_{name}"] = card_n[i], acc_n[i]
    # a difference of two running sums over millions of rows: back to whole cents
    f["card_amount_24h"] = np.round(card_sum[list(VELOCITY).index("24h")], 2)

    # Money: the last credit into the account (pass-through), repeats, round numbers, outliers.
    credit = tx["direction"].cast(pl.String).eq("credit").fill_null(False).to_numpy()
    if "is_declined" in tx.columns:
        credit &= ~tx["is_declined"].fill_null(False).to_numpy()
    cp_ok = cp_acc >= 0
    in_key = np.concatenate([np.where(credit, acc_tx, -1), np.where(cp_ok, cp_acc, -1)])
    tl_in = Timeline(axis, in_key, np.concatenate([t, t]), np.concatenate([amount, amount]))
    last_in = tl_in.last_before(acc_tx, t)
    last = tl_in.take(tl_in.value, last_in)
    f["amount_to_last_credit"] = amount / np.maximum(last, 0.01)
    f["secs_since_last_credit"] = t - tl_in.take(tl_in.time, last_in)
    cents = np.round(amount * 100).astype(np.int64)
    same = dense(acc_tx, cents)
    f["same_amount_before_on_account"] = Timeline(axis, same, t).count(same, axis.start, t)
    f["round_10"] = (cents % 1000 == 0).astype(np.float64)
    f["round_100"] = (cents % 10_000 == 0).astype(np.float64)
    f["cents"] = (cents % 100).astype(np.float64)
    span = int((t.max() - t.min()) // DAY) if n else 0
    f["amount_to_customer_median"] = amount / np.maximum(_median_so_far(tx, span), 0.01)

    # Merchant/terminal risk from frauds the bank knew of (reported before the row).
    for col in ("terminal_id", "merchant_id"):
        (key,) = codes(tx[col])
        name = col.removesuffix("_id")
        f[f"{name}_known_frauds_30d"], f[f"{name}_risk_30d"] = known_fraud_risk(
            axis, key, t, reported
        )

    # Entity attributes (a lazy simulator picks victims or mules by age, income, product ...).
    if customers is not None and "customer_id" in customers.columns:
        for col in ("phone", "street_address"):
            if col in customers.columns:
                shared = _shared(customers, col)
                f.update(_attach(tx, shared, "customer_id", {"n": f"{col}_shared"}))
    for table, (on, prefix, cols) in zip((customers, accounts, cards), ENTITY, strict=True):
        f.update(_attach(tx, table, on, {c: f"{prefix}_{c}" for c in cols}))
    return _frame(f), (_frame(e) if ev is not None else None)


def _frame(columns: dict[str, object]) -> pl.DataFrame:
    """Numeric arrays become Float64 (NaN = not applicable); joined series keep their dtype."""
    out = {}
    for name, col in columns.items():
        if isinstance(col, pl.Series):
            out[name] = col.rename(name)
        else:
            out[name] = pl.Series(name, np.asarray(col, dtype=np.float64))
    return pl.DataFrame(out)
