"""World: the Mesa model that owns the population, the SimPy clock, the bank and the ledger."""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import mesa
import numpy as np
import simpy

from fraudsim.calibration import Profile, load_profile
from fraudsim.config.scenario import ScenarioConfig
from fraudsim.config.shards import ShardPlan
from fraudsim.core.codes import EVENT_TYPES
from fraudsim.core.ledger import Batch, Ledger
from fraudsim.core.rng import SeedStreams
from fraudsim.core.units import DAY
from fraudsim.world.agents import Bank, MerchantAgents
from fraudsim.world.fraud_engine import FraudEngine
from fraudsim.world.population import build_population
from fraudsim.world.traffic.calendar import Calendar
from fraudsim.world.traffic.events import LegitEvents
from fraudsim.world.traffic.legit import LegitTraffic

DayCallback = Callable[[int, Batch], None]


class World(mesa.Model):
    """One simulated world. `simpy.Environment` is the only clock; `model.time` follows it.

    Legit traffic is drawn a day at a time (vectorised); agents with decisions (bank, merchants,
    and the fraud issue's fraudsters) act through SimPy processes on the same clock. At the end
    of each day the bank settles every row of that day.
    """

    def __init__(
        self, config: ScenarioConfig, profile: Profile | None = None, shard: int = 0
    ) -> None:
        streams = SeedStreams(config.seed, shard)
        super().__init__(rng=streams.generator("mesa"))
        self.config = config
        self.streams = streams
        self.shard = shard
        self.plan = ShardPlan.of(config)
        self.profile = profile if profile is not None else load_profile(config.profile)
        self.env = simpy.Environment()
        self.calendar = Calendar(config.start_date)
        self.population = build_population(
            streams,
            self.profile,
            self.plan.size(shard),
            config.population.merchants,
            config.locale,
            config.start_date.year,
            total_customers=config.population.customers,
        )
        self.bank = Bank(self)
        self.merchant_agents = MerchantAgents(self, len(self.population.merchants["category"]))
        self.ledger = Ledger()
        self.traffic = LegitTraffic(
            self.population, self.profile, streams, self.calendar, shard=shard
        )
        self.legit_events = LegitEvents(self.population, self.profile, streams)
        self.n_initial_customers = len(self.population.customers["age"])
        self.income_quartiles = np.quantile(self.population.customers["income"], [0.25, 0.5, 0.75])
        self.event_batches: list[dict[str, np.ndarray]] = []
        self.watched_merchants: dict[int, list[tuple[int, int]]] = {}
        self.datacollector = mesa.DataCollector(
            model_reporters={
                "day": lambda m: int(m.time) - 1,
                **{
                    key: (lambda k: lambda m: m.bank.last_day[k])(key)
                    for key in (
                        "transactions",
                        "declined",
                        "fraud_transactions",
                        "volume",
                        "mean_checking_balance",
                        "blocked_cards",
                    )
                },
            }
        )
        self.day_callbacks: list[DayCallback] = []
        self.env.process(self._days())
        self.fraud = FraudEngine(self)
        self.fraud.start()

    @property
    def currency(self) -> str:
        return self.config.currency or self.profile.meta.currency

    def _days(self) -> Generator[simpy.Event, Any, None]:
        for day in range(self.config.days):
            legit = self.traffic.day(day, self.bank.balances)
            self.ledger.post_future(self.traffic.take_future())
            self.bank.start_day(legit, day)
            self.ledger.post(legit)
            yield self.env.timeout(DAY)
            self._close_day(day, legit)

    def _close_day(self, day: int, legit: Batch) -> None:
        end = (day + 1) * DAY
        fraud_rows = self.fraud.channels.take_rows(end)
        self.ledger.post(fraud_rows)
        pending = self.bank.drop_lost_card_rows(self.ledger.take_pending(before=end))
        rows = self.bank.settle_day(pending, day)
        self.fraud.settled(rows)
        honest_events = self.legit_events.day(day, legit)
        phones = honest_events["event_type"] == EVENT_TYPES.index("device_change")
        self.traffic.adopt_devices(
            honest_events["customer"][phones], honest_events["device"][phones]
        )
        self.event_batches.append(honest_events)
        self.event_batches.append(self.fraud.channels.take_events(end))
        self._review_merchants(rows)
        self._record_watched(rows)
        self.time = self.env.now / DAY  # keep Mesa's clock in step before collecting
        self.steps = day + 1
        self.datacollector.collect(self)
        # Sinks (frame collector or streaming writer) get the settled rows; rows are not
        # modified afterwards, so a sink may hand them to another thread.
        for callback in self.day_callbacks:
            callback(day, rows)

    def take_events(self) -> list[dict[str, np.ndarray]]:
        """The events of the days closed since the last call (the exporter takes them each
        day, so memory does not grow with the number of days)."""
        batches, self.event_batches = self.event_batches, []
        return batches

    def _review_merchants(self, rows: Batch) -> None:
        """Merchants with a burst of declines decide on step-up (a vectorised pre-filter)."""
        merchant = rows["merchant"]
        has = merchant >= 0
        n = len(self.merchant_agents)
        attempts = np.bincount(merchant[has], minlength=n)
        declines = np.bincount(merchant[has & rows["is_declined"]], minlength=n)
        for m in np.flatnonzero((attempts >= 20) & (declines * 2 >= attempts)).tolist():
            self.merchant_agents[m].review_day(int(attempts[m]), int(declines[m]))

    def add_merchant_agent(self, merchant: int) -> None:
        if self.merchant_agents.add() != merchant:
            raise RuntimeError(f"merchant {merchant} added out of order")

    def _record_watched(self, rows: Batch) -> None:
        """Cards paying at merchants a typology watches (compromised terminals, breaches)."""
        if not self.watched_merchants:
            return
        honest = (rows["episode"] < 0) & (rows["card"] >= 0)
        hit = honest & np.isin(rows["merchant"], list(self.watched_merchants))
        for m, card, t in zip(
            rows["merchant"][hit].tolist(),
            rows["card"][hit].tolist(),
            rows["t"][hit].tolist(),
            strict=True,
        ):
            self.watched_merchants[m].append((card, t))

    def run(self) -> None:
        """Simulate every day of the scenario."""
        self.env.run(until=self.config.days * DAY + 1)
