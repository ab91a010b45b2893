"""Entities typologies create: devices, customers with accounts, merchants, cards, limits
(a mixin of `actions.Channels`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from fraudsim.world import identity

if TYPE_CHECKING:
    import simpy

    from fraudsim.world.model import World
    from fraudsim.world.population import Population


class EntityFactory:
    """New entities, with ids and identity strings drawn like everyone's."""

    world: World
    pop: Population
    env: simpy.Environment
    _identity_rng: np.random.Generator

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
        everyone's, and identity strings from the same Faker tables. What the bank records of
        a customer it does not get from the applicant (segment, overdraft, devices, habits) is
        drawn as for the customers already here (`population._draw_customers`), from a stream
        of the new customer's own, so a newcomer and a fraudster's new account look alike.
        """
        pop, c = self.pop, self.pop.customers
        cust = len(c["age"])
        acct = len(pop.accounts["kind"])
        rng = self._identity_rng
        region = int(rng.integers(0, len(pop.regions))) if region is None else region
        band = int(np.searchsorted(self.world.income_quartiles, income))
        profile = self.world.profile
        people, cards = profile.population, profile.cards
        draw = self.world.streams.generator("opened_customers", cust)
        segment = 0
        if age >= people.retirement_age:
            segment = 2
        elif age < 25 and draw.random() < people.student_share_under_25:
            segment = 1
        n_devices = 1 + min(int(draw.poisson(max(people.devices_per_customer_mean - 1, 0))), 3)
        first_device = len(pop.devices["customer_idx"])
        values = {
            "age": age,
            "age_band": _age_band(people.age_band_bounds, age),
            "sex": sex,
            "income": income,
            "income_band": band,
            "segment": segment,
            "region": region,
            "home_lat": pop.regions["lat"][region] + draw.normal(0, 0.12),
            "home_lon": pop.regions["lon"][region] + draw.normal(0, 0.18),
            "birth_offset_days": int(draw.integers(0, 365)),
            "cnp_propensity": draw.beta(
                cards.cnp_share * cards.cnp_propensity_concentration,
                (1 - cards.cnp_share) * cards.cnp_propensity_concentration,
            ),
            "payday": int(draw.choice(31, p=profile.weights("calendar", "payday_weights"))) + 1,
            "pays_rent": bool(draw.random() < profile.transfers.rent_share_of_customers),
            "checking_idx": acct,
            "savings_idx": -1,
            "credit_idx": -1,
            "first_device": first_device,
            "n_devices": n_devices,
        }
        for name, value in values.items():
            c[name] = np.append(c[name], np.asarray(value, dtype=c[name].dtype))
        self.pop.new_ids("customers", c, np.array([cust]))
        # An overdraft as the bank grants it to everyone: months of income by income band,
        # in round hundreds.
        months = profile.balances.overdraft_months_by_income_band[min(band, 3)]
        step = 100 * profile.minor_per_major
        floor = -int(round(months * income / 12 * profile.minor_per_major / step)) * step
        a = pop.accounts
        for name, value in (
            ("customer_idx", cust),
            ("kind", 0),
            ("opening_balance", 0),  # the balance at the run's start: it did not exist yet
            ("floor", floor),
        ):
            a[name] = np.append(a[name], np.asarray(value, dtype=a[name].dtype))
        self.pop.new_ids("accounts", a, np.array([acct]))
        self.bank.add_account(0, floor)
        for _ in range(n_devices):
            self.new_device(cust)
        d = pop.devices
        d["first_of_customer"][first_device:] = first_device
        d["count_of_customer"][first_device:] = n_devices
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


def _age_band(bounds: list[tuple[int, int]], age: int) -> int:
    for i, (lo, hi) in enumerate(bounds):
        if lo <= age <= hi:
            return i
    return len(bounds) - 1
