"""Channels: how fraudsters (and look-alike customers) act — card, ATM, transfer, login.

Look-ups live in `lookup.WorldQueries`, new entities in `entities.EntityFactory`.

Typologies never write rows directly: they call these methods, which post rows that look like
any customer's rows (same ids, same columns, same bank controls) and return the bank's answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import simpy

from fraudsim.core.codes import CHANNELS, DECLINE_REASONS, EVENT_TYPES, ROLES, TX_TYPES
from fraudsim.core.ledger import COLUMNS, EVENT_COLUMNS, Batch, make_batch
from fraudsim.typologies.base import Episode, Outcome
from fraudsim.world.entities import EntityFactory
from fraudsim.world.lookup import WorldQueries
from fraudsim.world.population import Table

if TYPE_CHECKING:
    from fraudsim.world.model import World

CH = {name: i for i, name in enumerate(CHANNELS)}
TX = {name: i for i, name in enumerate(TX_TYPES)}
ROLE = {name: i for i, name in enumerate(ROLES)}
EVENT = {name: i for i, name in enumerate(EVENT_TYPES)}


class _Buffer:
    """Rows posted during the open day, as lists per column (fraud volume is small)."""

    def __init__(self, columns: tuple[str, ...]) -> None:
        self.columns = columns
        self.data: dict[str, list[int]] = {c: [] for c in columns}

    def append(self, **values: int) -> None:
        for c in self.columns:
            self.data[c].append(values.get(c, -1 if c in _NONE_IS_MINUS_ONE else 0))

    def take_before(self, t_end: int) -> dict[str, np.ndarray]:
        t = np.asarray(self.data["t"], dtype=np.int64)
        keep = t >= t_end
        out = {c: np.asarray(v, dtype=np.int64)[~keep] for c, v in self.data.items()}
        self.data = {
            c: [x for x, k in zip(v, keep, strict=True) if k] for c, v in self.data.items()
        }
        return out


_NONE_IS_MINUS_ONE = {
    "card",
    "merchant",
    "terminal",
    "device",
    "counterparty",
    "fraud_type",
    "episode",
    "reported_at",
    "pattern",
    "account",
}


class Channels(WorldQueries, EntityFactory):
    """The acting surface for typologies, bound to one world."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.env: simpy.Environment = world.env
        self.pop = world.population
        self.bank = world.bank
        self.rows = _Buffer(tuple(c for c in COLUMNS if c != "txid"))
        self.events = _Buffer(EVENT_COLUMNS)
        self.fraud_type_names: list[str] = []
        self.pattern_names: list[str] = []
        self._identity_rng = world.streams.generator("identities", 100)
        # Report times per victim (reported_at): the first victim of an episode is the one
        # whose report the engine schedules; others report their own losses.
        self._first_victim: dict[int, int] = {}  # episode index -> customer
        self._victim_reports: dict[tuple[int, int], int] = {}  # (episode index, customer)

    # -- time ----------------------------------------------------------------------------------

    @property
    def now(self) -> int:
        return int(self.env.now)

    def wait(self, seconds: float) -> simpy.Timeout:
        """A SimPy timeout (yield it); at least one second so time moves on."""
        return self.env.timeout(max(1, int(seconds)))

    # -- actions -------------------------------------------------------------------------------

    def _labels(
        self, ep: Episode, role: str, row: dict[str, int] | None = None, approved: bool = True
    ) -> dict[str, int]:
        return {
            "is_fraud": int(ep.is_fraud),
            "fraud_type": self._type_code(ep.typology),
            "episode": ep.id,
            "role": ROLE[role],
            "reported_at": self._reported_at(ep, role, row or {}, approved),
            "pattern": self._pattern_code(ep.pattern),
        }

    def _reported_at(self, ep: Episode, role: str, row: dict[str, int], approved: bool) -> int:
        """When the bank will learn that this row is fraud (-1: never), always after it.

        The episode's report covers the rows before it. A victim other than the one who
        reported sees their own losses and reports them when they notice (their card is
        blocked, or account frozen, then), unless the episode's report comes first (the bank
        then ties their card to it). A row made after a report is covered only by a later one
        (its own victim's, the chargeback's case, the next investigation). Declined rows nobody
        sees are settled by the bank (`Bank._confirm_reports`).
        """
        t = self.now
        if ep.report_at is None:
            return -1
        if t >= ep.report_at:
            return self._later_report(ep, t)
        customer = row.get("customer", -1)
        if role != "victim" or customer < 0 or not approved:
            return ep.report_at
        first = self._first_victim.setdefault(ep.index, customer)
        if customer == first:
            return ep.report_at
        key = (ep.index, customer)
        own = self._victim_reports.get(key)
        if own is None or 0 <= own <= t:  # their first loss, or one after their last report
            own = self._victim_reports[key] = self._later_report(ep, t)
            if 0 <= own < ep.report_at:
                card, account = row.get("card", -1), row.get("account", -1)
                if card >= 0:
                    self.bank.block_card(card, own, "reported", notify=False)
                elif account >= 0:
                    self.bank.freeze_account(account, own, "reported", notify=False)
        return ep.report_at if own < 0 else min(ep.report_at, own)

    def _later_report(self, ep: Episode, t: int) -> int:
        """A report of the episode's kind for something that happened at t (-1: never)."""
        fraud = self.world.fraud
        at = fraud._report_time(fraud.typologies_by_name()[ep.typology], t)
        return -1 if at is None else max(int(at), t + 1)

    def _type_code(self, name: str) -> int:
        if name not in self.fraud_type_names:
            self.fraud_type_names.append(name)
        return self.fraud_type_names.index(name)

    def _pattern_code(self, name: str | None) -> int:
        if name is None:
            return -1
        if name not in self.pattern_names:
            self.pattern_names.append(name)
        return self.pattern_names.index(name)

    def _post(self, ep: Episode, outcome: Outcome, role: str, **row: int) -> Outcome:
        reason = 0 if outcome.approved else _REASON[outcome.reason]
        self.rows.append(
            t=self.now,
            amount=outcome.amount,
            is_declined=int(not outcome.approved),
            decline_reason=reason,
            **row,
            **self._labels(ep, role, row, outcome.approved),
        )
        ep.rows += 1
        ep.attempted += outcome.amount
        if not outcome.approved:
            ep.declines += 1
            self.world.fraud.declined(ep, outcome)
        return outcome

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
        amount = max(int(amount), 1)
        ep.cards.add(card)
        customer = int(self.pop.cards["customer_idx"][card])
        if role == "victim":
            ep.victims.add(customer)
        if channel == "pos" and terminal < 0:
            terminal = self.terminal_of(self.world.fraud.rng, merchant)
        outcome = self.bank.authorize(
            card=card,
            t=self.now,
            amount=amount,
            channel=channel,
            merchant=merchant,
            has_otp=has_otp,
            stale_data=stale_data,
            has_pin=has_pin,
            device=device if channel == "cnp" else -1,
        )
        return self._post(
            ep,
            outcome,
            role,
            customer=customer,
            account=int(self.pop.cards["account_idx"][card]),
            card=card,
            merchant=merchant,
            terminal=terminal if channel == "pos" else -1,
            device=device if channel == "cnp" else -1,
            channel=CH[channel],
            tx_type=TX[tx_type],
            direction=0,
        )

    def atm_withdrawal(
        self, ep: Episode, card: int, amount: int, role: str = "victim", region: int | None = None
    ) -> Outcome:
        """Cash out with a card at an ATM (in the card holder's region unless given); the
        payer knows the PIN (the holder, a mule, or a skimmer that filmed it)."""
        amount = max(int(amount), 1)
        ep.cards.add(card)
        customer = int(self.pop.cards["customer_idx"][card])
        region = int(self.pop.customers["region"][customer]) if region is None else region
        m = self.pop.merchants
        atms = np.flatnonzero(
            (m["category"] == self.pop.categories.index("atm")) & (m["region"] == region)
        )
        merchant = int(self.world.fraud.rng.choice(atms)) if len(atms) else -1
        outcome = self.bank.authorize(
            card=card,
            t=self.now,
            amount=amount,
            channel="atm",
            merchant=merchant,
            has_otp=True,
            has_pin=True,
        )
        return self._post(
            ep,
            outcome,
            role,
            customer=customer,
            account=int(self.pop.cards["account_idx"][card]),
            card=card,
            merchant=merchant,
            terminal=int(m["first_terminal"][merchant]) if merchant >= 0 else -1,
            channel=CH["atm"],
            tx_type=TX["atm_withdrawal"],
            direction=0,
        )

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
        amount = max(int(amount), 1)
        ep.accounts.add(from_account)
        customer = int(self.pop.accounts["customer_idx"][from_account])
        if role == "victim":
            ep.victims.add(customer)
        outcome = self.bank.authorize_transfer(
            account=from_account, t=self.now, amount=amount, to_account=to_account, device=device
        )
        return self._post(
            ep,
            outcome,
            role,
            customer=customer,
            account=from_account,
            counterparty=to_account,
            device=device,
            channel=CH[channel],
            tx_type=TX[tx_type],
            direction=0,
        )

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
        amount = max(int(amount), 1)
        ep.accounts.add(account)
        customer = int(self.pop.accounts["customer_idx"][account])
        outcome = Outcome(True, "none", self.now, amount)
        return self._post(
            ep,
            outcome,
            role,
            customer=customer,
            account=account,
            merchant=merchant,
            card=card,
            channel=CH[channel],
            tx_type=TX[tx_type],
            direction=1,
        )

    def event(
        self, ep: Episode | None, customer: int, kind: str, device: int = -1, account: int = -1
    ) -> None:
        """A non-payment event: login, device_change, password_reset, phone_change, ..."""
        labels = {"is_fraud": 0, "fraud_type": -1, "episode": -1, "pattern": -1}
        if ep is not None:
            labels = {
                "is_fraud": int(ep.is_fraud),
                "fraud_type": self._type_code(ep.typology),
                "episode": ep.id,
                "pattern": self._pattern_code(ep.pattern),
            }
        self.events.append(
            t=self.now,
            customer=customer,
            account=account,
            device=device,
            event_type=EVENT[kind],
            **labels,
        )

    # -- the engine takes the day's rows -------------------------------------------------------

    def take_rows(self, t_end: int) -> Batch:
        data = self.rows.take_before(t_end)
        n = len(data["t"])
        return make_batch(n, **data) if n else make_batch(0)

    def take_events(self, t_end: int) -> dict[str, np.ndarray]:
        return self.events.take_before(t_end)


_REASON = {name: i for i, name in enumerate(DECLINE_REASONS)}


__all__ = ["Channels", "Outcome", "Table"]
