"""The typology contract: parameters, episodes, the SimPy behaviour and its adaptation hooks."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
import simpy
from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from fraudsim.world.actions import Channels, Outcome
    from fraudsim.world.agents.fraudster import Fraudster

Family = Literal["card", "account", "aml", "lookalike"]
ReportKind = Literal["card", "account", "scam", "aml", "dispute", "never"]
Process = Generator[simpy.Event, Any, None]


class TypologyParams(BaseModel):
    """Base of every typology's parameters: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass
class Episode:
    """One run of one typology by one fraudster or ring. Every row it causes carries its id."""

    id: int
    index: int
    typology: str
    label: str | None
    start: int
    fraudster: Fraudster | None
    is_fraud: bool = True
    pattern: str | None = None
    report_at: int | None = None
    victims: set[int] = field(default_factory=set)  # customer idx
    cards: set[int] = field(default_factory=set)  # card idx touched (blocked on report)
    accounts: set[int] = field(default_factory=set)  # account idx used (mules, victims)
    state: dict[str, Any] = field(default_factory=dict)  # progress kept across interruptions
    end: int | None = None
    rows: int = 0
    attempted: int = 0  # minor units
    stolen: int = 0  # minor units: the loss, after settlement (see FraudEngine.settled)
    accepted: int = 0  # minor units: every accepted row of the episode, after settlement
    declines: int = 0
    interruptions: int = 0
    adaptations: int = 0
    detected_at: int | None = None
    detected_by: str | None = None
    status: str = "running"
    process: simpy.Process | None = None


class Typology(ABC):
    """Base class. Subclasses set the class attributes and implement `run`.

    `run(ep)` is a SimPy generator acting through `self.ch` (the channels honest customers use
    too). If the bank blocks something the episode depends on, the process is interrupted;
    `on_interrupt` decides whether to go on (return True: `run` starts again, with `ep.state`
    kept) or stop. `on_declined` sees every declined attempt and may adapt `ep.state` (smaller
    amounts, another merchant, slower pace). Adaptation happens only in adaptive scenarios.

    A detector in the bank (world.agents.live_detector) interrupts with a cause naming it; then
    `on_detected` runs first. Fraudsters learn from such losses *between campaigns*, not within
    one (a ring reviews what went wrong and changes its playbook): at each campaign's end the
    detector calls `learn(stopped_share)` with the share of the typology's episodes it stopped,
    and `evasion` (0 = naive, towards 1 = blending in) moves towards 1 by `evasion_rate` times
    that share. Typologies read it when they plan later episodes (ordinary amounts, slower
    pace, the victim's own device). It stays 0 without a detector, so worlds without one are
    unchanged.
    """

    # Share of the remaining way learnt in one campaign in which the detector stopped every
    # episode. Measured (fraudsim.evaluate.rounds, README "Rounds"): the detector stops about a
    # third of the episodes a week, so evasion reaches ~0.3 after one week of blocks and ~0.55
    # after two, which a fixed detector's recall visibly feels.
    evasion_rate: ClassVar[float] = 1.0

    name: ClassVar[str] = ""
    family: ClassVar[Family] = "card"
    description: ClassVar[str] = ""
    report_kind: ClassVar[ReportKind] = "card"
    is_fraud: ClassVar[bool] = True
    default_rate_per_day: ClassVar[float] = 1.0
    rows_per_episode: ClassVar[float] = 10.0  # rough mean, used for prevalence control
    Params: ClassVar[type[TypologyParams]] = TypologyParams

    def __init__(
        self,
        params: TypologyParams,
        ch: Channels,
        rng: np.random.Generator,
        index: int,
        adaptive: bool = True,
    ) -> None:
        self.params = params
        self.ch = ch
        self.rng = rng
        self.index = index
        self.adaptive = adaptive
        self.evasion = 0.0
        # For draws every shard of a run must agree on (which shops carry a skimmer): the same
        # stream in every shard. The fraud engine sets it; `rng` is the shard's own.
        self.shared_rng = rng

    # -- hooks -------------------------------------------------------------------------------

    def setup(self) -> None:
        """Global preparation before any episode (e.g. choose compromised terminals)."""
        return  # optional hook: most typologies need no global plan

    @abstractmethod
    def run(self, ep: Episode) -> Process:
        """The episode's behaviour (a SimPy generator)."""

    def on_declined(self, ep: Episode, outcome: Outcome) -> None:
        """Called after each declined attempt when adaptive: change ep.state to adapt."""
        return  # optional hook: by default the typology does not adapt

    def on_interrupt(self, ep: Episode, cause: str) -> bool:
        """Called when the bank blocks the episode; True to carry on (e.g. another card)."""
        return False

    def on_detected(self, ep: Episode, cause: str) -> None:
        """Called when adaptive and the bank's detector blocked the episode (before
        `on_interrupt`); what the fraudsters learn from it waits for the campaign's end
        (`learn`)."""
        ep.adaptations += 1

    def learn(self, stopped_share: float) -> None:
        """A campaign ended in which the detector stopped `stopped_share` of this typology's
        episodes: when adaptive, move `evasion` that much (times `evasion_rate`) towards 1."""
        if self.adaptive and self.is_fraud:
            share = min(max(float(stopped_share), 0.0), 1.0)
            self.evasion += (1.0 - self.evasion) * self.evasion_rate * share

    @property
    def learnt(self) -> float:
        """`evasion` when adaptive, else 0 (non-adaptive fraudsters never change course)."""
        return self.evasion if self.adaptive else 0.0

    def evades(self) -> bool:
        """Whether this attempt uses what the fraudsters learnt (a draw only once they have
        learnt something, so worlds without a detector keep their random streams)."""
        return self.learnt > 0 and bool(self.rng.random() < self.learnt)

    def expected_rows(self) -> float:
        """Mean rows one episode produces (prevalence control scales episode counts by it)."""
        return self.rows_per_episode

    # -- the engine calls this -----------------------------------------------------------------

    def process(self, ep: Episode) -> Process:
        """Run the episode, handling interruptions through the adaptation hook."""
        while True:
            try:
                yield from self.run(ep)
                ep.status = "completed"
                break
            except simpy.Interrupt as interrupt:
                ep.interruptions += 1
                cause = str(interrupt.cause)
                if self.adaptive and self.is_fraud and cause.endswith("detector"):
                    self.on_detected(ep, cause)
                if not self.adaptive or ep.interruptions > 5 or not self.on_interrupt(ep, cause):
                    ep.status = f"stopped: {cause}"
                    break
                ep.adaptations += 1
        ep.end = self.ch.now


class PlannedTypology(Typology):
    """A typology whose episode is a timed plan of steps, for schemes with many actors.

    `_prepare(ep)` fills the plan with `_push(ep, t, kind, actor, ...)`; `run` performs each
    step at its time by calling the method `_<kind>(ep, item)`, which may push further steps;
    `_skip(ep, item)` drops the steps of actors that are gone (frozen, caught). The plan lives
    in `ep.state`, so the episode resumes where it was after an interruption.
    """

    plan_actor_key: ClassVar[str] = "actor"

    @abstractmethod
    def _prepare(self, ep: Episode) -> None:
        """Fill `ep.state["plan"]` (with `_push`) and any other state the steps need."""

    def _skip(self, ep: Episode, item: dict[str, Any]) -> bool:
        return False

    def _push(self, ep: Episode, t: float, kind: str, actor: int, **extra: Any) -> None:
        plan = ep.state["plan"]
        plan.append({"t": int(t), "kind": kind, self.plan_actor_key: actor, **extra})
        plan.sort(key=lambda step: step["t"])

    def run(self, ep: Episode) -> Process:
        ch = self.ch
        if "plan" not in ep.state:
            self._prepare(ep)
        plan = ep.state["plan"]
        while plan:
            item = plan[0]
            if item["t"] > ch.now:
                yield ch.wait(item["t"] - ch.now)
                continue
            plan.pop(0)
            if not self._skip(ep, item):
                getattr(self, "_" + item["kind"])(ep, item)
