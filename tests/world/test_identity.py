"""Tests for fraudsim.world.identity: validity, uniqueness, determinism and locale handling."""

from __future__ import annotations

import numpy as np
import pytest

from fraudsim.world import identity as ident

BINS = ["411111", "550000", "371234"]


@pytest.fixture(scope="module", params=["en_US", "de_DE"])
def tables(request: pytest.FixtureRequest) -> ident.IdentityTables:
    return ident.IdentityTables.from_locale(request.param)


def _customers(seed: int, tables: ident.IdentityTables, n: int = 2_000) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    sex = rng.choice(np.array(["F", "M"]), n)
    first, last = ident.person_names(rng, tables, sex)
    return {
        "sex": sex,
        "first": first,
        "last": last,
        "email": ident.emails(rng, first, last, tables),
        "street": ident.street_addresses(rng, n, tables),
        "city": ident.city_names(rng, n, tables),
        "phone": ident.phone_numbers(rng, n),
        "company": ident.company_names(rng, n, tables, np.array(["Bakery"])),
        "pan": ident.card_numbers(rng, n, BINS),
        "iban": ident.iban_numbers(rng, n),
    }


def test_unknown_locale_message() -> None:
    with pytest.raises(ValueError, match=r"unknown Faker locale 'xx_YY'; try e\.g\. en_US"):
        ident.IdentityTables.from_locale("xx_YY")


def test_tables_loaded(tables: ident.IdentityTables) -> None:
    for arr in (
        tables.first_names_female,
        tables.first_names_male,
        tables.last_names_male,
        tables.street_names,
        tables.city_names,
        tables.company_suffixes,
    ):
        assert arr.dtype.kind == "U" and arr.size > 0
    assert tables.city_names.size >= 20 and tables.street_names.size >= 20


def test_names_come_from_locale_tables(tables: ident.IdentityTables) -> None:
    c = _customers(1, tables)
    fem = c["sex"] == "F"
    assert np.isin(c["first"][fem], tables.first_names_female).all()
    assert np.isin(c["first"][~fem], tables.first_names_male).all()
    assert np.isin(
        c["last"], np.concatenate([tables.last_names_female, tables.last_names_male])
    ).all()
    assert np.isin(c["city"], tables.city_names).all()


def test_sex_x_and_invalid_codes() -> None:
    t = ident.IdentityTables.from_locale("en_US")
    first, _ = ident.person_names(np.random.default_rng(0), t, np.array(["X"] * 200))
    pool = np.concatenate([t.first_names_female, t.first_names_male])
    assert np.isin(first, pool).all()
    with pytest.raises(ValueError):
        ident.person_names(np.random.default_rng(0), t, np.array(["Q"]))


def test_locales_differ() -> None:
    us = ident.IdentityTables.from_locale("en_US")
    de = ident.IdentityTables.from_locale("de_DE")
    assert us.house_number_first and not de.house_number_first
    assert not np.array_equal(us.city_names[:20], de.city_names[:20])
    _, last = ident.person_names(np.random.default_rng(3), de, np.array(["M"] * 500))
    assert np.isin(last, de.last_names_male).all()


def test_emails_reserved_ascii_unique(tables: ident.IdentityTables) -> None:
    mails = _customers(2, tables, n=5_000)["email"]
    assert np.unique(mails).size == mails.size
    for mail in mails.tolist():
        local, domain = mail.split("@")
        assert mail.isascii() and mail == mail.lower() and " " not in mail and local
        assert domain in ident.RESERVED_EMAIL_DOMAINS or domain.endswith((".example", ".test"))


def test_emails_transliterate_and_fallback() -> None:
    de = ident.IdentityTables.from_locale("de_DE")
    rng = np.random.default_rng(0)
    mails = ident.emails(rng, np.array(["Jürgen"] * 50), np.array(["Weiß"] * 50), de)
    assert all(m.isascii() for m in mails.tolist()) and np.unique(mails).size == 50
    assert any("juergen" in m and "weiss" in m for m in mails.tolist())
    ja = ident.IdentityTables.from_locale("ja_JP")
    mails = ident.emails(rng, np.array(["太郎", "花子"]), np.array(["田中", "田中"]), ja)
    assert all(m.isascii() for m in mails.tolist())


def test_addresses_phones_companies(tables: ident.IdentityTables) -> None:
    c = _customers(4, tables)
    assert all(any(ch.isdigit() for ch in s) for s in c["street"].tolist())
    phones = c["phone"].tolist()
    assert all(len(p) == 12 and p.startswith("+1") and p[5:10] == "55501" for p in phones)
    assert all(p[2] in "23456789" and p[3] != "9" and p[3:5] != "11" for p in phones)
    assert all("Bakery" in s for s in c["company"].tolist())
    unique = ident.phone_numbers(np.random.default_rng(0), 50_000, unique=True)
    assert np.unique(unique).size == 50_000
    with pytest.raises(ValueError):
        ident.phone_numbers(np.random.default_rng(0), 80_000, unique=True)


def test_pans_luhn_valid_unique_and_prefixed() -> None:
    pans = ident.card_numbers(np.random.default_rng(5), 50_000, BINS)
    assert pans.dtype == np.dtype("U16") and np.unique(pans).size == pans.size
    assert ident.is_luhn_valid(pans).all()
    assert np.isin(np.strings.slice(pans, 0, 6), BINS).all()
    digit = ((np.strings.slice(pans, 7, 8).astype(np.int64) + 1) % 10).astype(str)
    head, tail = np.strings.slice(pans, 0, 7), np.strings.slice(pans, 8, 16)
    corrupted = np.strings.add(np.strings.add(head, digit), tail)
    assert not ident.is_luhn_valid(corrupted).any()


def test_luhn_known_values() -> None:
    assert ident.luhn_check_digit(np.array([7992739871])).tolist() == [3]
    matrix = np.array([[0, 0, 0, 0, 0, 7, 9, 9, 2, 7, 3, 9, 8, 7, 1], [4] + [1] * 14])
    assert ident.luhn_check_digit(matrix).tolist() == [3, 1]
    valid = ident.is_luhn_valid(
        np.array(["79927398713", "4111111111111111", "4111111111111112", "41111111111x1111", "0"])
    )
    assert valid.tolist() == [True, True, False, False, False]


def test_card_numbers_bad_bins() -> None:
    rng = np.random.default_rng(0)
    for bins in (["41111"], ["4111a1"], ["411111", "5500001"], []):
        with pytest.raises(ValueError):
            ident.card_numbers(rng, 5, bins)


def test_iban_known_examples() -> None:
    known = np.array(
        [
            "DE89370400440532013000",
            "DE89 3704 0044 0532 0130 00",
            "GB29NWBK60161331926819",
            "gb29nwbk60161331926819",
            "FR1420041010050500013M02606",
            "NL91ABNA0417164300",
            "DE88370400440532013000",
            "DE8937040044053201300",
            "XX89370400440532013000",
            "DE89370400440532013O00",
            "",
        ]
    )
    assert ident.is_iban_valid(known).tolist() == [True] * 6 + [False] * 5


@pytest.mark.parametrize(
    ("country", "length"), [("DE", 22), ("FR", 27), ("NL", 18), ("GB", 22), ("CZ", 24)]
)
def test_ibans_valid_unique(country: str, length: int) -> None:
    ibans = ident.iban_numbers(np.random.default_rng(6), 20_000, country)
    assert (np.strings.str_len(ibans) == length).all()
    assert np.strings.startswith(ibans, country).all()
    assert ident.is_iban_valid(ibans).all() and np.unique(ibans).size == ibans.size
    bad = np.strings.add(
        np.strings.slice(ibans, 0, length - 1),
        ((np.strings.slice(ibans, length - 1, length).astype(np.int64) + 1) % 10).astype(str),
    )
    assert not ident.is_iban_valid(bad).any()


def test_iban_national_checks() -> None:
    rng = np.random.default_rng(7)
    for iban in ident.iban_numbers(rng, 200, "FR", "3000600001").tolist():
        bank, branch, acct, key = iban[4:9], iban[9:14], iban[14:25], iban[25:27]
        assert (89 * int(bank) + 15 * int(branch) + 3 * int(acct) + int(key)) % 97 == 0
    weights = [6, 3, 7, 9, 10, 5, 8, 4, 2, 1]
    for iban in ident.iban_numbers(rng, 200, "CZ", "0800").tolist():
        assert iban[4:8] == "0800"
        assert sum(w * int(d) for w, d in zip(weights, iban[14:], strict=True)) % 11 == 0


def test_iban_bad_arguments() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="DE"):
        ident.iban_numbers(rng, 5, "US")
    with pytest.raises(ValueError):
        ident.iban_numbers(rng, 5, "DE", "1234")
    assert ident.iban_numbers(rng, 3, "DE", "12345678")[0][4:12] == "12345678"


def test_determinism(tables: ident.IdentityTables) -> None:
    a, b, c = _customers(11, tables), _customers(11, tables), _customers(12, tables)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    for key in ("first", "email", "street", "pan", "iban"):
        assert not np.array_equal(a[key], c[key])


def test_shape_100k() -> None:
    t = ident.IdentityTables.from_locale("en_US")
    rng = np.random.default_rng(8)
    first, last = ident.person_names(rng, t, np.where(rng.random(100_000) < 0.5, "F", "M"))
    mails = ident.emails(rng, first, last, t)
    assert first.shape == last.shape == mails.shape == (100_000,)
    assert np.unique(mails).size == 100_000
