"""The typology contract: parameters, episodes, the SimPy behaviour and its adaptation hooks."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol

import mesa
import numpy as np
import simpy
from pydantic import BaseModel, ConfigDict

Family = Literal["card", "account", "aml", "lookalike"]
ReportKind = Literal["card", "account", "scam", "aml", "dispute", "never"]
Process = Generator[simpy.Event, Any, None]


@dataclass(frozen=True)
class Outcome:
    """The bank's answer to one attempt."""

    approved: bool
    reason: str = "none"
    t: int = 0
    amount: int = 0


class Fraudster(mesa.Agent):
    """A person or bot committing fraud: owns devices, mule accounts, stolen cards."""

    def __init__(self, model: mesa.Model, typology: str) -> None:
        super().__init__(model)
        self.typology = typology
        self.devices: list[int] = []
        self.mule_accounts: list[int] = []
        self.stolen_cards: list[int] = []
        self.episodes: list[int] = []


class Ring(Fraudster):
    """An organised group: a controller plus members (mules, recruiters)."""

    def __init__(self, model: mesa.Model, typology: str) -> None:
        super().__init__(model, typology)
        self.members: list[int] = []  # customer idx


class Actions(Protocol):
    """The port: everything a typology may do to, or read from, the world.

    `world.actions.Actions` implements it. `pop`, `bank` and `world` are still open to
    typologies for reading the population tables, balances and the profile; new code should
    prefer the methods, which say what the bank would see.
    """

    env: simpy.Environment
    world: Any
    pop: Any
    bank: Any

    def now(self) -> int: ...

    def wait(self, seconds: float) -> simpy.Timeout:
        """A SimPy timeout (yield it); at least one second so time moves on."""
        ...

    def sample_customers(
        self,
        rng: np.random.Generator,
        n: int,
        max_age: int | None = None,
        min_age: int | None = None,
        with_credit_card: bool = False,
        ages: Mapping[tuple[int, int], float] | None = None,
    ) -> np.ndarray:
        """Distinct customers (idx), optionally filtered by age or credit-card holding, or
        skewed by age: `ages` = {(youngest, oldest): share of the draw}."""
        ...

    def cards_of(self, customer: int) -> np.ndarray: ...

    def checking(self, customer: int) -> int: ...

    def merchants(
        self,
        rng: np.random.Generator,
        n: int,
        online: bool | None = None,
        category: str | None = None,
        region: int | None = None,
    ) -> np.ndarray:
        """Merchants (idx) drawn by size, filtered by channel, category and region."""
        ...

    def online_shops(self, categories: Sequence[str]) -> dict[str, np.ndarray]:
        """Online shops in `categories` and what a fraud ring learns of each: `merchant`,
        `category` (position in `categories`), `size`, `ticket` (usual online ticket, major
        units), `no_sca` (never asks for strong authentication) and `tra_ceiling` (minor)."""
        ...

    def shop_price(self, rng: np.random.Generator, merchant: int, amount: float) -> int:
        """`amount` (major units) as the shop charges it (its price endings), minor units."""
        ...

    def terminal_of(self, rng: np.random.Generator, merchant: int) -> int: ...

    def device_of(self, customer: int) -> int:
        """The customer's own first device (phone)."""
        ...

    def own_device(self, rng: np.random.Generator, customer: int) -> int:
        """One of the customer's own devices, drawn as honest traffic draws it."""
        ...

    def daytime(self, rng: np.random.Generator, t: int) -> int:
        """A time on the day of `t` (or the next) at an hour honest customers are active."""
        ...

    def new_device(self, owner: int = -1) -> int:
        """A new device (idx); owner -1 for a fraudster's own device."""
        ...

    def open_account(
        self,
        age: int,
        income: float,
        region: int | None = None,
        sex: str = "F",
        phone: str | None = None,
    ) -> tuple[int, int]:
        """Open a new customer with a checking account (synthetic identities, new mules)."""
        ...

    def open_merchant(self, category: str, online: bool = True, region: int = -1) -> int:
        """A new merchant (e.g. a fake storefront); honest customers never pick it."""
        ...

    def issue_card(self, customer: int, kind: str = "credit", limit: float = 1000.0) -> int:
        """Issue a card to a customer (a credit card opens a credit account with `limit`,"""
        ...

    def card_lost(self, card: int) -> None:
        """The physical card leaves its owner now: the owner's own payments with it stop."""
        ...

    def set_limit(self, account: int, limit: float) -> None:
        """Change an account's overdraft or credit limit (major units, >= 0)."""
        ...

    def watch_merchant(self, merchant: int) -> None:
        """Record, from now on, every card that pays at this merchant (a skimmer, a breach)."""
        ...

    def cards_seen_at(self, merchant: int) -> list[tuple[int, int]]:
        """(card idx, time) of honest card payments at a watched merchant so far (settled days)."""
        ...

    def card_payment(
        self,
        ep: Episode,
        card: int,
        merchant: int,
        amount: int,
        channel: str = "cnp",
        device: int = -1,
        terminal: int = -1,
        role: str = "victim",
        has_otp: bool = False,
        tx_type: str = "purchase",
        stale_data: bool = False,
        has_pin: bool = True,
    ) -> Outcome:
        """A card purchase attempt (minor units) at a merchant, online (cnp) or in store (pos).

        Online, the bank may challenge it (strong customer authentication): `has_otp` says the
        payer can answer (the holder, or a fraudster with a phished code or a swapped SIM). In
        store, a tap needs no PIN within the contactless limits; above them `has_pin` says the
        payer knows the PIN (a thief with a stolen card does not).
        """
        ...

    def atm_withdrawal(
        self,
        ep: Episode,
        card: int,
        amount: int,
        role: str = "victim",
        region: int | None = None,
    ) -> Outcome:
        """Cash out with a card at an ATM (in the card holder's region unless given)."""
        ...

    def transfer(
        self,
        ep: Episode,
        from_account: int,
        to_account: int,
        amount: int,
        device: int = -1,
        role: str = "victim",
        tx_type: str = "p2p_transfer",
        channel: str = "online_banking",
    ) -> Outcome:
        """Move money between accounts of the bank (to_account -1: out of the bank)."""
        ...

    def credit(
        self,
        ep: Episode,
        account: int,
        amount: int,
        tx_type: str = "refund",
        merchant: int = -1,
        card: int = -1,
        role: str = "mule",
        channel: str = "incoming",
    ) -> Outcome:
        """Money arriving from outside the bank (refund, cash deposit, incoming wire)."""
        ...

    def event(
        self,
        ep: Episode | None,
        customer: int,
        kind: str,
        device: int = -1,
        account: int = -1,
    ) -> None:
        """A non-payment event: login, device_change, password_reset, phone_change, ..."""
        ...


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
        ch: Actions,
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
