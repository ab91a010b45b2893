"""Vectorised entity tables: customers, accounts, cards, devices, merchants, terminals.

Everything here is numpy arrays indexed by an internal position (`*_idx`); public ids are keyed
scrambles of those positions (see ids.py). Identities come from Faker's word tables sampled with
numpy, never from per-row Faker calls.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from fraudsim.calibration.profile import Profile
from fraudsim.core.ids import entity_ids
from fraudsim.core.rng import SeedStreams
from fraudsim.world import households, identity
from fraudsim.world.households import Households

DEVICE_KINDS = ("phone", "laptop", "tablet")
# Merchant categories beyond the profile's card categories: cash machines and billers.
EXTRA_CATEGORIES = (("atm", 6011), ("utilities", 4900), ("telecom", 4814), ("insurance", 6300))
BILLER_CATEGORIES = ("utilities", "telecom", "insurance")
CUSTOMERS_PER_ATM = 1_500

# The synthetic country spans this box (degrees); regions are scattered inside it.
_LAT_RANGE, _LON_RANGE = (47.5, 54.5), (6.0, 14.5)
# Fictitious issuer BINs (6 digits) used for every card, honest and fraudulent alike.
_DEBIT_BINS = np.array(["400000", "455601", "516732"])
_CREDIT_BINS = np.array(["491801", "545455", "522187"])
# Card numbers of shard k come from account-number range k % PAN_BLOCKS of each BIN (976,562
# numbers per BIN and shard), so shards never issue the same number (up to 1,024 shards).
PAN_BLOCKS = 1024


@dataclass
class Table:
    """A named set of equal-length numpy columns."""

    columns: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    def __setitem__(self, name: str, values: np.ndarray) -> None:
        self.columns[name] = values


@dataclass
class Population:
    """All entity tables of a world plus the lookup structures traffic needs."""

    regions: Table
    customers: Table
    accounts: Table
    cards: Table
    devices: Table
    merchants: Table
    terminals: Table
    categories: list[str]
    category_mcc: np.ndarray
    favourites_pos: np.ndarray  # (customers, k) merchant_idx
    favourites_cnp: np.ndarray
    contacts: np.ndarray  # (customers, k) customer_idx of people they pay
    bills: Table  # one row per (customer, biller) standing debit
    identity_tables: identity.IdentityTables | None = field(repr=False, default=None)
    households: Households | None = field(repr=False, default=None)
    streams: SeedStreams | None = field(repr=False, default=None)
    start_year: int = 2025
    appended_identities: list[dict[str, np.ndarray]] = field(default_factory=list)
    # Phones handed down to a housemate (t, device, from_customer, customer: the new holder);
    # `devices.customer_idx` keeps the first owner.
    device_handovers: list[dict[str, np.ndarray]] = field(default_factory=list)
    appended_ibans: list[np.ndarray] = field(default_factory=list)
    appended_cards: list[int] = field(default_factory=list)
    export_cache: dict[str, Any] = field(default_factory=dict, repr=False)
    n_initial: int = 0
    n_initial_accounts: int = 0
    n_initial_cards: int = 0
    shard: int = 0
    n_global_merchants: int = 0  # merchants and terminals below these are shared by all shards
    n_global_terminals: int = 0
    merchant_order: np.ndarray = field(repr=False, default_factory=lambda: np.empty(0))
    merchant_cum_size: np.ndarray = field(repr=False, default_factory=lambda: np.empty(0))
    group_bounds: dict[tuple[int, int, int], tuple[int, int]] = field(default_factory=dict)

    def new_ids(self, kind: str, table: Table, index: np.ndarray) -> None:
        """Append public ids for rows `index` of an entity table (the shared merchants and
        terminals keep shard-free ids; every other entity's id carries its shard)."""
        assert self.streams is not None
        shared = {"merchants": self.n_global_merchants, "terminals": self.n_global_terminals}
        shard = 0 if kind in shared and len(index) and index[-1] < shared[kind] else self.shard
        ids = entity_ids(index, self.streams.key("ids", _ID_SPACE[kind]), shard)
        table["id"] = np.concatenate([table.columns.get("id", np.zeros(0, np.int64)), ids])

    # Identity strings are drawn on first use, from their own streams, so that the simulation
    # never waits for them and the exporter can build them on its background thread.

    @cached_property
    def customer_identities(self) -> dict[str, np.ndarray]:
        """Fake names, e-mails, street addresses, phones and cities of the customers."""
        assert self.streams is not None and self.identity_tables is not None
        rng = self.streams.generator("identities", 0)
        tables, c = self.identity_tables, self.customers
        n = self.n_initial
        sex = c["sex"][:n]
        first, last = identity.person_names(rng, tables, sex)
        hh = self.households
        # Members of a household share its head's home (one street address), often the family
        # name and rarely a phone number; otherwise numbers are personal (unique while the
        # fictitious pool allows).
        home = np.arange(n) if hh is None else hh.member_of
        head = np.arange(n) if hh is None else hh.head[hh.member_of]
        if hh is not None:
            last = identity.family_names(last, sex, head, hh.takes_surname, tables)
        email = identity.emails(rng, first, last, tables)
        street = identity.street_addresses(rng, int(home.max(initial=-1)) + 1, tables)[home]
        phone = identity.phone_numbers(rng, n, unique=n <= identity.PHONE_POOL)
        if hh is not None:
            phone = np.where(hh.shares_phone, phone[head], phone)
        return {
            "first_name": first,
            "last_name": last,
            "email": email,
            "street_address": street,
            "phone": phone,
            "city": self.regions["name"][c["region"][:n]],
        }

    def pick_devices(self, u: np.ndarray, customer: np.ndarray, phone: np.ndarray) -> np.ndarray:
        """The device of each honest online session of `customer` (initial customers), from
        one uniform per row: the household's shared tablet/laptop for a share of a sharing
        member's sessions, else one of their own, `phone` (>= 0) replacing the first device."""
        c, hh = self.customers, self.households
        shared = np.full(len(customer), -1) if hh is None else hh.shared_device_of(customer)
        share = 0.0 if hh is None else hh.session_share
        return households.pick_devices(
            u, customer, c["first_device"], c["n_devices"], phone, shared, share
        )

    @cached_property
    def ibans(self) -> np.ndarray:
        """Fictitious, well-formed IBANs of the accounts."""
        assert self.streams is not None
        return identity.iban_numbers(
            self.streams.generator("identities", 1),
            self.n_initial_accounts,
            country="DE",
            bank_code=self.bank_code,
        )

    @property
    def bank_code(self) -> str | None:
        """The (fictitious) bank code of this shard's IBANs: one branch code per shard keeps
        account numbers of different shards apart."""
        return f"{self.shard:08d}" if self.shard else None

    @cached_property
    def card_details(self) -> dict[str, np.ndarray]:
        """Card numbers (Luhn-valid, fictitious BINs) and MM/YY expiry dates of the initial
        cards (see `all_card_details` for cards issued during the run)."""
        assert self.streams is not None
        return self._draw_card_details(
            self.streams.generator("identities", 2), self.cards["kind"][: self.n_initial_cards]
        )

    def _draw_card_details(
        self, rng: np.random.Generator, kind: np.ndarray
    ) -> dict[str, np.ndarray]:
        n = len(kind)
        # Debit and credit BINs differ, so numbers drawn per kind cannot collide.
        pans = np.empty(n, dtype="U16")
        pans[kind == 0] = identity.card_numbers(
            rng, int((kind == 0).sum()), _DEBIT_BINS, self.shard, PAN_BLOCKS
        )
        pans[kind == 1] = identity.card_numbers(
            rng, int((kind == 1).sum()), _CREDIT_BINS, self.shard, PAN_BLOCKS
        )
        year = (self.start_year + rng.integers(1, 5, n)) % 100
        month = rng.integers(1, 13, n)
        expiry = np.char.add(
            np.char.add(np.char.zfill(month.astype(str), 2), "/"),
            np.char.zfill(year.astype(str), 2),
        )
        return {"pan": pans, "expiry": expiry}

    def all_card_details(self) -> dict[str, np.ndarray]:
        """Numbers and expiry dates of every card, including cards issued during the run (from
        the same BINs, redrawn on the rare clash with an existing number)."""
        base = self.card_details
        extra = self.cards["kind"][self.n_initial_cards :]
        if len(extra) == 0:
            return base
        assert self.streams is not None
        rng = self.streams.generator("identities", 3)
        more = self._draw_card_details(rng, extra)
        while True:
            clash = np.isin(more["pan"], base["pan"])
            if not clash.any():
                break
            more["pan"][clash] = self._draw_card_details(rng, extra[clash])["pan"]
        return {k: np.concatenate([base[k], more[k]]) for k in base}


def _geometric_weights(n: int, decay: float) -> np.ndarray:
    w = decay ** np.arange(n, dtype=np.float64)
    return w / w.sum()


def _draw_regions(
    rng: np.random.Generator, profile: Profile, tables: identity.IdentityTables
) -> Table:
    n = profile.population.regions
    names = identity.city_names(rng, n, tables)
    return Table(
        {
            "name": names,
            "lat": rng.uniform(*_LAT_RANGE, n),
            "lon": rng.uniform(*_LON_RANGE, n),
            "weight": _geometric_weights(n, profile.population.region_size_decay),
        }
    )


def _draw_customers(
    rng: np.random.Generator,
    n: int,
    profile: Profile,
    regions: Table,
    tables: identity.IdentityTables,
) -> Table:
    pop = profile.population
    band = rng.choice(
        len(pop.age_bands), size=n, p=profile.weights("population", "age_band_shares")
    )
    bounds = np.array(pop.age_band_bounds)
    age = rng.integers(bounds[band, 0], bounds[band, 1] + 1).astype(np.int16)
    female = rng.random(n) < pop.female_share
    sex = np.where(female, "F", "M")
    # Life-cycle earnings: income rises to a peak age and falls after it (log-quadratic).
    life_cycle = -0.0004 * (age.astype(np.float64) - pop.income_age_peak) ** 2
    log_income = (
        np.log(pop.annual_income_median)
        + life_cycle
        + pop.annual_income_sigma * (rng.standard_normal(n))
    )
    student = (age < 25) & (rng.random(n) < pop.student_share_under_25)
    retired = age >= pop.retirement_age
    income = np.exp(log_income)
    income = np.where(student, income * 0.35, income)
    income = np.where(retired, income * pop.pension_ratio, income)
    quartiles = np.quantile(income, [0.25, 0.5, 0.75]) if n >= 4 else np.array([0, 0, 0])
    income_band = np.searchsorted(quartiles, income).astype(np.int8)
    segment = np.where(retired, 2, np.where(student, 1, 0)).astype(np.int8)
    region = rng.choice(len(regions), size=n, p=regions["weight"]).astype(np.int16)
    birth_offset = rng.integers(0, 365, n)
    return Table(
        {
            "age": age,
            "age_band": band.astype(np.int8),
            "sex": sex,
            "income": income,
            "income_band": income_band,
            "segment": segment,
            "region": region,
            "home_lat": regions["lat"][region] + rng.normal(0, 0.12, n),
            "home_lon": regions["lon"][region] + rng.normal(0, 0.18, n),
            "birth_offset_days": birth_offset.astype(np.int16),
            "cnp_propensity": rng.beta(
                profile.cards.cnp_share * profile.cards.cnp_propensity_concentration,
                (1 - profile.cards.cnp_share) * profile.cards.cnp_propensity_concentration,
                n,
            ),
            "payday": (
                rng.choice(31, size=n, p=profile.weights("calendar", "payday_weights")) + 1
            ).astype(np.int8),
            "pays_rent": rng.random(n) < profile.transfers.rent_share_of_customers,
        }
    )


def _draw_accounts(
    rng: np.random.Generator, profile: Profile, customers: Table
) -> tuple[Table, np.ndarray, np.ndarray, np.ndarray]:
    """Checking for everyone, savings and credit for some; returns (accounts, idx per kind)."""
    n = len(customers)
    pop, bal = profile.population, profile.balances
    monthly = customers["income"] / 12.0 * profile.minor_per_major
    has_savings = rng.random(n) < pop.savings_account_share
    credit_p = np.asarray(pop.credit_card_share_by_income_band)[customers["income_band"]]
    has_credit = rng.random(n) < credit_p
    owners = np.concatenate([np.arange(n), np.flatnonzero(has_savings), np.flatnonzero(has_credit)])
    kinds = np.concatenate(
        [np.zeros(n), np.ones(has_savings.sum()), np.full(has_credit.sum(), 2)]
    ).astype(np.int8)
    m = monthly[owners]
    opening = np.where(
        kinds == 0,
        m
        * bal.checking_months_median
        * np.exp(
            bal.checking_sigma * (rng.standard_normal(len(owners)) - 0.5 * bal.checking_sigma)
        ),
        np.where(kinds == 1, m * bal.savings_months_median * rng.lognormal(0, 1, len(owners)), 0.0),
    )
    overdraft = (
        np.asarray(bal.overdraft_months_by_income_band)[customers["income_band"][owners]] * m
    )
    credit_limit = np.maximum(
        bal.credit_limit_months * m, bal.credit_limit_min * profile.minor_per_major
    )
    # Limits are round numbers, as banks grant them.
    step = 100 * profile.minor_per_major
    floor = np.where(
        kinds == 0,
        -np.round(overdraft / step) * step,
        np.where(kinds == 2, -np.round(credit_limit / step) * step, 0.0),
    )
    accounts = Table(
        {
            "customer_idx": owners.astype(np.int32),
            "kind": kinds,
            "opening_balance": np.round(opening).astype(np.int64),
            "floor": floor.astype(np.int64),
        }
    )
    checking = np.arange(n, dtype=np.int32)
    savings = np.full(n, -1, np.int32)
    savings[has_savings] = n + np.arange(has_savings.sum(), dtype=np.int32)
    credit = np.full(n, -1, np.int32)
    credit[has_credit] = n + has_savings.sum() + np.arange(has_credit.sum(), dtype=np.int32)
    return accounts, checking, savings, credit


def _draw_cards(
    rng: np.random.Generator,
    profile: Profile,
    customers: Table,
    checking: np.ndarray,
    credit: np.ndarray,
) -> Table:
    n = len(customers)
    has_credit = credit >= 0
    owners = np.concatenate([np.arange(n), np.flatnonzero(has_credit)]).astype(np.int32)
    kind = np.concatenate([np.zeros(n), np.ones(has_credit.sum())]).astype(np.int8)
    account = np.concatenate([checking, credit[has_credit]]).astype(np.int32)
    cards = profile.cards
    rate = rng.gamma(
        cards.purchases_gamma_shape,
        cards.purchases_per_card_month / cards.purchases_gamma_shape,
        len(owners),
    )
    young = customers["age"][owners] < 25
    gold = customers["income_band"][owners] == 3
    product = np.where(young, 1, np.where(gold & (rng.random(len(owners)) < 0.5), 2, 0))
    return Table(
        {
            "customer_idx": owners,
            "account_idx": account,
            "kind": kind,
            "product": product.astype(np.int8),
            "monthly_rate": rate.astype(np.float64),
        }
    )


def _draw_devices(
    rng: np.random.Generator, profile: Profile, n_customers: int, shared_users: float = 0.0
) -> Table:
    """Each customer's own devices: a phone first, then laptops and tablets. A household's
    shared device counts among its users' devices (`shared_users`: the share of customers with
    one), so the devices a customer uses stay at the profile's mean."""
    mean_extra = max(profile.population.devices_per_customer_mean - 1.0 - shared_users, 0.0)
    extra = rng.poisson(mean_extra, n_customers)
    count = 1 + np.minimum(extra, 3)
    owner = np.repeat(np.arange(n_customers, dtype=np.int32), count)
    first = np.concatenate([[0], np.cumsum(count)[:-1]])
    is_first = np.zeros(len(owner), bool)
    is_first[first] = True
    kind = np.where(is_first, 0, rng.choice([1, 2], size=len(owner), p=[0.7, 0.3]))
    return Table(
        {
            "customer_idx": owner,
            "kind": kind.astype(np.int8),
            "first_of_customer": np.repeat(first, count).astype(np.int32),
            "count_of_customer": np.repeat(count, count).astype(np.int8),
        }
    )


def _draw_merchants(
    rng: np.random.Generator,
    profile: Profile,
    n_merchants: int,
    total_customers: int,
    regions: Table,
    tables: identity.IdentityTables,
    categories: list[str],
) -> Table:
    cats = profile.cards.categories
    n_card_cats = len(cats)
    pos_p = np.array([c.pos_share for c in cats])
    cnp_p = np.array([c.cnp_share for c in cats])
    pos_p, cnp_p = pos_p / pos_p.sum(), cnp_p / cnp_p.sum()
    pos_cats, cnp_cats = np.flatnonzero(pos_p > 0), np.flatnonzero(cnp_p > 0)
    n_online = max(round(n_merchants * profile.merchants.online_share), len(cnp_cats))
    n_physical = max(n_merchants - n_online, len(pos_cats))
    # Every channel category gets at least one merchant; the rest follow the channel mix.
    online_cat = np.concatenate(
        [cnp_cats, rng.choice(n_card_cats, n_online - len(cnp_cats), p=cnp_p)]
    )
    physical_cat = np.concatenate(
        [pos_cats, rng.choice(n_card_cats, n_physical - len(pos_cats), p=pos_p)]
    )
    # Expected customers per region (the same in every shard), not the drawn ones.
    region_weight = regions["weight"] * total_customers + 1.0
    physical_region = rng.choice(len(regions), n_physical, p=region_weight / region_weight.sum())
    # Cash machines and billers.
    atm_cat = categories.index("atm")
    atm_region = np.repeat(
        np.arange(len(regions)),
        np.maximum(1, np.ceil((region_weight - 1) / CUSTOMERS_PER_ATM)).astype(int),
    )
    billers = np.repeat([categories.index(c) for c in BILLER_CATEGORIES], 3)
    category = np.concatenate(
        [physical_cat, online_cat, np.full(len(atm_region), atm_cat), billers]
    )
    online = np.concatenate(
        [
            np.zeros(n_physical, bool),
            np.ones(n_online, bool),
            np.zeros(len(atm_region), bool),
            np.ones(len(billers), bool),
        ]
    )
    region = np.concatenate(
        [physical_region, np.full(n_online, -1), atm_region, np.full(len(billers), -1)]
    ).astype(np.int16)
    m = len(category)
    size = rng.lognormal(0.0, profile.merchants.size_sigma, m)
    terminals = np.where(online, 0, 1 + rng.poisson(profile.merchants.terminals_mean - 1, m))
    terminals[category == atm_cat] = 1
    safe_region = np.maximum(region, 0)
    lat = np.where(online, np.nan, regions["lat"][safe_region] + rng.normal(0, 0.12, m))
    lon = np.where(online, np.nan, regions["lon"][safe_region] + rng.normal(0, 0.18, m))
    words = np.array([c.replace("_", " ").title() for c in categories])
    return Table(
        {
            "category": category.astype(np.int16),
            "online": online,
            "region": region,
            "size": size,
            "n_terminals": terminals.astype(np.int16),
            "first_terminal": (np.cumsum(terminals) - terminals).astype(np.int32),
            "lat": lat,
            "lon": lon,
            "name": identity.company_names(rng, m, tables, words[category]),
        }
    )


def _merchant_groups(
    merchants: Table, n_regions: int
) -> tuple[np.ndarray, np.ndarray, dict[tuple[int, int, int], tuple[int, int]]]:
    """Order merchants by (online, category, region) with size-weighted cumulative sums.

    A group (online, category, region) is a contiguous range; region -1 means the whole
    category range, used when a region has no merchant of that category.
    """
    online = merchants["online"].astype(np.int64)
    category = merchants["category"].astype(np.int64)
    region = merchants["region"].astype(np.int64) + 1
    key = (online * 100_000 + category) * (n_regions + 2) + region
    order = np.argsort(key, kind="stable")
    cum = np.cumsum(merchants["size"][order])
    sorted_key = key[order]
    bounds: dict[tuple[int, int, int], tuple[int, int]] = {}
    uniq, starts, counts = np.unique(sorted_key, return_index=True, return_counts=True)
    for k, s, c in zip(uniq.tolist(), starts.tolist(), counts.tolist(), strict=True):
        reg = k % (n_regions + 2) - 1
        oc = k // (n_regions + 2)
        bounds[(oc // 100_000, oc % 100_000, reg)] = (s, s + c)
        whole = (oc // 100_000, oc % 100_000, -2)
        lo, hi = bounds.get(whole, (s, s + c))
        bounds[whole] = (min(lo, s), max(hi, s + c))
    return order, cum, bounds


def group_range_table(pop: Population, online: int, n_regions: int) -> np.ndarray:
    """(categories, regions) -> [start, stop) of the merchant range to draw from, with fallback."""
    n_cat = len(pop.categories)
    table = np.full((n_cat, max(n_regions, 1), 2), -1, np.int64)
    for c in range(n_cat):
        whole = pop.group_bounds.get((online, c, -2))
        for r in range(n_regions):
            rng_ = pop.group_bounds.get((online, c, r if not online else -1), whole)
            if rng_ is not None:
                table[c, r] = rng_
    return table


def pick_in_ranges(
    u: np.ndarray, start: np.ndarray, stop: np.ndarray, pop: Population
) -> np.ndarray:
    """Size-weighted merchant choice inside [start, stop) of the ordered merchants."""
    cum = pop.merchant_cum_size
    lo = np.where(start > 0, cum[np.maximum(start - 1, 0)], 0.0)
    target = lo + u * (cum[stop - 1] - lo)
    pos = np.searchsorted(cum, target, side="right")
    pos = np.clip(pos, start, stop - 1)
    return pop.merchant_order[pos].astype(np.int32)


def _favourites(
    rng: np.random.Generator, pop: Population, profile: Profile, online: int, k: int
) -> np.ndarray:
    n = len(pop.customers)
    shares = np.array(
        [getattr(c, "cnp_share" if online else "pos_share") for c in profile.cards.categories]
    )
    cat = rng.choice(len(shares), size=(n, k), p=shares / shares.sum())
    n_regions = len(pop.regions)
    ranges = group_range_table(pop, online, n_regions)
    reg = np.broadcast_to(pop.customers["region"][:, None], (n, k))
    bounds = ranges[cat, reg]
    return pick_in_ranges(rng.random((n, k)), bounds[..., 0], bounds[..., 1], pop).reshape(n, k)


def _bills(rng: np.random.Generator, pop: Population, profile: Profile) -> Table:
    n, k = len(pop.customers), profile.transfers.bills_per_customer
    billers = np.flatnonzero(
        np.isin(pop.merchants["category"], [pop.categories.index(c) for c in BILLER_CATEGORIES])
    )
    customer = np.repeat(np.arange(n, dtype=np.int32), k)
    t = profile.transfers
    income_scale = np.sqrt(
        pop.customers["income"][customer] / profile.population.annual_income_median
    )
    amount = t.bill_amount_median * income_scale * rng.lognormal(0, t.bill_amount_sigma, n * k)
    return Table(
        {
            "customer_idx": customer,
            "merchant_idx": rng.choice(billers, n * k).astype(np.int32),
            "day": (
                rng.choice(31, n * k, p=profile.weights("calendar", "bill_day_weights")) + 1
            ).astype(np.int8),
            "amount": np.maximum(np.round(amount * profile.minor_per_major), 100).astype(np.int64),
        }
    )


def build_population(
    streams: SeedStreams,
    profile: Profile,
    n_customers: int,
    n_merchants: int | None,
    locale: str,
    start_year: int,
    total_customers: int | None = None,
) -> Population:
    """Draw the entity tables of one shard of a world (the whole world when unsharded).

    Customers and everything they own come from the shard's population stream; regions and
    merchants from shared streams, sized for the whole world (`total_customers`), so every
    shard sees the same merchants.
    """
    rng = streams.generator("population")
    shared = streams.shared
    total = n_customers if total_customers is None else total_customers
    tables = identity.IdentityTables.from_locale(locale)
    categories = [c.name for c in profile.cards.categories] + [c for c, _ in EXTRA_CATEGORIES]
    category_mcc = np.array(
        [c.mcc for c in profile.cards.categories] + [mcc for _, mcc in EXTRA_CATEGORIES],
        dtype=np.int16,
    )
    if n_merchants is None:
        n_merchants = int(np.ceil(total * profile.merchants.merchants_per_1000_customers / 1000))
    regions = _draw_regions(shared.generator("regions"), profile, tables)
    customers = _draw_customers(rng, n_customers, profile, regions, tables)
    hh_rng = streams.generator("households")
    hh = households.form_households(hh_rng, customers["age"], customers["sex"], profile)
    households.share_home(customers, hh)
    accounts, checking, savings, credit = _draw_accounts(rng, profile, customers)
    customers["checking_idx"], customers["savings_idx"], customers["credit_idx"] = (
        checking,
        savings,
        credit,
    )
    cards = _draw_cards(rng, profile, customers, checking, credit)
    devices = _draw_devices(rng, profile, n_customers, households.shared_users_share(hh, profile))
    customers["first_device"] = np.concatenate(
        [[0], np.cumsum(np.bincount(devices["customer_idx"], minlength=n_customers))[:-1]]
    ).astype(np.int32)
    customers["n_devices"] = np.bincount(devices["customer_idx"], minlength=n_customers).astype(
        np.int8
    )
    households.add_shared_devices(hh_rng, profile, hh, devices)
    merchants = _draw_merchants(
        shared.generator("merchants"), profile, n_merchants, total, regions, tables, categories
    )
    terminal_merchant = np.repeat(
        np.arange(len(merchants["category"]), dtype=np.int32), merchants["n_terminals"]
    )
    terminals = Table({"merchant_idx": terminal_merchant})
    order, cum, bounds = _merchant_groups(merchants, len(regions))
    contacts = _contacts(rng, customers, k=5)
    # People pay the people they live with (rent shares, groceries, pocket money).
    mate = hh.housemate()
    contacts[mate >= 0, 0] = mate[mate >= 0]
    pop = Population(
        regions=regions,
        customers=customers,
        accounts=accounts,
        cards=cards,
        devices=devices,
        merchants=merchants,
        terminals=terminals,
        categories=categories,
        category_mcc=category_mcc,
        favourites_pos=np.empty((0, 0), np.int32),
        favourites_cnp=np.empty((0, 0), np.int32),
        contacts=contacts,
        bills=Table(),
        merchant_order=order,
        merchant_cum_size=cum,
        group_bounds=bounds,
        identity_tables=tables,
        households=hh,
        streams=streams,
        start_year=start_year,
        n_initial=n_customers,
        n_initial_accounts=len(accounts["kind"]),
        n_initial_cards=len(cards["kind"]),
        shard=streams.shard,
        n_global_merchants=len(merchants["category"]),
        n_global_terminals=len(terminals["merchant_idx"]),
    )
    pop.favourites_pos = _favourites(rng, pop, profile, 0, profile.cards.favourites_pos)
    pop.favourites_cnp = _favourites(rng, pop, profile, 1, profile.cards.favourites_cnp)
    pop.bills = _bills(rng, pop, profile)
    _assign_public_ids(streams, pop)
    return pop


def _contacts(rng: np.random.Generator, customers: Table, k: int) -> np.ndarray:
    """People each customer pays: mostly from the same region (family, friends, landlords)."""
    n = len(customers)
    region = customers["region"]
    order = np.argsort(region, kind="stable")
    counts = np.bincount(region, minlength=int(region.max()) + 1)
    start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    local = order[
        start[region][:, None] + (rng.random((n, k)) * counts[region][:, None]).astype(np.int64)
    ]
    anywhere = rng.integers(0, n, (n, k))
    contacts = np.where(rng.random((n, k)) < 0.8, local, anywhere)
    # Nobody is their own contact: shift such entries to the next customer.
    own = contacts == np.arange(n)[:, None]
    contacts[own] = (contacts[own] + 1) % max(n, 1)
    return contacts.astype(np.int32)


def _assign_public_ids(streams: SeedStreams, pop: Population) -> None:
    for name, table in (
        ("customers", pop.customers),
        ("accounts", pop.accounts),
        ("cards", pop.cards),
        ("devices", pop.devices),
        ("merchants", pop.merchants),
        ("terminals", pop.terminals),
    ):
        pop.new_ids(name, table, np.arange(len(table)))


_ID_SPACE = {
    "customers": 1,
    "accounts": 2,
    "cards": 3,
    "devices": 4,
    "merchants": 5,
    "terminals": 6,
}
