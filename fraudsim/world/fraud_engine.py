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
from fraudsim.world.actions import Channels, Outcome

if TYPE_CHECKING:
    from fraudsim.config.scenario import ScenarioConfig
    from fraudsim.world.model import World


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
        cfg = world.config
        for i, (cls, params) in enumerate(resolve_typologies(cfg)):
            name = cfg.typologies[i].name
            rng = world.streams.generator("typology", i, zlib.crc32(name.encode()))
            typ = cls(params, self.channels, rng, i, cfg.fraud.adaptive)
            typ.shared_rng = world.streams.shared.generator(
                "typology_shared", i, zlib.crc32(name.encode())
            )
            self.typologies.append(typ)

    # -- planning ------------------------------------------------------------------------------

    def start(self) -> None:
        """Set up typologies and schedule every episode start (called once, before day 0)."""
        cfg, world = self.world.config, self.world
        days = cfg.days
        # A shard runs its share of the world's episodes (in proportion to its customers).
        share = world.plan.fraction(world.shard)
        expected = [
            tc.schedule.expected_episodes(days, typ.default_rate_per_day) * share
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
        hour_cdf = np.cumsum(self.world.profile.weights("fraud", "hour_weights"))
        for i, (tc, typ, mean) in enumerate(
            zip(cfg.typologies, self.typologies, expected, strict=True)
        ):
            typ.setup()
            # An explicit episode count is kept exactly unless prevalence control rescales it.
            exact = tc.schedule.episodes is not None and self.scale == 1.0 and not cfg.fraud.balance
            if exact and world.plan.count > 1:
                split = world.plan.allocate(world.streams, tc.name, i, tc.schedule.episodes or 0)
                count = int(split[world.shard])
            elif exact:
                count = int(tc.schedule.episodes or 0)
            else:
                count = int(typ.rng.poisson(mean * self.scale))
            start_days = tc.schedule.draw_days(typ.rng, days, count)
            hours = np.searchsorted(hour_cdf, typ.rng.random(count) * hour_cdf[-1], side="right")
            starts = (
                start_days * DAY + np.minimum(hours, 23) * HOUR + typ.rng.integers(0, HOUR, count)
            )
            for start in np.sort(starts).tolist():
                self.env.process(self._episode(typ, tc.label, int(start)))

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
            id=int(entity_ids(np.array([index]), self._episode_key, self.world.shard)[0]),
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
        ep.process = self.env.process(typ.process(ep))
        self.schedule_report(ep)
        yield ep.process

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
        for ep in self.episodes:
            if ep.process is None or not ep.process.is_alive:
                continue
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
        are not counted again.
        """
        mask = (rows["episode"] >= 0) & ~rows["is_declined"]
        if not mask.any():
            return
        by_id = {ep.id: ep for ep in self.episodes}
        victim = rows["role"] == ROLES.index("victim")
        credit_account = self.world.population.accounts["kind"][rows["account"]] == 2
        entering = (rows["direction"] == 1) | ((rows["direction"] == 0) & credit_account)
        for eid in np.unique(rows["episode"][mask]).tolist():
            ep = by_id[eid]
            mine = mask & (rows["episode"] == eid)
            if ep.victims:
                loss = rows["amount"][mine & victim & (rows["direction"] == 0)].sum()
            else:
                loss = rows["amount"][mine & entering].sum()
            ep.stolen += int(loss)
            ep.accepted += int(rows["amount"][mine].sum())

    def summary(self) -> dict[str, Any]:
        """Prevalence figures for the manifest."""
        return {
            "typologies": [t.name for t in self.typologies],
            "expected_episodes": [round(e, 3) for e in self.expected_episodes],
            "oversampling_factor": round(self.scale, 6),
            "episodes": len(self.episodes),
            "target_share": self.world.config.fraud.target_share,
            "target_by": self.world.config.fraud.target_by,
        }
