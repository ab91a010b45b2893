"""Channels: how fraudsters (and look-alike customers) act — card, ATM, transfer, login.

Typologies never write rows directly: they call these methods, which post rows that look like
any customer's rows (same ids, same columns, same bank controls) and return the bank's answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import simpy

from fraudsim.core.codes import CHANNELS, DECLINE_REASONS, EVENT_TYPES, ROLES, TX_TYPES
from fraudsim.core.ledger import COLUMNS, EVENT_COLUMNS, Batch, make_batch
from fraudsim.core.units import DAY, HOUR
from fraudsim.typologies.base import Episode, Outcome
from fraudsim.world import identity
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


class Channels:
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

    # -- time ----------------------------------------------------------------------------------

    @property
    def now(self) -> int:
        return int(self.env.now)

    def wait(self, seconds: float) -> simpy.Timeout:
        """A SimPy timeout (yield it); at least one second so time moves on."""
        return self.env.timeout(max(1, int(seconds)))

    # -- who and where -------------------------------------------------------------------------

    def sample_customers(
        self,
        rng: np.random.Generator,
        n: int,
        max_age: int | None = None,
        min_age: int | None = None,
        with_credit_card: bool = False,
    ) -> np.ndarray:
        """Distinct customers (idx), optionally filtered by age or credit-card holding."""
        c = self.pop.customers
        mask = np.ones(len(c["age"]), bool)
        mask[self.world.n_initial_customers :] = False  # honest customers only
        if max_age is not None:
            mask &= c["age"] <= max_age
        if min_age is not None:
            mask &= c["age"] >= min_age
        if with_credit_card:
            mask &= c["credit_idx"] >= 0
        pool = np.flatnonzero(mask)
        if len(pool) == 0:
            pool = np.arange(self.world.n_initial_customers)
        return rng.choice(pool, size=min(n, len(pool)), replace=False)

    def cards_of(self, customer: int) -> np.ndarray:
        return np.flatnonzero(self.pop.cards["customer_idx"] == customer)

    def checking(self, customer: int) -> int:
        return int(self.pop.customers["checking_idx"][customer])

    def merchants(
        self,
        rng: np.random.Generator,
        n: int,
        online: bool | None = None,
        category: str | None = None,
        region: int | None = None,
    ) -> np.ndarray:
        """Merchants (idx) drawn by size, filtered by channel, category and region."""
        m = self.pop.merchants
        mask = ~np.isin(
            m["category"],
            [self.pop.categories.index(c) for c in ("atm", "utilities", "telecom", "insurance")],
        )
        if online is not None:
            mask &= m["online"] == online
        if category is not None:
            mask &= m["category"] == self.pop.categories.index(category)
        if region is not None:
            mask &= m["region"] == region
        pool = np.flatnonzero(mask)
        if len(pool) == 0:
            raise ValueError(f"no merchant matches online={online}, category={category}")
        weights = m["size"][pool]
        return rng.choice(pool, size=n, p=weights / weights.sum())

    def terminal_of(self, rng: np.random.Generator, merchant: int) -> int:
        m = self.pop.merchants
        n = max(int(m["n_terminals"][merchant]), 1)
        return int(m["first_terminal"][merchant] + rng.integers(0, n))

    def device_of(self, customer: int) -> int:
        """The customer's own first device (phone)."""
        return int(self.pop.customers["first_device"][customer])

    # -- new entities (same id space and formats as everyone else) ----------------------------

    def own_device(self, rng: np.random.Generator, customer: int) -> int:
        """One of the customer's own devices, drawn as honest traffic draws it."""
        c = self.pop.customers
        first, n = int(c["first_device"][customer]), max(int(c["n_devices"][customer]), 1)
        return int(first + rng.integers(0, n))

    def daytime(self, rng: np.random.Generator, t: int) -> int:
        """A time on the day of `t` (or the next) at an hour honest customers are active."""
        weights = np.asarray(self.world.profile.weights("calendar", "hour_weights"))
        hour = int(rng.choice(24, p=weights))
        out = t - t % DAY + hour * HOUR + int(rng.integers(0, HOUR))
        return out if out > t else out + DAY

    def new_device(self, owner: int = -1) -> int:
        """A new device (idx); owner -1 for a fraudster's own device."""
        d = self.pop.devices
        idx = len(d["customer_idx"])
        for name, value in (
            ("customer_idx", owner),
            ("kind", 0),
            ("first_of_customer", idx),
            ("count_of_customer", 1),
        ):
            d[name] = np.append(d[name], np.asarray(value, dtype=d[name].dtype))
        self.pop.new_ids("devices", d, np.array([idx]))
        return idx

    def open_account(
        self,
        age: int,
        income: float,
        region: int | None = None,
        sex: str = "F",
        phone: str | None = None,
    ) -> tuple[int, int]:
        """Open a new customer with a checking account (synthetic identities, new mules).

        Returns (customer idx, account idx). Ids come from the same scrambled spaces as
        everyone's, and identity strings from the same Faker tables.
        """
        pop, c = self.pop, self.pop.customers
        cust = len(c["age"])
        acct = len(pop.accounts["kind"])
        rng = self._identity_rng
        region = int(rng.integers(0, len(pop.regions))) if region is None else region
        band = int(np.searchsorted(self.world.income_quartiles, income))
        values = {
            "age": age,
            "age_band": _age_band(self.world.profile.population.age_band_bounds, age),
            "sex": sex,
            "income": income,
            "income_band": band,
            "segment": 0,
            "region": region,
            "home_lat": pop.regions["lat"][region],
            "home_lon": pop.regions["lon"][region],
            "birth_offset_days": 0,
            "cnp_propensity": 0.25,
            "payday": 31,
            "pays_rent": False,
            "checking_idx": acct,
            "savings_idx": -1,
            "credit_idx": -1,
            "first_device": len(pop.devices["customer_idx"]),
            "n_devices": 1,
        }
        for name, value in values.items():
            c[name] = np.append(c[name], np.asarray(value, dtype=c[name].dtype))
        self.pop.new_ids("customers", c, np.array([cust]))
        a = pop.accounts
        for name, value in (
            ("customer_idx", cust),
            ("kind", 0),
            ("opening_balance", 0),
            ("floor", 0),
        ):
            a[name] = np.append(a[name], np.asarray(value, dtype=a[name].dtype))
        self.pop.new_ids("accounts", a, np.array([acct]))
        self.bank.add_account(0, 0)
        self.new_device(cust)
        first, last = identity.person_names(rng, pop.identity_tables, np.array([sex]))
        pop.appended_identities.append(
            {
                "first_name": first,
                "last_name": last,
                "email": identity.emails(rng, first, last, pop.identity_tables),
                "street_address": identity.street_addresses(rng, 1, pop.identity_tables),
                "phone": (identity.phone_numbers(rng, 1) if phone is None else np.array([phone])),
                "city": pop.regions["name"][[region]],
            }
        )
        pop.appended_ibans.append(
            identity.iban_numbers(rng, 1, country="DE", bank_code=pop.bank_code)
        )
        return cust, acct

    def open_merchant(self, category: str, online: bool = True, region: int = -1) -> int:
        """A new merchant (e.g. a fake storefront); honest customers never pick it."""
        pop, m = self.pop, self.pop.merchants
        idx = len(m["category"])
        cat = pop.categories.index(category)
        values = {
            "category": cat,
            "online": online,
            "region": region,
            "size": 1.0,
            "n_terminals": 0 if online else 1,
            "first_terminal": len(pop.terminals["merchant_idx"]),
            "lat": np.nan,
            "lon": np.nan,
        }
        for name, value in values.items():
            m[name] = np.append(m[name], np.asarray(value, dtype=m[name].dtype))
        words = category.replace("_", " ").title()
        m["name"] = np.append(
            m["name"],
            identity.company_names(self._identity_rng, 1, pop.identity_tables, np.array([words])),
        )
        self.pop.new_ids("merchants", m, np.array([idx]))
        if not online:
            t = pop.terminals
            t["merchant_idx"] = np.append(t["merchant_idx"], np.int32(idx))
            self.pop.new_ids("terminals", t, np.array([len(t["merchant_idx"]) - 1]))
        self.world.add_merchant_agent(idx)
        return idx

    def issue_card(self, customer: int, kind: str = "credit", limit: float = 1000.0) -> int:
        """Issue a card to a customer (a credit card opens a credit account with `limit`,
        major units). Returns the card idx."""
        pop = self.pop
        if kind == "credit":
            account = len(pop.accounts["kind"])
            a = pop.accounts
            floor = -int(round(limit * self.world.profile.minor_per_major))
            for name, value in (
                ("customer_idx", customer),
                ("kind", 2),
                ("opening_balance", 0),
                ("floor", floor),
            ):
                a[name] = np.append(a[name], np.asarray(value, dtype=a[name].dtype))
            self.pop.new_ids("accounts", a, np.array([account]))
            self.bank.add_account(0, floor)
            pop.appended_ibans.append(
                identity.iban_numbers(self._identity_rng, 1, country="DE", bank_code=pop.bank_code)
            )
            pop.customers["credit_idx"][customer] = account
        else:
            account = self.checking(customer)
        c = pop.cards
        card = len(c["customer_idx"])
        for name, value in (
            ("customer_idx", customer),
            ("account_idx", account),
            ("kind", 1 if kind == "credit" else 0),
            ("product", 0),
            ("monthly_rate", 0.0),
        ):
            c[name] = np.append(c[name], np.asarray(value, dtype=c[name].dtype))
        self.pop.new_ids("cards", c, np.array([card]))
        self.bank.add_card()
        pop.appended_cards.append(card)
        return card

    def card_lost(self, card: int) -> None:
        """The physical card leaves its owner now: the owner's own payments with it stop."""
        self.bank.card_lost_at[card] = min(int(self.bank.card_lost_at[card]), self.now)

    def set_limit(self, account: int, limit: float) -> None:
        """Change an account's overdraft or credit limit (major units, >= 0)."""
        floor = -int(round(limit * self.world.profile.minor_per_major))
        self.pop.accounts["floor"][account] = floor
        self.bank.floors[account] = floor

    def watch_merchant(self, merchant: int) -> None:
        """Record, from now on, every card that pays at this merchant (a skimmer, a breach)."""
        self.world.watched_merchants.setdefault(merchant, [])

    def cards_seen_at(self, merchant: int) -> list[tuple[int, int]]:
        """(card idx, time) of honest card payments at a watched merchant so far (settled days)."""
        return list(self.world.watched_merchants.get(merchant, []))

    # -- actions -------------------------------------------------------------------------------

    def _labels(self, ep: Episode, role: str) -> dict[str, int]:
        t = self.now
        reported = -1
        if ep.report_at is not None:
            reported = max(ep.report_at, t)
        return {
            "is_fraud": int(ep.is_fraud),
            "fraud_type": self._type_code(ep.typology),
            "episode": ep.id,
            "role": ROLE[role],
            "reported_at": reported,
            "pattern": self._pattern_code(ep.pattern),
        }

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
            **self._labels(ep, role),
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
    ) -> Outcome:
        """A card purchase attempt (minor units) at a merchant, online (cnp) or in store (pos)."""
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
        """Cash out with a card at an ATM (in the card holder's region unless given)."""
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
            card=card, t=self.now, amount=amount, channel="atm", merchant=merchant, has_otp=True
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


def _age_band(bounds: list[tuple[int, int]], age: int) -> int:
    for i, (lo, hi) in enumerate(bounds):
        if lo <= age <= hi:
            return i
    return len(bounds) - 1


__all__ = ["Channels", "Outcome", "Table"]
