"""A detector in the bank: scores traffic in batches as the world runs and blocks what it flags.

`LiveDetector` is attached to the bank (`[bank.detector]` in a scenario, or `attach` from
Python with a fitted detector object). At the end of each batch (a day, or an hour with
`batch = "hour"`) it turns the batch's rows into the exported transactions table, builds the
detector's features over a bounded history (the last `window_days` settled days plus the open
day), scores the batch and alerts on entities - the card, else the account - whose highest row
score reaches `threshold`, or on the `budget` highest per day. An alerted card is blocked and an
alerted account frozen with the bank's own `block_card` / `freeze_account` (cause `detector`),
so episodes relying on them are interrupted once and their typologies' hooks fire; the rows that
follow are declined `card_blocked` / `account_frozen`, and episodes carry
`detected_by = "detector"`.

The bank calls the customer about each alert: when none of the entity's flagged rows is fraud
(the customer recognises them), the block is lifted `review_hours` later, at the end of a day
after settlement (so the legit rows declined meanwhile are the detector's friction). Fraud
confirmed this way is what the bank has learnt: `confirmed` maps entities to the confirmation
time (rounds retrain on it, see fraudsim.evaluate.rounds).

Without a fitted detector, the one named in the config is fitted at the end of day
`train_days - 1` on the days so far (labels reported by then) and goes live the next day.

Fraudsters learn from the detector between campaigns: every `campaign_days` (a week; rounds set
None and call `end_campaign` at their own boundaries) each typology learns from the share of
its episodes the detector stopped in the campaign (`Typology.learn`).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
import simpy
from threadpoolctl import threadpool_limits

from fraudsim.core.codes import DECLINE_REASONS, ROLES
from fraudsim.core.errors import ConfigError
from fraudsim.core.ledger import Batch, concat, make_batch, take
from fraudsim.core.units import DAY, HOUR
from fraudsim.detection.detectors import load_detector
from fraudsim.export.days import wall_clock_epoch
from fraudsim.world.tables import transactions_frame

if TYPE_CHECKING:
    from fraudsim.config.scenario import DetectorConfig
    from fraudsim.detection.detectors import Detector
    from fraudsim.world.agents.bank import Bank

CARD, ACCOUNT = 0, 1
_BLOCKED = np.array(
    [DECLINE_REASONS.index("card_blocked"), DECLINE_REASONS.index("account_frozen")]
)
_VICTIM = ROLES.index("victim")
CAMPAIGN_DAYS = 7
"""Days between the fraudsters' lessons from the detector when nothing else sets them."""


@dataclass
class DayStats:
    """One simulated day as the detector saw it (amounts in major units)."""

    day: int
    live: bool = False
    rows: int = 0
    legit_rows: int = 0
    fraud_rows: int = 0
    alerts: int = 0
    fraud_alerts: int = 0
    fraud_entity_days: int = 0
    caught_entity_days: int = 0
    legit_declined_by_detector: int = 0
    fraud_loss: float = 0.0
    scores: list[np.ndarray] = field(default_factory=list, repr=False)
    labels: list[np.ndarray] = field(default_factory=list, repr=False)
    fraud_entities: set[tuple[int, int]] = field(default_factory=set, repr=False)
    alerted: set[tuple[int, int]] = field(default_factory=set, repr=False)


class LiveDetector:
    """Scores each batch of traffic, blocks flagged cards/accounts, lifts honest ones later."""

    def __init__(
        self,
        bank: Bank,
        config: DetectorConfig,
        detector: Detector | None = None,
        fit: bool = True,
    ) -> None:
        self.bank = bank
        self.world = bank.model
        self.config = config
        self.detector = detector
        self.fit = fit and detector is None
        self.window: deque[pl.DataFrame] = deque(maxlen=config.window_days)
        self._train: list[pl.DataFrame] = []
        self.stats: dict[int, DayStats] = {}
        self.alerts: list[dict[str, Any]] = []
        self.confirmed: dict[tuple[int, int], int] = {}  # entity -> time fraud was confirmed
        self._active: dict[tuple[int, int], int] = {}  # detector blocks in force -> since
        self._reviews: list[tuple[int, tuple[int, int], int]] = []  # (due, entity, since)
        self._lookup: dict[str, tuple[int, np.ndarray, np.ndarray]] = {}
        self.campaign_days: int | None = CAMPAIGN_DAYS
        self._campaign_start = 0
        self.campaigns: list[dict[str, Any]] = []  # per campaign: stopped shares, evasion after
        if self.fit:
            load_detector(config.name)  # a bad name fails now, not after the training days
        if config.batch == "hour":
            self.world.env.process(self._hours())

    # -- the bank calls these ------------------------------------------------------------------

    def swap(self, detector: Detector) -> None:
        """Put a (fitted) detector in place from now on (rounds swap it at boundaries)."""
        self.detector = detector

    def end_of_day(self, rows: Batch, day: int) -> None:
        """After settlement of `day`: score its last batch, count friction, lift reviewed blocks."""
        stats = self.stats.setdefault(day, DayStats(day))
        now = (day + 1) * DAY
        frame = transactions_frame(self.world, rows)
        if self.detector is not None:
            start = now - (HOUR if self.config.batch == "hour" else DAY)
            last = frame.filter(_epoch(frame) >= epoch_of(self.world, start))
            if last.height:
                self._score(last, pl.concat([*self.window, frame]), now, day)
        self._count_day(stats, rows, frame)
        self.window.append(frame)
        self._lift_reviewed(now)
        if self.campaign_days and (day + 1) % self.campaign_days == 0:
            self.end_campaign(now)
        if self.fit and self.detector is None:
            self._train.append(frame)
            if day + 1 >= self.config.train_days:
                self._fit_named()

    def end_campaign(self, now: int) -> dict[str, float]:
        """The fraudsters' campaign since the last call ends at `now` (seconds): each typology
        learns from the share of its episodes running in it that the detector stopped in it.
        Returns those shares by typology."""
        lo, hi = self._campaign_start, now
        running: dict[str, int] = {}
        stopped: dict[str, int] = {}
        for ep in self.world.fraud.episodes:
            if not ep.is_fraud or ep.start >= hi or (ep.end is not None and ep.end <= lo):
                continue
            running[ep.typology] = running.get(ep.typology, 0) + 1
            at = ep.detected_at
            if ep.detected_by == "detector" and at is not None and lo < at <= hi:
                stopped[ep.typology] = stopped.get(ep.typology, 0) + 1
        shares = {name: stopped.get(name, 0) / n for name, n in running.items()}
        for typ in self.world.fraud.typologies:
            typ.learn(shares.get(typ.name, 0.0))
        self._campaign_start = now
        self.campaigns.append(
            {
                "start": lo,
                "end": hi,
                "stopped_share": shares,
                "evasion": {t.name: t.evasion for t in self.world.fraud.typologies},
            }
        )
        return shares

    def _hours(self) -> Generator[simpy.Event, Any, None]:
        """Hourly batches within each open day (the day's last hour is scored at settlement)."""
        env = self.world.env
        while True:
            yield env.timeout(HOUR - env.now % HOUR if env.now % HOUR else HOUR)
            now = int(env.now)
            if now % DAY == 0 or self.detector is None:
                continue
            rows = self._open_rows(now - HOUR, now)
            if len(rows["t"]) == 0:
                continue
            day = now // DAY
            self.stats.setdefault(day, DayStats(day))
            today = transactions_frame(self.world, self._open_rows(day * DAY, now))
            batch = today.filter(_epoch(today) >= epoch_of(self.world, now - HOUR))
            self._score(batch, pl.concat([*self.window, today]), now, day)

    def _open_rows(self, start: int, end: int) -> Batch:
        """Rows of the open day in `[start, end)`: honest ones posted at day start, typology
        rows waiting in the channels (neither is settled yet)."""
        pending = concat(self.world.ledger.pending)
        buffered = self.world.fraud.channels.rows.data
        fraud = make_batch(len(buffered["t"]), **{k: np.asarray(v) for k, v in buffered.items()})
        rows = concat([pending, fraud])
        return take(rows, np.flatnonzero((rows["t"] >= start) & (rows["t"] < end)))

    # -- scoring and alerting -----------------------------------------------------------------

    def _fit_named(self) -> None:

        model = load_detector(self.config.name)
        try:
            with threadpool_limits(limits=1):  # see _score
                model.fit(pl.concat(self._train))
        except ConfigError as exc:
            raise ConfigError(
                f"[bank.detector] fitting {self.config.name!r} on the first "
                f"{self.config.train_days} days: {exc}; use more train_days or customers"
            ) from None
        self.detector = model
        self._train = []

    def _score(self, batch: pl.DataFrame, history: pl.DataFrame, now: int, day: int) -> None:
        """Score `batch` (the last rows of `history`) and alert on the flagged entities."""
        assert self.detector is not None
        # One thread: on small batches OpenMP threads cost far more than they save (measured:
        # a gradient-boosting fit took 42 s on 10k rows with the default threads on 2 busy
        # cores, 3 s with one).
        with threadpool_limits(limits=1):
            score = np.asarray(self.detector.score(history), dtype=np.float64)
        if score.shape != (history.height,) or not np.isfinite(score).all():
            raise ConfigError(
                f"[bank.detector] {self.config.name!r}: score must give one finite float per "
                f"row (got shape {score.shape} for {history.height} rows)"
            )
        score = score[-batch.height :]
        kind, idx = self.entities(batch)
        fraud = batch["is_fraud"].fill_null(False).to_numpy()
        stats = self.stats[day]
        stats.live = True
        stats.scores.append(score.astype(np.float32))
        stats.labels.append(fraud)
        entity = pl.DataFrame({"kind": kind, "idx": idx, "score": score, "fraud": fraud})
        per = (
            entity.group_by("kind", "idx")
            .agg(pl.col("score").max(), pl.col("fraud").any())
            .sort(["score", "kind", "idx"], descending=[True, False, False])
        )
        bank = self.bank
        is_card, at = per["kind"].to_numpy() == CARD, per["idx"].to_numpy()
        since = np.full(per.height, np.iinfo(np.int64).max)
        since[is_card] = bank.card_blocked_at[at[is_card]]
        since[~is_card] = bank.account_frozen_at[at[~is_card]]
        per = per.filter(pl.Series(since > now))  # already blocked: nothing to alert
        # Recall counts the fraudulent entities the detector could still act on.
        open_fraud = per.filter(pl.col("fraud"))
        stats.fraud_entities.update(zip(open_fraud["kind"], open_fraud["idx"], strict=True))
        if self.config.threshold is not None:
            per = per.filter(pl.col("score") >= self.config.threshold)
        else:
            assert self.config.budget is not None
            k = self.config.budget if self.config.batch == "day" else self.config.budget / 24
            per = per.head(math.ceil(k))
        cards: set[int] = set()
        accounts: set[int] = set()
        for k, i, s, f in per.iter_rows():
            key = (int(k), int(i))
            if k == CARD:
                bank.block_card(i, now, "detector", notify=False)
                cards.add(i)
            else:
                bank.freeze_account(i, now, "detector", notify=False)
                accounts.add(i)
            self.alerts.append({"t": now, "entity": ("card", "account")[k], "idx": i, "score": s})
            stats.alerts += 1
            stats.alerted.add(key)
            if f:
                stats.fraud_alerts += 1
                self.confirmed.setdefault(key, now)  # the customer says "not me"
            else:  # friction: an honest customer's block, in force until reviewed
                self._active[key] = now
                self._reviews.append((now + int(self.config.review_hours * HOUR), key, now))
        if cards or accounts:
            self.world.fraud.blocked(cards, accounts, "detector")  # one interrupt per episode

    def entities(self, frame: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(kind, internal index) per row: the card, else the account."""
        card = frame["card_id"].to_numpy()
        has = ~frame["card_id"].is_null().to_numpy()
        kind = np.where(has, CARD, ACCOUNT).astype(np.int64)
        idx = self._index("accounts", frame["account_id"].to_numpy())
        if has.any():
            idx[has] = self._index("cards", card[has].astype(np.int64))
        return kind, idx

    def _index(self, table: str, ids: np.ndarray) -> np.ndarray:
        """Internal positions of public ids (the tables grow as typologies add entities)."""
        public = getattr(self.world.population, table)["id"]
        cached = self._lookup.get(table)
        if cached is None or cached[0] != len(public):
            order = np.argsort(public, kind="stable")
            cached = (len(public), order, public[order])
            self._lookup[table] = cached
        _, order, ordered = cached
        return order[np.searchsorted(ordered, ids)].astype(np.int64)

    # -- bookkeeping ---------------------------------------------------------------------------

    def _count_day(self, stats: DayStats, rows: Batch, frame: pl.DataFrame) -> None:
        fraud = rows["is_fraud"].astype(bool)
        declined = rows["is_declined"].astype(bool)
        stats.rows = len(fraud)
        stats.fraud_rows = int(fraud.sum())
        stats.legit_rows = stats.rows - stats.fraud_rows
        loss = fraud & ~declined & (rows["direction"] == 0) & (rows["role"] == _VICTIM)
        stats.fraud_loss = float(rows["amount"][loss].sum()) / self.bank.minor
        if self._active:
            keys = np.array(list(self._active), dtype=np.int64)
            cards = keys[keys[:, 0] == CARD, 1]
            accounts = keys[keys[:, 0] == ACCOUNT, 1]
            hit = np.isin(rows["card"], cards) | (
                (rows["card"] < 0) & np.isin(rows["account"], accounts)
            )
            mask = ~fraud & declined & np.isin(rows["decline_reason"], _BLOCKED) & hit
            stats.legit_declined_by_detector = int(mask.sum())
        stats.fraud_entity_days = len(stats.fraud_entities)
        stats.caught_entity_days = len(stats.fraud_entities & stats.alerted)

    def _lift_reviewed(self, now: int) -> None:
        """Honest customers confirmed their payments: lift blocks whose review is due."""
        due = [r for r in self._reviews if r[0] <= now]
        self._reviews = [r for r in self._reviews if r[0] > now]
        for _, (kind, idx), since in due:
            if self._active.get((kind, idx)) == since:
                self.bank.lift_block(kind == CARD, idx, since)
                del self._active[(kind, idx)]


def _epoch(frame: pl.DataFrame) -> pl.Series:
    return frame["timestamp"].dt.epoch("s")


def epoch_of(world: Any, t: int) -> int:

    cfg = world.config
    return int(wall_clock_epoch(np.array([t]), cfg.start_date, cfg.timezone)[0])
