"""Entity tables of a built world: ownership, ids, identities, favourites, contacts."""

from __future__ import annotations

import numpy as np
import pytest

from fraudsim.calibration import Profile
from fraudsim.config.scenario import ScenarioConfig
from fraudsim.core.rng import SeedStreams
from fraudsim.world import identity
from fraudsim.world.population import BILLER_CATEGORIES, Population, build_population

CHECKING, SAVINGS, CREDIT = 0, 1, 2
DEBIT_CARD, CREDIT_CARD = 0, 1


def test_sizes(population: Population, profile: Profile, tiny_config: ScenarioConfig) -> None:
    n = tiny_config.population.customers
    assert len(population.customers) == n
    expected_merchants = int(np.ceil(n * profile.merchants.merchants_per_1000_customers / 1000))
    # Card-category merchants as configured, plus ATMs and billers.
    n_atm = (np.asarray(population.categories)[population.merchants["category"]] == "atm").sum()
    assert len(population.merchants) == expected_merchants + n_atm + 3 * len(BILLER_CATEGORIES)


def test_every_customer_has_exactly_one_checking_account(population: Population) -> None:
    acc, cust = population.accounts, population.customers
    owners = acc["customer_idx"][acc["kind"] == CHECKING]
    np.testing.assert_array_equal(np.bincount(owners, minlength=len(cust)), 1)
    # The customer's checking index points at a checking account they own.
    checking = cust["checking_idx"]
    assert (acc["kind"][checking] == CHECKING).all()
    np.testing.assert_array_equal(acc["customer_idx"][checking], np.arange(len(cust)))


def test_optional_accounts_point_to_own_accounts(population: Population) -> None:
    acc, cust = population.accounts, population.customers
    for column, kind in (("savings_idx", SAVINGS), ("credit_idx", CREDIT)):
        idx = cust[column]
        has = idx >= 0
        assert has.any() and (~has).any(), f"{column}: expected some but not all customers"
        assert (acc["kind"][idx[has]] == kind).all()
        np.testing.assert_array_equal(acc["customer_idx"][idx[has]], np.flatnonzero(has))
        # At most one account of that kind per customer.
        assert np.bincount(acc["customer_idx"][acc["kind"] == kind]).max() == 1


def test_card_accounts_belong_to_card_customer(population: Population) -> None:
    cards, acc = population.cards, population.accounts
    np.testing.assert_array_equal(acc["customer_idx"][cards["account_idx"]], cards["customer_idx"])


def test_card_kinds_draw_on_matching_accounts(population: Population) -> None:
    cards, acc = population.cards, population.accounts
    kind_of_account = acc["kind"][cards["account_idx"]]
    credit = cards["kind"] == CREDIT_CARD
    assert credit.any()
    assert (kind_of_account[credit] == CREDIT).all()
    assert (kind_of_account[~credit] == CHECKING).all()
    # Everyone has one debit card.
    debit_owners = cards["customer_idx"][~credit]
    np.testing.assert_array_equal(np.sort(debit_owners), np.arange(len(population.customers)))


def test_limits_and_opening_balances(population: Population) -> None:
    acc = population.accounts
    kind, floor, opening = acc["kind"], acc["floor"], acc["opening_balance"]
    assert (floor <= 0).all()
    assert (floor[kind == SAVINGS] == 0).all()
    assert (floor[kind == CREDIT] < 0).all()
    assert (opening[kind == CREDIT] == 0).all()
    assert (opening >= floor).all()
    assert opening.dtype == np.int64 and floor.dtype == np.int64


@pytest.mark.parametrize(
    "table", ["customers", "accounts", "cards", "devices", "merchants", "terminals"]
)
def test_public_ids_unique_and_in_40_bit_range(population: Population, table: str) -> None:
    ids = getattr(population, table)["id"]
    assert len(ids) > 0
    assert len(np.unique(ids)) == len(ids)
    assert ids.min() >= 0 and ids.max() < 2**40


def test_public_ids_do_not_reveal_creation_order(population: Population) -> None:
    ids = population.customers["id"]
    assert not (np.diff(ids) > 0).all()
    assert abs(np.corrcoef(np.arange(len(ids)), ids)[0, 1]) < 0.2


def test_pans_luhn_valid_unique_and_fictitious_bins(population: Population) -> None:
    pans = population.card_details["pan"]
    assert len(pans) == len(population.cards)
    assert identity.is_luhn_valid(pans).all()
    assert len(np.unique(pans)) == len(pans)
    assert (np.strings.str_len(pans) == 16).all()
    kind = population.cards["kind"]
    debit_bins = {"400000", "455601", "516732"}
    credit_bins = {"491801", "545455", "522187"}
    assert {p[:6] for p in pans[kind == DEBIT_CARD]} <= debit_bins
    assert {p[:6] for p in pans[kind == CREDIT_CARD]} <= credit_bins


def test_card_expiry_format(population: Population) -> None:
    expiry = population.card_details["expiry"]
    month = np.array([int(e[:2]) for e in expiry])
    assert all(len(e) == 5 and e[2] == "/" for e in expiry)
    assert month.min() >= 1 and month.max() <= 12


def test_ibans_valid_and_unique(population: Population) -> None:
    ibans = population.ibans
    assert len(ibans) == len(population.accounts)
    assert identity.is_iban_valid(ibans).all()
    assert len(np.unique(ibans)) == len(ibans)


def test_emails_only_at_reserved_domains(population: Population) -> None:
    emails = population.customer_identities["email"]
    assert len(emails) == len(population.customers)
    domains = {e.rsplit("@", 1)[1] for e in emails}
    reserved = {"example.com", "example.org", "example.net"}
    bad = {d for d in domains if d not in reserved and not d.endswith(".example")}
    assert not bad, f"non-reserved e-mail domains: {sorted(bad)[:5]}"
    assert len(np.unique(emails)) == len(emails)


def test_identities_have_one_row_per_customer(population: Population) -> None:
    ident = population.customer_identities
    for name, values in ident.items():
        assert len(values) == len(population.customers), name
        assert (np.strings.str_len(values.astype(str)) > 0).all(), name


def _card_category_names(profile: Profile, channel: str) -> set[str]:
    return {c.name for c in profile.cards.categories if getattr(c, f"{channel}_share") > 0}


def test_pos_favourites_are_physical_card_merchants(
    population: Population, profile: Profile
) -> None:
    fav = population.favourites_pos
    assert fav.shape == (len(population.customers), profile.cards.favourites_pos)
    m = population.merchants
    assert not m["online"][fav].any()
    cats = set(np.asarray(population.categories)[m["category"][fav]].ravel().tolist())
    assert cats <= _card_category_names(profile, "pos")


def test_cnp_favourites_are_online_card_merchants(population: Population, profile: Profile) -> None:
    fav = population.favourites_cnp
    assert fav.shape == (len(population.customers), profile.cards.favourites_cnp)
    m = population.merchants
    assert m["online"][fav].all()
    cats = set(np.asarray(population.categories)[m["category"][fav]].ravel().tolist())
    assert cats <= _card_category_names(profile, "cnp")


def test_pos_favourites_local_when_possible(population: Population) -> None:
    """A regular in-store merchant is in the customer's region if that region has one of its
    category; otherwise it is of the same category elsewhere."""
    fav = population.favourites_pos
    m = population.merchants
    home = np.broadcast_to(population.customers["region"][:, None], fav.shape)
    category, region = m["category"][fav], m["region"][fav]
    local_exists = np.array(
        [
            (0, int(c), int(r)) in population.group_bounds
            for c, r in zip(category.ravel(), home.ravel(), strict=True)
        ]
    ).reshape(fav.shape)
    assert local_exists.any()
    assert (region[local_exists] == home[local_exists]).all()


def test_contacts_never_self_and_in_range(population: Population) -> None:
    c = population.contacts
    n = len(population.customers)
    assert c.shape[0] == n
    assert c.min() >= 0 and c.max() < n
    assert not (c == np.arange(n)[:, None]).any()


def test_online_merchants_have_no_terminals_physical_have_some(population: Population) -> None:
    m = population.merchants
    assert (m["n_terminals"][m["online"]] == 0).all()
    assert (m["n_terminals"][~m["online"]] >= 1).all()
    # Terminals point back to their merchant in the merchant's terminal range.
    term_merchant = population.terminals["merchant_idx"]
    first, count = m["first_terminal"], m["n_terminals"]
    for j in np.flatnonzero(~m["online"])[:200]:
        assert (term_merchant[first[j] : first[j] + count[j]] == j).all()
    assert len(term_merchant) == count.sum()


def test_every_region_has_an_atm(population: Population) -> None:
    m = population.merchants
    atm = np.asarray(population.categories)[m["category"]] == "atm"
    assert set(m["region"][atm].tolist()) == set(range(len(population.regions)))


def test_devices_owned_consistently(population: Population) -> None:
    cust, dev = population.customers, population.devices
    assert (cust["n_devices"] >= 1).all()
    first, n = cust["first_device"], cust["n_devices"]
    for i in range(0, len(cust), 97):
        assert (dev["customer_idx"][first[i] : first[i] + n[i]] == i).all()


def test_bills_go_to_billers(population: Population) -> None:
    bills = population.bills
    cats = np.asarray(population.categories)[
        population.merchants["category"][bills["merchant_idx"]]
    ]
    assert set(cats.tolist()) <= set(BILLER_CATEGORIES)
    assert (bills["amount"] > 0).all()
    assert bills["day"].min() >= 1 and bills["day"].max() <= 31


def test_build_is_deterministic(profile: Profile) -> None:
    a = build_population(SeedStreams(5), profile, 300, None, "en_US", 2025)
    b = build_population(SeedStreams(5), profile, 300, None, "en_US", 2025)
    c = build_population(SeedStreams(6), profile, 300, None, "en_US", 2025)
    for table in ("customers", "accounts", "cards", "merchants"):
        for name, col in getattr(a, table).columns.items():
            np.testing.assert_array_equal(col, getattr(b, table)[name], err_msg=f"{table}.{name}")
    np.testing.assert_array_equal(a.card_details["pan"], b.card_details["pan"])
    assert not np.array_equal(a.customers["income"], c.customers["income"])


def test_explicit_merchant_count(profile: Profile) -> None:
    pop = build_population(SeedStreams(5), profile, 300, 50, "en_US", 2025)
    online = pop.merchants["online"]
    atm_or_biller = np.isin(
        np.asarray(pop.categories)[pop.merchants["category"]], ["atm", *BILLER_CATEGORIES]
    )
    assert (~atm_or_biller).sum() == 50
    assert online[~atm_or_biller].any() and (~online[~atm_or_biller]).any()
