"""Households: customers grouped into homes that share an address, often a surname, rarely a
phone, and sometimes a tablet or laptop used for payments by several members."""

from __future__ import annotations

import numpy as np
import pytest

from fraudsim.calibration import Profile
from fraudsim.core.rng import SeedStreams
from fraudsim.world import households, identity
from fraudsim.world.population import Population, _draw_customers, _draw_regions, build_population

N = 800


@pytest.fixture(scope="module")
def pop(profile: Profile) -> Population:
    return build_population(SeedStreams(11), profile, N, None, "en_US", 2025)


def _hh(pop: Population) -> households.Households:
    assert pop.households is not None
    return pop.households


def test_every_customer_lives_in_one_household_with_its_head(pop: Population) -> None:
    hh = _hh(pop)
    assert len(hh.member_of) == N
    np.testing.assert_array_equal(np.bincount(hh.member_of, minlength=hh.n), hh.size)
    assert (hh.size >= 1).all()
    np.testing.assert_array_equal(hh.member_of[hh.head], np.arange(hh.n))


def test_household_sizes_follow_the_thinned_eurostat_shares(profile: Profile) -> None:
    shares = households.customers_per_household(profile)
    assert shares.sum() == pytest.approx(1.0)
    # Most of the bank's households have one customer, a third two, few more.
    assert 0.55 < shares[0] < 0.75 and 0.2 < shares[1] < 0.4 and shares[2:].sum() < 0.1
    big = build_population(SeedStreams(2), profile, 20_000, None, "en_US", 2025)
    size = np.bincount(_hh(big).size)[1:]
    np.testing.assert_allclose(size / size.sum(), shares[: len(size)], atol=0.02)


def test_members_share_the_head_home_and_street_address(pop: Population) -> None:
    hh, c = _hh(pop), pop.customers
    head = hh.head[hh.member_of]
    for name in ("region", "home_lat", "home_lon"):
        np.testing.assert_array_equal(c[name], c[name][head])
    ident = pop.customer_identities
    for name in ("street_address", "city"):
        np.testing.assert_array_equal(ident[name], ident[name][head])
    # E-mails stay personal; phones are personal except the few couples sharing one number.
    assert len(np.unique(ident["email"])) == N
    same_phone = ident["phone"] == ident["phone"][head]
    np.testing.assert_array_equal(same_phone & (head != np.arange(N)), hh.shares_phone)
    assert len(np.unique(ident["phone"])) == N - hh.shares_phone.sum()


def test_couples_are_of_similar_age_and_often_share_a_surname(pop: Population) -> None:
    hh, c = _hh(pop), pop.customers
    ident = pop.customer_identities
    pair = np.flatnonzero((hh.size[hh.member_of] == 2) & (hh.head[hh.member_of] != np.arange(N)))
    head = hh.head[hh.member_of[pair]]
    gap = c["age"][pair].astype(int) - c["age"][head].astype(int)
    assert len(pair) > 50
    assert np.median(np.abs(gap)) <= 5
    assert (c["sex"][pair] != c["sex"][head]).mean() > 0.9
    same = (ident["last_name"][pair] == ident["last_name"][head]).mean()
    assert 0.4 < same < 0.9


def test_adult_children_live_with_older_parents(pop: Population, profile: Profile) -> None:
    hh, age = _hh(pop), pop.customers["age"].astype(int)
    for h in np.flatnonzero(hh.size >= 3)[:30]:
        ages = np.sort(age[hh.member_of == h])
        assert ages[0] <= profile.population.adult_child_max_age
        assert ages[-1] - ages[0] >= 15


def test_households_keep_the_drawn_ages_sexes_and_incomes(
    pop: Population, profile: Profile
) -> None:
    """Households only group customers: the profile's marginals are drawn as before."""
    streams = SeedStreams(11)
    tables = identity.IdentityTables.from_locale("en_US")
    regions = _draw_regions(streams.shared.generator("regions"), profile, tables)
    drawn = _draw_customers(streams.generator("population"), N, profile, regions, tables)
    for name in ("age", "sex", "income", "segment", "income_band"):
        np.testing.assert_array_equal(drawn[name], pop.customers[name], err_msg=name)


def test_shared_devices_are_registered_to_the_head_and_outside_own_ranges(
    pop: Population, profile: Profile
) -> None:
    hh, c, d = _hh(pop), pop.customers, pop.devices
    sharing = np.flatnonzero(hh.shared_device >= 0)
    assert len(sharing) > 0 and (hh.size[sharing] >= 2).all()
    dev = hh.shared_device[sharing]
    np.testing.assert_array_equal(d["customer_idx"][dev], hh.head[sharing])
    assert set(d["kind"][dev].tolist()) <= {1, 2}  # laptops and tablets
    own_end = c["first_device"] + c["n_devices"]
    assert dev.min() >= own_end.max()  # no member has it among their own devices
    users = hh.shared_device_of(np.arange(N))
    np.testing.assert_array_equal(users >= 0, np.isin(hh.member_of, sharing))
    # Devices a customer uses (own plus the shared one) stay at the profile's mean.
    used = c["n_devices"].astype(float) + (users >= 0)
    assert used.mean() == pytest.approx(profile.population.devices_per_customer_mean, rel=0.1)


def test_pick_devices_uses_the_shared_device_for_its_share() -> None:
    n = 200_000
    rng = np.random.default_rng(0)
    customer = np.repeat(np.arange(4), n // 4)
    first, count = np.array([0, 2, 3, 5]), np.array([2, 1, 2, 1])
    phone = np.array([-1, 20, -1, -1])  # customer 1 has a new phone
    shared = np.where(customer >= 2, 30, -1)  # customers 2 and 3 share device 30
    dev = households.pick_devices(rng.random(n), customer, first, count, phone, shared, 0.25)
    on_shared = dev[customer >= 2] == 30
    assert on_shared.mean() == pytest.approx(0.25, abs=0.01)
    assert set(dev[customer == 0].tolist()) == {0, 1}
    assert set(dev[customer == 1].tolist()) == {20}  # the new phone replaced the first
    assert set(dev[customer == 3].tolist()) == {5, 30}


def test_housemates_are_other_members() -> None:
    hh = households.Households(
        member_of=np.array([0, 1, 1, 2, 2, 2]),
        head=np.array([0, 1, 3]),
        size=np.array([1, 2, 3]),
        takes_surname=np.ones(6, bool),
        shares_phone=np.zeros(6, bool),
        shared_device=np.full(3, -1),
    )
    np.testing.assert_array_equal(hh.housemate(), [-1, 2, 1, 4, 5, 3])


def test_family_names_take_the_form_of_the_member_sex() -> None:
    cz = identity.IdentityTables.from_locale("cs_CZ")
    last = np.array(["Novák", "Svobodová", "Dvořák", "Horák"])
    sex = np.array(["M", "F", "F", "M"])
    head = np.array([0, 0, 3, 3])
    out = identity.family_names(last, sex, head, np.array([True, True, False, True]), cz)
    assert out.tolist() == ["Novák", "Nováková", "Dvořák", "Horák"]
    us = identity.IdentityTables.from_locale("en_US")
    out = identity.family_names(
        np.array(["Smith", "Jones"]), np.array(["M", "F"]), np.array([0, 0]), np.ones(2, bool), us
    )
    assert out.tolist() == ["Smith", "Smith"]


def test_households_are_deterministic(profile: Profile) -> None:
    a = build_population(SeedStreams(5), profile, 300, None, "en_US", 2025)
    b = build_population(SeedStreams(5), profile, 300, None, "en_US", 2025)
    np.testing.assert_array_equal(_hh(a).member_of, _hh(b).member_of)
    np.testing.assert_array_equal(_hh(a).shared_device, _hh(b).shared_device)
    for name in ("last_name", "street_address", "phone"):
        np.testing.assert_array_equal(a.customer_identities[name], b.customer_identities[name])


@pytest.mark.parametrize("n", [0, 1, 2, 3, 7])
def test_tiny_populations_form_households(profile: Profile, n: int) -> None:
    rng = np.random.default_rng(n)
    age = rng.integers(18, 90, n)
    sex = np.where(rng.random(n) < 0.5, "F", "M")
    hh = households.form_households(rng, age, sex, profile)
    assert hh.size.sum() == n and len(hh.member_of) == n
    if n:
        np.testing.assert_array_equal(np.bincount(hh.member_of, minlength=hh.n), hh.size)
