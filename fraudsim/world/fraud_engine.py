"""Fraud engine: builds the scenario's typologies, schedules their episodes as SimPy processes,
controls prevalence, applies reports and blocks, and keeps the episode records.
"""

from __future__ import annotations

import zlib
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import numpy as np
import simpy
from pydantic import ValidationError

from fraudsim.core.codes import ROLES
from fraudsim.core.errors import ConfigError, format_validation_error
from fraudsim.core.ids import entity_ids
from fraudsim.core.ledger import Batch
from fraudsim.core.units import DAY, HOUR
from fraudsim.typologies import registry
from fraudsim.typologies.base import Episode, Fraudster, Typology, TypologyParams
from fraudsim.typologies.honest import Honest
from fraudsim.world.actions import Channels, Outcome

if TYPE_CHECKING:
    from fraudsim.config.scenario import ScenarioConfig
    from fraudsim.config.schedule import Schedule
    from fraudsim.world.model import World


_ID_BLOCK = 4096  # episode ids scrambled at a time


def resolve_typologies(config: ScenarioConfig) -> list[tuple[type[Typology], TypologyParams]]:
    """Look up every typology of a scenario and validate its parameters (ConfigError if not)."""
    resolved = []
    for i, tc in enumerate(config.typologies):
        cls = registry.get(tc.name)
        try:
            params = cls.Params.model_validate(tc.params)
        except ValidationError as exc:
            label = f"scenario '{config.name}' typologies[{i}] ({tc.name}) params"
            raise ConfigError(format_validation_error(label, exc, cls.Params)) from None
        resolved.append((cls, params))
    return resolved


class FraudEngine:
    """Owns the typology instances, their episodes and the fraud clock processes."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.env: simpy.Environment = world.env
        self.rng = world.streams.generator("fraud_engine")
        self.channels = Channels(world)
        self.typologies: list[Typology] = []
        self.episodes: list[Episode] = []
        self.scale = 1.0
        self.expected_episodes: list[float] = []
        self._episode_key = world.streams.key("ids", 7)
        self._reporting: set[int] = set()
        self._ids: dict[int, list[int]] = {}
        self._by_id: dict[int, Episode] = {}
        self._running: list[Episode] = []
        cfg = world.config
        seen: dict[str, int] = {}
        for i, (cls, params) in enumerate(resolve_typologies(cfg)):
            name = cfg.typologies[i].name
            crc = zlib.crc32(name.encode())
            if cls.family == "lookalike":
                # Honest life has its own streams, by name and occurrence, not by position:
                # adding or removing a fraud typology changes no look-alike.
                seen[name] = seen.get(name, -1) + 1
                key: tuple[str, int, int] = ("lookalike", crc, seen[name])
            else:
                key = ("typology", i, crc)
            typ = cls(params, self.channels, world.streams.generator(*key), i, cfg.fraud.adaptive)
            typ.shared_rng = world.streams.shared.generator(f"{key[0]}_shared", *key[1:])
            self.typologies.append(typ)

    # -- planning ------------------------------------------------------------------------------

    def start(self) -> None:
        """Set up typologies and schedule every episode start (called once, before day 0).

        Fraud typologies run at their scenario rates, rescaled as a whole when the scenario
        sets a prevalence target (`oversampling_factor`) or balances them. Look-alikes are
        honest life: their rates are per customer (the profile's `lookalikes` section unless
        the scenario names one) and nothing rescales them, whatever the fraud prevalence.
        Rates without an explicit count grow with the population, so a prevalence holds at
        any size; a shard runs its share of the world's episodes.
        """
        cfg, world = self.world.config, self.world
        share = world.plan.fraction(world.shard)
        expected = [
            self._expected(tc.schedule, typ) * share
            for tc, typ in zip(cfg.typologies, self.typologies, strict=True)
        ]
        if cfg.fraud.balance and self.typologies:
            # Same expected rows for every fraud typology: scale each by mean rows / its rows.
            rows = [e * t.expected_rows() for e, t in zip(expected, self.typologies, strict=True)]
            fraud_rows = [r for r, t in zip(rows, self.typologies, strict=True) if t.is_fraud]
            mean_rows = sum(fraud_rows) / max(len(fraud_rows), 1)
            expected = [
                e * mean_rows / r if t.is_fraud and r > 0 else e
                for e, r, t in zip(expected, rows, self.typologies, strict=True)
            ]
        self.expected_episodes = expected
        self.scale = self._prevalence_scale(expected)
        for i, (tc, typ, mean) in enumerate(
            zip(cfg.typologies, self.typologies, expected, strict=True)
        ):
            typ.setup()
            honest = typ.family == "lookalike"
            scale = 1.0 if honest else self.scale
            # An explicit episode count is kept exactly unless prevalence control rescales it.
            exact = tc.schedule.episodes is not None and (
                honest or (self.scale == 1.0 and not cfg.fraud.balance)
            )
            if exact and world.plan.count > 1:
                split = world.plan.allocate(world.streams, tc.name, i, tc.schedule.episodes or 0)
                count = int(split[world.shard])
            elif exact:
                count = int(tc.schedule.episodes or 0)
            else:
                count = int(typ.rng.poisson(mean * scale))
            for start in self._starts(tc.schedule, typ, count).tolist():
                self.env.process(self._episode(typ, tc.label, int(start)))

    def _expected(self, schedule: Schedule, typ: Typology) -> float:
        """Mean episodes of a typology in the whole world, before any prevalence scaling."""
        cfg = self.world.config
        customers = cfg.population.customers
        honest = self._honest_rate(typ)
        standing = isinstance(typ, Honest) and typ.standing_days is not None
        if honest is not None and standing and not schedule.amount_given:
            # A standing behaviour (a subscription) is a stock: so many per customer.
            return honest * customers * float(schedule.intensity(cfg.days).any())
        return schedule.expected_episodes(cfg.days, typ.default_rate_per_day, customers, honest)

    def _honest_rate(self, typ: Typology) -> float | None:
        """A look-alike's honest rate per customer and month from the profile, if it has one."""
        if isinstance(typ, Honest) and typ.honest_rate is not None:
            return float(getattr(self.world.profile.lookalikes, typ.honest_rate))
        return None

    def _starts(self, schedule: Schedule, typ: Typology, count: int) -> np.ndarray:
        """Start times (sorted): days over the schedule's window (a standing behaviour's over
        its first period), hours as fraud starts, or honest customers act, for look-alikes."""
        days, rng = self.world.config.days, typ.rng
        if isinstance(typ, Honest) and typ.standing_days is not None:
            first, end = schedule.window(days)
            last = min(end, first + max(int(np.ceil(typ.standing_days)), 1))
            start_days = np.sort(rng.integers(first, max(last, first + 1), count))
        else:
            start_days = schedule.draw_days(rng, days, count)
        curve = (
            ("calendar", "hour_weights") if typ.family == "lookalike" else ("fraud", "hour_weights")
        )
        hour_cdf = np.cumsum(self.world.profile.weights(*curve))
        hours = np.searchsorted(hour_cdf, rng.random(count) * hour_cdf[-1], side="right")
        starts = start_days * DAY + np.minimum(hours, 23) * HOUR + rng.integers(0, HOUR, count)
        return np.sort(starts)

    def _prevalence_scale(self, expected: list[float]) -> float:
        """Factor on episode counts so fraud rows reach the scenario's target share."""
        target = self.world.config.fraud.target_share
        if target is None or not self.typologies:
            return 1.0
        fraud_rows = sum(
            e * t.expected_rows()
            for e, t in zip(expected, self.typologies, strict=True)
            if t.is_fraud
        )
        if fraud_rows <= 0:
            return 1.0
        legit_rows = self.world.traffic.expected_rows_per_day() * self.world.config.days
        if self.world.config.fraud.target_by == "value":
            # Fraud tickets are larger than honest ones (EBA/ECB 2024: EUR 87 vs EUR 39).
            target = target / 2.2
        return target * legit_rows / (1 - target) / fraud_rows

    # -- episodes ------------------------------------------------------------------------------

    def _episode(
        self, typ: Typology, label: str | None, start: int
    ) -> Generator[simpy.Event, Any, None]:
        yield self.env.timeout(start - self.env.now)
        index = len(self.episodes)
        fraudster = Fraudster(self.world, typ.name) if typ.is_fraud else None
        ep = Episode(
            id=self._episode_id(index),
            index=index,
            typology=typ.name,
            label=label,
            start=start,
            fraudster=fraudster,
            is_fraud=typ.is_fraud,
        )
        ep.report_at = self._report_time(typ, start)
        if fraudster is not None:
            fraudster.episodes.append(ep.id)
        self.episodes.append(ep)
        self._by_id[ep.id] = ep
        ep.process = self.env.process(typ.process(ep))
        self._running.append(ep)
        self.schedule_report(ep)
        yield ep.process

    def _episode_id(self, index: int) -> int:
        """The public id of the index-th episode, scrambled in blocks (one call per episode
        cost more than the episode itself for honest look-alikes, which are many)."""
        block, offset = divmod(index, _ID_BLOCK)
        if block not in self._ids:
            first = block * _ID_BLOCK
            indices = np.arange(first, first + _ID_BLOCK)
            self._ids[block] = entity_ids(indices, self._episode_key, self.world.shard).tolist()
        return int(self._ids[block][offset])

    def _report_time(self, typ: Typology, start: int) -> int | None:
        """When the bank learns of the episode (victim report, chargeback, investigation)."""
        fraud = self.world.profile.fraud
        kind = typ.report_kind
        if kind == "never":
            return None
        median_days = {
            "card": fraud.card_report_median_days,
            "account": fraud.account_report_median_days,
            "scam": fraud.scam_report_median_days,
            "aml": fraud.aml_report_median_days,
            "dispute": fraud.dispute_median_days,
        }[kind]
        if self.rng.random() < fraud.never_reported_share and kind != "dispute":
            return None
        delay = median_days * DAY * self.rng.lognormal(0.0, fraud.report_delay_sigma)
        delay = min(delay, fraud.max_report_days * DAY)
        return int(start + max(delay, 600))

    def schedule_report(self, ep: Episode) -> None:
        """Start the report process of an episode (once) if it has a report time."""
        if ep.report_at is not None and ep.index not in self._reporting:
            self._reporting.add(ep.index)
            self.env.process(self._report(ep))

    def _report(self, ep: Episode) -> Generator[simpy.Event, Any, None]:
        # A typology may move the report (e.g. to after the last payment): wait until it holds.
        # Checked at least hourly, so a report moved earlier is honoured too.
        while ep.report_at is not None and ep.report_at > self.env.now:
            yield self.env.timeout(min(ep.report_at - self.env.now, HOUR))
        self._reporting.discard(ep.index)
        if ep.report_at is None:
            return
        if ep.detected_at is None:
            ep.detected_at, ep.detected_by = ep.report_at, "report"
        if not self.world.config.bank.block_on_report or not ep.is_fraud:
            return
        t = int(self.env.now)
        cards, accounts = set(ep.cards), set(ep.accounts)
        for card in sorted(cards):
            self.world.bank.block_card(card, t, "reported", notify=False)
        for account in sorted(accounts):
            self.world.bank.freeze_account(account, t, "reported", notify=False)
        self.blocked(cards, accounts, "reported")  # one interruption per episode

    # -- bank feedback -------------------------------------------------------------------------

    def declined(self, ep: Episode, outcome: Outcome) -> None:
        typ = self.typologies_by_name()[ep.typology]
        if typ.adaptive:
            typ.on_declined(ep, outcome)

    def blocked(self, cards: set[int], accounts: set[int], cause: str) -> None:
        """Cards were blocked or accounts frozen: interrupt, once, each episode relying on
        any of them."""
        t = int(self.env.now)
        # Only running episodes can rely on anything (kept in start order, pruned as they end).
        self._running = [e for e in self._running if e.process is not None and e.process.is_alive]
        for ep in self._running:
            if ep.cards & cards or ep.accounts & accounts:
                if cause != "reported" and ep.detected_at is None:
                    ep.detected_at, ep.detected_by = t, cause
                if ep.process is not self.env.active_process:
                    ep.process.interrupt(f"{'card' if ep.cards & cards else 'account'} {cause}")

    def typologies_by_name(self) -> dict[str, Typology]:
        return {t.name: t for t in self.typologies}

    # -- after settlement ----------------------------------------------------------------------

    def settled(self, rows: Batch) -> None:
        """Add up each episode's loss once the day is settled.

        The loss is what victims lost (their accepted debits). For schemes without victims it
        is the money entering the scheme from outside (refunds, incoming proceeds) plus credit
        drawn on credit accounts (bust-outs); onward moves between the scheme's own accounts
        are not counted again. Summed per episode in one pass: honest look-alikes make
        thousands of episodes a day in a large world.
        """
        mask = (rows["episode"] >= 0) & ~rows["is_declined"]
        if not mask.any():
            return
        episode, amount = rows["episode"][mask], rows["amount"][mask].astype(np.int64)
        debit = rows["direction"][mask] == 0
        victim = (rows["role"][mask] == ROLES.index("victim")) & debit
        credit_account = self.world.population.accounts["kind"][rows["account"][mask]] == 2
        entering = (rows["direction"][mask] == 1) | (debit & credit_account)
        ids, which = np.unique(episode, return_inverse=True)
        sums = np.zeros((3, len(ids)), np.int64)
        for k, part in enumerate((amount, amount * victim, amount * entering)):
            np.add.at(sums[k], which, part)
        for k, eid in enumerate(ids.tolist()):
            ep = self._by_id.get(eid)
            if ep is None:  # an episode the engine did not start (a caller's own, in tests)
                continue
            ep.stolen += int(sums[1, k] if ep.victims else sums[2, k])
            ep.accepted += int(sums[0, k])

    def summary(self) -> dict[str, Any]:
        """Prevalence figures for the manifest.

        `oversampling_factor` is the factor prevalence control put on the scenario's fraud
        rates; `published_share` the profile's published prevalence and
        `oversampling_vs_published` how many times it the target is (1: a realistic share;
        more: an oversampled training set). Look-alikes are never oversampled.
        """
        fraud, profile = self.world.config.fraud, self.world.profile.fraud
        published = (
            profile.prevalence_value_share
            if fraud.target_by == "value"
            else profile.prevalence_count_share
        )
        versus = None
        if fraud.target_share is not None and published > 0:
            versus = round(fraud.target_share / published, 3)
        return {
            "typologies": [t.name for t in self.typologies],
            "expected_episodes": [round(e, 3) for e in self.expected_episodes],
            "oversampling_factor": round(self.scale, 6),
            "episodes": len(self.episodes),
            "target_share": fraud.target_share,
            "target_by": fraud.target_by,
            "published_share": published,
            "oversampling_vs_published": versus,
        }
