"""Households: customers who live together share a home, often a surname, sometimes a device.

Customers are drawn one by one (ages, sexes and incomes keep their profile marginals) and then
grouped: household sizes come from the adults per EU household, thinned to the adults who bank
here; couples are a woman and a man of similar age, adult children live with parents about a
generation older. Members share the head's region, home and street address; devices shared in
the household and phones handed down make "a device used by another customer" an honest sight.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import comb
from typing import TYPE_CHECKING

import numpy as np

from fraudsim.calibration.profile import Profile

if TYPE_CHECKING:
    from fraudsim.world.population import Table

DEVICE_KINDS_SHARED = (1, 2)  # laptop, tablet
SHARED_KIND_WEIGHTS = (0.7, 0.3)  # as personal second devices (population._draw_devices)


@dataclass
class Households:
    """Who lives with whom (initial customers only; accounts opened later live alone)."""

    member_of: np.ndarray  # (customers,) household of each customer
    head: np.ndarray  # (households,) the member whose home, surname and phone others share
    size: np.ndarray  # (households,) customers in the household
    takes_surname: np.ndarray  # (customers,) bool: carries the head's family name
    shares_phone: np.ndarray  # (customers,) bool: gives the head's phone number
    shared_device: np.ndarray  # (households,) device idx of the shared tablet/laptop, or -1
    session_share: float = 0.0  # share of a sharing member's online sessions on that device

    @property
    def n(self) -> int:
        return len(self.head)

    def shared_device_of(self, customer: np.ndarray) -> np.ndarray:
        """The shared device each customer may use (-1: none); customers opened later have none."""
        out = np.full(len(customer), -1, np.int64)
        known = customer < len(self.member_of)
        out[known] = self.shared_device[self.member_of[customer[known]]]
        return out

    def housemate(self) -> np.ndarray:
        """One other member per customer (the next one round the household), -1 alone."""
        n = len(self.member_of)
        order = np.argsort(self.member_of, kind="stable")
        start = np.concatenate([[0], np.cumsum(self.size)[:-1]])
        pos = np.empty(n, np.int64)
        pos[order] = np.arange(n) - start[self.member_of[order]]
        hh = self.member_of
        nxt = order[start[hh] + (pos + 1) % self.size[hh]]
        return np.where(self.size[hh] > 1, nxt, -1)


def customers_per_household(profile: Profile) -> np.ndarray:
    """Shares of households with 1, 2, ... customers: each adult of a household banks here with
    `household_same_bank_share`; households with no customer are not the bank's."""
    adults = np.asarray(profile.weights("population", "household_adults_shares"))
    q = profile.population.household_same_bank_share
    k = len(adults)
    shares = np.zeros(k + 1)
    for a in range(1, k + 1):
        for c in range(1, a + 1):
            shares[c] += adults[a - 1] * comb(a, c) * q**c * (1 - q) ** (a - c)
    shares = shares[1:]
    return shares / shares.sum()


def _sizes(rng: np.random.Generator, n: int, profile: Profile) -> np.ndarray:
    """Household sizes summing to exactly n (the last one trimmed)."""
    if n == 0:
        return np.zeros(0, np.int64)
    shares = customers_per_household(profile)
    mean = float((np.arange(1, len(shares) + 1) * shares).sum())
    draws = 1 + rng.choice(len(shares), int(n / mean * 1.2) + 16, p=shares)
    while draws.sum() < n:
        draws = np.concatenate([draws, 1 + rng.choice(len(shares), n, p=shares)])
    cum = np.cumsum(draws)
    m = int(np.searchsorted(cum, n)) + 1
    sizes = draws[:m].copy()
    sizes[-1] -= int(cum[m - 1] - n)
    return sizes


def _pairs(
    rng: np.random.Generator, a: np.ndarray, b: np.ndarray, age: np.ndarray, sd: float
) -> tuple[np.ndarray, np.ndarray]:
    """Pair a[i] with b[i] after sorting each side by age plus noise: partners of similar age."""
    ka = age[a] + rng.normal(0, sd / np.sqrt(2), len(a))
    kb = age[b] + rng.normal(0, sd / np.sqrt(2), len(b))
    return a[np.argsort(ka, kind="stable")], b[np.argsort(kb, kind="stable")]


def form_households(
    rng: np.random.Generator, age: np.ndarray, sex: np.ndarray, profile: Profile
) -> Households:
    """Group customers into households (see the module docstring)."""
    pop = profile.population
    n = len(age)
    sizes = _sizes(rng, n, profile)
    multi = np.flatnonzero(sizes >= 2)
    extra = np.maximum(sizes - 2, 0)
    n_kids = int(extra.sum())
    # Adult children: young customers, older ones only if there are too few young.
    young = np.flatnonzero(age <= pop.adult_child_max_age)
    if len(young) >= n_kids:
        kids = rng.choice(young, n_kids, replace=False)
    else:
        older = np.setdiff1d(np.arange(n), young)
        kids = np.concatenate([young, rng.choice(older, n_kids - len(young), replace=False)])
    rest = rng.permutation(np.setdiff1d(np.arange(n), kids))
    # Couples: a woman and a man where the pool allows, else two of the same sex.
    women, men = rest[sex[rest] == "F"], rest[sex[rest] == "M"]
    mixed = min(len(multi), len(women), len(men))
    a, b = _pairs(rng, women[:mixed], men[:mixed], age, pop.couple_age_gap_sd)
    left = rng.permutation(np.concatenate([women[mixed:], men[mixed:]]))
    same = len(multi) - mixed
    pool = left[: 2 * same]
    pool = pool[np.argsort(age[pool] + rng.normal(0, pop.couple_age_gap_sd, len(pool)))]
    a = np.concatenate([a, pool[0::2]]).astype(np.int64)
    b = np.concatenate([b, pool[1::2]]).astype(np.int64)
    singles = left[2 * same :]
    # Households with adult children go to the couples about a generation older than them.
    couple_age = (age[a] + age[b]) / 2.0
    with_kids = multi[extra[multi] > 0]
    order = np.arange(len(multi))
    if len(with_kids):
        target = float(np.median(age[kids])) + pop.parent_child_age_gap
        score = np.abs(couple_age - target) + rng.normal(0, pop.couple_age_gap_sd, len(a))
        parents = np.argsort(score, kind="stable")[: len(with_kids)]
        others = np.setdiff1d(np.arange(len(multi)), parents)
        # Older parents get the older children: households by parent age, kids by age.
        parents = parents[np.argsort(couple_age[parents], kind="stable")]
        order = np.concatenate([others, parents])
        hh_order = np.concatenate([np.setdiff1d(multi, with_kids), with_kids])
    else:
        hh_order = multi
    member_of = np.empty(n, np.int64)
    head = np.empty(len(sizes), np.int64)
    couple_head = np.where(rng.random(len(a)) < 0.5, a, b)
    member_of[a[order]] = hh_order
    member_of[b[order]] = hh_order
    head[hh_order] = couple_head[order]
    if len(with_kids):
        slots = np.repeat(with_kids, extra[with_kids])
        member_of[kids[np.argsort(age[kids], kind="stable")]] = slots
    solo = np.flatnonzero(sizes == 1)
    member_of[singles] = solo
    head[solo] = singles
    is_head = head[member_of] == np.arange(n)
    kid = np.zeros(n, bool)
    kid[kids] = True
    u = rng.random(n)
    share = np.where(kid, pop.child_shared_surname_share, pop.couple_shared_surname_share)
    takes_surname = is_head | (u < share)
    shares_phone = ~is_head & ~kid & (rng.random(n) < pop.household_shared_phone_share)
    return Households(
        member_of=member_of,
        head=head,
        size=sizes.astype(np.int64),
        takes_surname=takes_surname,
        shares_phone=shares_phone,
        shared_device=np.full(len(sizes), -1, np.int64),
        session_share=pop.shared_device_session_share,
    )


def share_home(customers: Table, hh: Households) -> None:
    """Members live at the head's home: region and coordinates follow the head."""
    head = hh.head[hh.member_of]
    for name in ("region", "home_lat", "home_lon"):
        customers[name] = customers[name][head]


def shared_users_share(hh: Households, profile: Profile) -> float:
    """Expected share of customers with a household device to share (for the device count)."""
    n = len(hh.member_of)
    in_multi = float((hh.size[hh.member_of] > 1).sum()) / max(n, 1)
    return in_multi * profile.population.shared_device_household_share


def add_shared_devices(
    rng: np.random.Generator, profile: Profile, hh: Households, devices: Table
) -> None:
    """Append the shared tablets and laptops of the households that pay and bank on one:
    registered to the head (`customer_idx`), outside every member's own range, used by all
    members (`hh.shared_device`)."""
    share = profile.population.shared_device_household_share
    sharing = np.flatnonzero((hh.size > 1) & (rng.random(hh.n) < share))
    start, m = len(devices), len(sharing)
    idx = np.arange(start, start + m, dtype=np.int32)
    kind = rng.choice(DEVICE_KINDS_SHARED, m, p=SHARED_KIND_WEIGHTS)
    for name, values in (
        ("customer_idx", hh.head[sharing]),
        ("kind", kind),
        ("first_of_customer", idx),
        ("count_of_customer", np.ones(m)),
    ):
        devices[name] = np.concatenate([devices[name], values.astype(devices[name].dtype)])
    hh.shared_device[sharing] = idx


def pick_devices(
    u: np.ndarray,
    customer: np.ndarray,
    first_device: np.ndarray,
    n_devices: np.ndarray,
    phone: np.ndarray,
    shared: np.ndarray,
    session_share: float,
) -> np.ndarray:
    """The device of each online session, from one uniform per row.

    A customer with a household device uses it for `session_share` of their sessions; the
    rest go to their own devices (phone first, then laptops/tablets) uniformly, the phone
    being the latest one (`phone` >= 0: a new or handed-down phone replaced the first).
    """
    has = shared >= 0
    on_shared = has & (u < session_share)
    rest = np.where(has, (u - session_share) / (1.0 - session_share), u).clip(0.0, 1 - 1e-12)
    count = np.maximum(n_devices[customer].astype(np.int64), 1)
    slot = (rest * count).astype(np.int64)
    own = first_device[customer].astype(np.int64) + slot
    current = phone[customer].astype(np.int64)
    own = np.where((slot == 0) & (current >= 0), current, own)
    return np.where(on_shared, shared, own)
