"""Vectorised, seeded fake identities: names, e-mails, addresses, phones, card PANs and IBANs."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache

import numpy as np
from faker import Faker
from faker.config import AVAILABLE_LOCALES

RESERVED_EMAIL_DOMAINS = ("example.com", "example.org", "example.net")  # RFC 2606
_FAKER_SEED = 1_361_613  # fixed seed for the few Faker calls that build city/street tables
_ASCII = str.maketrans(
    {
        "ß": "ss",
        "æ": "ae",
        "Æ": "ae",
        "ø": "o",
        "Ø": "o",
        "œ": "oe",
        "Œ": "oe",
        "ł": "l",
        "Ł": "l",
        "đ": "d",
        "Đ": "d",
        "þ": "th",
        "ı": "i",
    }
)
_POW10 = 10 ** np.arange(19, dtype=np.int64)
_NUM_STR = np.arange(10_000).astype("U4")  # "0".."9999", gathered instead of int->str per row
_IBAN_LENGTHS = (  # IBAN registry: country code + total length
    "AD24 AE23 AL28 AT20 AZ28 BA20 BE16 BG22 BH22 BR29 BY28 CH21 CR22 CY28 CZ24 DE22 DK18 DO28 "
    "EE20 EG29 ES24 FI18 FO18 FR27 GB22 GE22 GI23 GL18 GR27 GT28 HR21 HU28 IE22 IL23 IQ23 IS26 "
    "IT27 JO30 KW30 KZ20 LB28 LC32 LI21 LT20 LU20 LV21 MC27 MD24 ME22 MK19 MR27 MT31 MU30 NL18 "
    "NO15 PK24 PL28 PS29 PT25 QA29 RO24 RS22 SA24 SC31 SE24 SI19 SK24 SM27 ST25 SV28 TL23 TN24 "
    "TR26 UA29 VA22 VG24 XK20"
)
_LEN_BY_KEY = np.zeros(26 * 26, dtype=np.int64)  # (letter1 * 26 + letter2) -> IBAN length
for _e in _IBAN_LENGTHS.split():
    _LEN_BY_KEY[(ord(_e[0]) - 65) * 26 + ord(_e[1]) - 65] = int(_e[2:])
# country -> (bank-code pattern: N digit / A letter, fictitious default, random account digits)
_IBAN_SPECS = {
    "DE": ("N" * 8, "00000000", 10),
    "FR": ("N" * 10, "0" * 10, 11),
    "NL": ("AAAA", "XXXX", 10),
    "GB": ("AAAA" + "N" * 6, "XXXX000000", 8),
    "CZ": ("NNNN", "0000", 10),
}
_CZ_WEIGHTS = np.array([6, 3, 7, 9, 10, 5, 8, 4, 2])  # 10th (check) digit has weight 1


def _ascii_slug(text: str, keep: str = "", translit: dict[int, str] | None = None) -> str:
    """Lowercase ASCII fold of `text`, keeping only [a-z0-9] and characters in `keep`."""
    text = text.translate(translit or {}).translate(_ASCII)
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return re.sub(f"[^a-z0-9{re.escape(keep)}]", "", folded)


def _frozen(values: list, dtype: type = str) -> np.ndarray:
    arr = np.asarray(values, dtype=dtype)
    arr.flags.writeable = False
    return arr


@dataclass(frozen=True)
class IdentityTables:
    """Word tables pulled once from a Faker locale's providers.

    Name tables that Faker weights by frequency carry a cumulative-probability array (``*_cdf``);
    ``None`` means uniform. Surnames are split by sex where the locale does so (cs_CZ
    "Novák"/"Nováková"), otherwise both fields hold the same table; missing tables fall back to
    en_US. City and street names come from a bounded number of calls to a Faker instance with a
    fixed seed (stable for a given Faker version). E-mail domains are always fictitious:
    ``example.com/.org/.net`` plus the locale's free-mail brands moved under the reserved
    ``.example`` TLD. ``transliteration`` is Faker's e-mail ASCII map (de_DE "ä" -> "ae").
    """

    locale: str
    first_names_female: np.ndarray
    first_names_female_cdf: np.ndarray | None
    first_names_male: np.ndarray
    first_names_male_cdf: np.ndarray | None
    last_names_female: np.ndarray
    last_names_female_cdf: np.ndarray | None
    last_names_male: np.ndarray
    last_names_male_cdf: np.ndarray | None
    street_names: np.ndarray
    house_number_first: bool
    city_names: np.ndarray
    company_suffixes: np.ndarray
    email_domains: np.ndarray
    transliteration: dict[int, str]

    @classmethod
    def from_locale(cls, locale: str = "en_US") -> IdentityTables:
        """Build (or fetch the cached, read-only) tables for a Faker locale, e.g. ``de_DE``.

        Raises:
            ValueError: If Faker does not know ``locale``.
        """
        if locale not in AVAILABLE_LOCALES:
            raise ValueError(f"unknown Faker locale {locale!r}; try e.g. en_US, de_DE, fr_FR")
        return _tables_for(locale)


def _pool(providers: list, *attrs: str) -> tuple[np.ndarray, np.ndarray | None] | None:
    """First non-empty provider table among `attrs` as (values, cdf or None)."""
    for table in (getattr(p, a, None) for a in attrs for p in providers):
        if table and not isinstance(table, str):
            if not isinstance(table, dict):
                return _frozen(list(table)), None
            cdf = np.cumsum(np.asarray(list(table.values()), dtype=np.float64))
            cdf /= cdf[-1]
            cdf[-1] = 1.0
            return _frozen(list(table)), _frozen(cdf, np.float64)
    return None


@cache
def _en() -> list:
    """en_US providers, the fallback for tables a locale lacks (attributes read, no draws)."""
    fake = Faker("en_US")
    fake.seed_instance(_FAKER_SEED)
    return fake.providers


@cache
def _tables_for(locale: str) -> IdentityTables:
    fake = Faker(locale)
    fake.seed_instance(_FAKER_SEED)
    provs = fake.providers

    def pool(*attrs: str) -> tuple[np.ndarray, np.ndarray | None]:
        return _pool(provs, *attrs) or _pool(_en(), *attrs)

    f, m = pool("first_names_female", "first_names"), pool("first_names_male", "first_names")
    lf, lm = pool("last_names_female", "last_names"), pool("last_names_male", "last_names")
    cities = list(dict.fromkeys(fake.city() for _ in range(200)))
    streets = list(dict.fromkeys(fake.street_name() for _ in range(300)))
    number_first = sum(fake.street_address()[:1].isdigit() for _ in range(21)) > 10
    labels = dict.fromkeys(_ascii_slug(d.split(".")[0], "-") for d in pool("free_email_domains")[0])
    domains = list(RESERVED_EMAIL_DOMAINS) + [f"{lb}.example" for lb in labels if lb]
    translit = next(
        (
            p.replacements
            for p in provs
            if getattr(p, "replacements", None)
            and type(p).__module__.startswith("faker.providers.internet")
        ),
        (),
    )
    return IdentityTables(
        locale,
        f[0],
        f[1],
        m[0],
        m[1],
        lf[0],
        lf[1],
        lm[0],
        lm[1],
        _frozen(streets),
        number_first,
        _frozen(cities),
        pool("company_suffixes")[0],
        _frozen(domains),
        str.maketrans({a: b.lower() for a, b in translit if len(a) == 1}),
    )


def _draw(
    rng: np.random.Generator, values: np.ndarray, cdf: np.ndarray | None, n: int
) -> np.ndarray:
    if cdf is None:
        return values[rng.integers(0, values.size, n)]
    return values[np.searchsorted(cdf, rng.random(n), side="right")]


def _codes(strings: np.ndarray) -> np.ndarray:
    """(n, width) uint32 code-point matrix of a str array (NUL-padded on the right)."""
    arr = np.ascontiguousarray(np.asarray(strings).astype(str, copy=False).ravel())
    return arr.view(np.uint32).reshape(arr.size, arr.dtype.itemsize // 4)


def _from_codes(codes: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(codes, dtype=np.uint32).view(f"U{codes.shape[1]}").ravel()


def _digit_codes(x: np.ndarray, width: int) -> np.ndarray:
    """Zero-padded decimal code points (n, width) of non-negative int64 values."""
    return (x[:, None] // _POW10[width - 1 :: -1] % 10 + 48).astype(np.uint32)


def _row_hash(strings: np.ndarray) -> np.ndarray:
    """64-bit FNV-style hash of each string, two code points per step (vectorised by column)."""
    codes = _codes(strings)
    if codes.shape[1] % 2:
        codes = np.pad(codes, ((0, 0), (0, 1)))
    h = np.full(codes.shape[0], 14695981039346656037, dtype=np.uint64)
    for col in np.ascontiguousarray(codes).view(np.uint64).T.copy():
        np.bitwise_xor(h, col, out=h)
        np.multiply(h, np.uint64(1099511628211), out=h)
    return h


def _by_sex(
    rng: np.random.Generator,
    fem: np.ndarray,
    female: np.ndarray,
    female_cdf: np.ndarray | None,
    male: np.ndarray,
    male_cdf: np.ndarray | None,
) -> np.ndarray:
    col = np.empty(fem.size, f"U{max(female.itemsize, male.itemsize) // 4}")
    col[fem] = _draw(rng, female, female_cdf, int(fem.sum()))
    col[~fem] = _draw(rng, male, male_cdf, int((~fem).sum()))
    return col


def person_names(
    rng: np.random.Generator, tables: IdentityTables, sex: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Draw first and last names following each row's sex (Faker frequency weights kept).

    Args:
        rng: Source of randomness.
        tables: Locale tables.
        sex: 1-D array of ``"F"`` (female), ``"M"`` (male) or ``"X"`` (unspecified: either).

    Returns:
        ``(first_names, last_names)`` as numpy str arrays aligned with ``sex``.
    """
    sex = np.asarray(sex).astype(str)
    if not np.isin(sex, ("F", "M", "X")).all():
        raise ValueError("sex values must be 'F', 'M' or 'X'")
    fem = (sex == "F") | ((sex == "X") & (rng.random(sex.size) < 0.5))
    t = tables
    first = _by_sex(
        rng,
        fem,
        t.first_names_female,
        t.first_names_female_cdf,
        t.first_names_male,
        t.first_names_male_cdf,
    )
    last = _by_sex(
        rng,
        fem,
        t.last_names_female,
        t.last_names_female_cdf,
        t.last_names_male,
        t.last_names_male_cdf,
    )
    return first, last


def family_names(
    last: np.ndarray,
    sex: np.ndarray,
    head: np.ndarray,
    takes: np.ndarray,
    tables: IdentityTables,
) -> np.ndarray:
    """Surnames after a household's members take its head's family name.

    Row i takes the surname of row ``head[i]`` where ``takes[i]``, in the form of its own sex
    where the locale inflects surnames (cs_CZ "Novák" -> "Nováková"); a name with no known
    form for the other sex stays the member's own.
    """
    last = np.asarray(last)
    sex = np.asarray(sex).astype(str)
    out = last.astype(f"U{max(last.itemsize // 4, 1) + 4}")
    take = np.asarray(takes, bool) & (head != np.arange(len(last)))
    family = last[head]
    same = take & (sex == sex[head])
    out[same] = family[same]
    cross = np.flatnonzero(take & (sex != sex[head]))
    forms = _surname_forms(tables.locale)
    for i in cross.tolist():
        name = str(family[i])
        other = name if forms is None else forms[sex[i] == "F"].get(name)
        if other is not None:
            out[i] = other
    return out


@cache
def _surname_forms(locale: str) -> tuple[dict[str, str], dict[str, str]] | None:
    """(female -> male, male -> female) surname forms of a locale that inflects surnames by
    sex (matched by the longest common stem), or None where both sexes share one table."""
    t = _tables_for(locale)
    female, male = t.last_names_female.tolist(), t.last_names_male.tolist()
    if female == male:
        return None

    def stem(a: str, b: str) -> int:
        k = 0
        while k < min(len(a), len(b)) and a[k] == b[k]:
            k += 1
        return k

    by_start: dict[str, list[str]] = {}
    for f in female:
        by_start.setdefault(f[:2], []).append(f)
    to_female: dict[str, str] = {}
    for m in male:
        best = max(by_start.get(m[:2], []), key=lambda f: (stem(m, f), -len(f)), default=None)
        # Novák/Nováková, Bárta/Bártová, Němec/Němcová, Černý/Černá, Смирнов/Смирнова.
        if best is not None and stem(m, best) >= max(3, len(m) - 2):
            to_female[m] = best
    to_male: dict[str, str] = {}
    for m, f in to_female.items():
        to_male.setdefault(f, m)
    return to_male, to_female


def _slugs(names: np.ndarray, fallback: str, translit: dict[int, str]) -> np.ndarray:
    """ASCII slug per row, folding each distinct name once (hash factorisation, verified).

    Names with no ASCII rendering (e.g. kanji) become ``fallback`` plus a per-name number.
    """
    names = np.asarray(names).astype(str).ravel()
    _, first, inv = np.unique(_row_hash(names), return_index=True, return_inverse=True)
    if not (names[first][inv] == names).all():  # 64-bit hash collision: exact, slower path
        _, first, inv = np.unique(names, return_index=True, return_inverse=True)
    uniq = names[first].tolist()
    return np.array(
        [_ascii_slug(u, "", translit) or f"{fallback}{i}" for i, u in enumerate(uniq)] or [""]
    )[inv]


def emails(
    rng: np.random.Generator, first: np.ndarray, last: np.ndarray, tables: IdentityTables
) -> np.ndarray:
    """Lowercase ASCII e-mail addresses, unique within the call, at fictitious domains only.

    Local parts mix ``first.last``, ``firstlast``, ``flast``, ``first_last`` and ``last.first``
    with optional numbers; domains come from ``tables.email_domains`` (``example.com/.org/.net``
    and ``<brand>.example``), so no real mailbox is ever addressed.
    """
    f = _slugs(first, "user", tables.transliteration)
    lst = _slugs(last, "customer", tables.transliteration)
    n = f.size
    kind = rng.choice(5, n, p=[0.4, 0.15, 0.2, 0.1, 0.15])
    head = np.where(kind == 2, np.strings.slice(f, 0, 1), np.where(kind == 4, lst, f))
    local = np.strings.add(
        np.strings.add(head, np.array([".", "", "", "_", "."])[kind]), np.where(kind == 4, f, lst)
    )
    u = rng.random(n)
    year_or_small = np.where(u < 0.8, rng.integers(1, 100, n), rng.integers(1950, 2008, n))
    domains = np.strings.add("@", tables.email_domains)
    at_domain = domains[rng.integers(0, domains.size, n)]
    out = np.strings.add(
        np.strings.add(local, np.where(u < 0.5, "", _NUM_STR[year_or_small])), at_domain
    )
    for attempt in range(32):
        _, keep = np.unique(_row_hash(out), return_index=True)  # hash clash => harmless redraw
        dup = np.ones(n, dtype=bool)
        dup[keep] = False
        if not dup.any():
            return out
        extra = rng.integers(100, 10 ** (3 + attempt // 4), int(dup.sum())).astype("U11")
        fixed = np.strings.add(np.strings.add(local[dup], extra), at_domain[dup])
        out = out.astype(f"U{max(out.itemsize, fixed.itemsize) // 4}")
        out[dup] = fixed
    raise RuntimeError("could not make e-mail addresses unique")


def street_addresses(rng: np.random.Generator, n: int, tables: IdentityTables) -> np.ndarray:
    """Street lines in locale order, e.g. ``"482 Smith Alley"`` or ``"Hauptstraße 12"``."""
    top = 9999 if tables.house_number_first else 199
    numbers = _NUM_STR[np.exp(rng.uniform(0.0, np.log(top + 1), n)).astype(np.int64)]
    pick = rng.integers(0, tables.street_names.size, n)
    if tables.house_number_first:
        return np.strings.add(numbers, np.strings.add(" ", tables.street_names)[pick])
    return np.strings.add(np.strings.add(tables.street_names, " ")[pick], numbers)


def city_names(rng: np.random.Generator, n: int, tables: IdentityTables) -> np.ndarray:
    """Cities drawn uniformly from the locale's city table."""
    return _draw(rng, tables.city_names, None, n)


_NPA = np.array([a for a in range(200, 990) if a // 10 % 10 != 9 and a % 100 != 11])
PHONE_POOL = _NPA.size * 100  # fictitious numbers phone_numbers can draw


def phone_numbers(rng: np.random.Generator, n: int, unique: bool = False) -> np.ndarray:
    """Fictitious E.164 phone numbers ``+1NPA55501XX``.

    NANP reserves 555-0100..555-0199 for fiction; the area code is any well-formed
    ``[2-9][0-8][0-9]`` code except N11, a pool of 71,200 numbers (`PHONE_POOL`). By default
    numbers are drawn independently (repeats appear for large ``n``); ``unique=True`` draws
    without replacement.
    """
    npa = _NPA
    if unique and n > PHONE_POOL:
        raise ValueError(f"at most {PHONE_POOL} unique fictitious phone numbers")
    key = rng.choice(npa.size * 100, n, replace=not unique)
    num = npa[key // 100] * 10**7 + 5_550_100 + key % 100
    plus_one = np.broadcast_to(np.array([43, 49], dtype=np.uint32), (n, 2))
    return _from_codes(np.concatenate([plus_one, _digit_codes(num, 10)], axis=1))


def company_names(
    rng: np.random.Generator,
    n: int,
    tables: IdentityTables,
    category_words: np.ndarray | None = None,
) -> np.ndarray:
    """Company names like ``"Smith & Jones Bakery LLC"`` from surnames and locale suffixes.

    ``category_words`` (one word, or one per row; broadcast against ``n``) is inserted after
    the surnames, e.g. a merchant's category; empty strings insert nothing.
    """
    names, cdf = tables.last_names_male, tables.last_names_male_cdf
    l1, l2 = _draw(rng, names, cdf, n), _draw(rng, names, cdf, n)
    kind = rng.choice(3, n, p=[0.6, 0.25, 0.15])
    out = np.strings.add(
        np.strings.add(l1, np.array(["", " & ", "-"])[kind]), np.where(kind == 0, "", l2)
    )
    if category_words is not None:
        cat = np.broadcast_to(np.asarray(category_words).astype(str), (n,))
        out = np.strings.add(out, np.where(cat == "", "", np.strings.add(" ", cat)))
    sfx = np.strings.add(" ", tables.company_suffixes)
    return np.strings.add(out, np.where(rng.random(n) < 0.7, sfx[rng.integers(0, sfx.size, n)], ""))


def _luhn_sum(digits: np.ndarray, has_check: bool) -> np.ndarray:
    """Luhn digit sum of a (n, k) digit matrix (most significant digit first)."""
    pos = digits.shape[1] - 1 - np.arange(digits.shape[1])  # position from the right
    doubled = digits * np.where(pos % 2 == int(has_check), 2, 1)
    return np.where(doubled > 9, doubled - 9, doubled).sum(axis=1)


def luhn_check_digit(partial: np.ndarray) -> np.ndarray:
    """Luhn check digits for number prefixes.

    Args:
        partial: 1-D non-negative int64 prefixes (leading zeros do not affect Luhn) or a 2-D
            integer digit matrix, one prefix per row, most significant digit first.

    Returns:
        int64 array of check digits (0-9), one per prefix.
    """
    a = np.asarray(partial).astype(np.int64)
    digits = a if a.ndim == 2 else a.ravel()[:, None] // _POW10[18::-1] % 10
    return (10 - _luhn_sum(digits, has_check=False) % 10) % 10


def is_luhn_valid(pans: np.ndarray) -> np.ndarray:
    """Boolean mask: all-digit strings of length >= 2 whose Luhn checksum holds."""
    codes = _codes(pans).astype(np.int64)
    length = (codes != 0).sum(axis=1)
    idx = np.arange(codes.shape[1])[None, :] - (codes.shape[1] - length)[:, None]
    aligned = np.where(idx >= 0, np.take_along_axis(codes, np.maximum(idx, 0), axis=1), 48)
    ok = ((aligned >= 48) & (aligned <= 57)).all(axis=1) & (length >= 2)
    return ok & (_luhn_sum(aligned - 48, has_check=True) % 10 == 0)


def card_numbers(
    rng: np.random.Generator,
    n: int,
    bins: np.ndarray | list[str],
    block: int = 0,
    blocks: int = 1,
) -> np.ndarray:
    """16-digit Luhn-valid PANs (str), unique within the call.

    Args:
        rng: Source of randomness.
        n: Number of PANs.
        bins: Issuer BINs, digit strings of one common length (6-8, usually 6); each PAN starts
            with a BIN drawn uniformly from the distinct values.
        block, blocks: draw only from account-number range `block` of `blocks` equal ranges
            (shards use disjoint ranges, so their PANs cannot collide).
    """
    b = np.unique(np.asarray(bins).astype(str))
    lengths = np.strings.str_len(b)
    width = int(lengths.max()) if b.size else 0
    if not (6 <= width <= 8 and np.strings.isdigit(b).all() and (lengths == width).all()):
        raise ValueError("bins must be non-empty digit strings of one common length (6-8)")
    space = int(_POW10[15 - width]) // blocks
    if n > b.size * space:
        raise ValueError(f"at most {b.size * space} unique PANs for these bins")
    key = rng.choice(b.size * space, n, replace=False)
    account = key % space + (block % blocks) * space
    digits = (
        np.concatenate([_codes(b)[key // space], _digit_codes(account, 15 - width)], axis=1).astype(
            np.int64
        )
        - 48
    )
    check = (10 - _luhn_sum(digits, has_check=False) % 10) % 10
    return _from_codes(np.concatenate([digits, check[:, None]], axis=1) + 48)


def _mod97(codes: np.ndarray, r: np.ndarray | None = None) -> np.ndarray:
    """Fold code-point columns (digits, A-Z as 10-35, NUL skipped) into a running mod 97."""
    r = np.zeros(codes.shape[0], dtype=np.int64) if r is None else r
    for c in codes.T.astype(np.int64):
        step = np.where(c >= 65, (r * 100 + c - 55) % 97, (r * 10 + c - 48) % 97)
        r = np.where(c == 0, r, step)
    return r


def iban_numbers(
    rng: np.random.Generator, n: int, country: str = "DE", bank_code: str | None = None
) -> np.ndarray:
    """Well-formed IBANs (ISO 13616 mod-97 check digits), unique within the call.

    ``bank_code`` per country (default: all ``0``/``X``, fictitious): DE 8 digits (BLZ);
    FR 10 digits (bank + branch; RIB key computed); NL 4 letters; GB 4 letters + 6-digit sort
    code; CZ 4 digits (account prefix 000000; account passes the Czech mod-11 test).

    Raises:
        ValueError: For other countries or a malformed ``bank_code``.
    """
    if country not in _IBAN_SPECS:
        raise ValueError(f"unsupported IBAN country {country!r}; use one of {sorted(_IBAN_SPECS)}")
    pattern, default, k = _IBAN_SPECS[country]
    bank = default if bank_code is None else bank_code
    if not re.fullmatch("".join("[0-9]" if p == "N" else "[A-Z]" for p in pattern), bank):
        raise ValueError(f"{country} bank_code must match {pattern} (N digit, A letter)")
    if country == "CZ":  # 9 random digits + weighted mod-11 check digit (10 is not allowed)
        acct = np.empty(0, dtype=np.int64)
        while acct.size < n:
            base = rng.choice(10**9, n + n // 5 + 32, replace=False)
            chk = -(base[:, None] // _POW10[8::-1] % 10 @ _CZ_WEIGHTS) % 11
            acct = (base * 10 + chk)[chk < 10][:n]
        bank += "000000"
    else:
        acct = rng.choice(10**k, n, replace=False)
    # mod 97 of BBAN + country + "00" in int64; the constant bank part is folded once
    r = (int(_mod97(_codes(np.array([bank])))[0]) * 10**k + acct) % 97
    parts = [
        np.broadcast_to(_codes(np.array([country + "00" + bank])), (n, 4 + len(bank))),
        _digit_codes(acct, k),
    ]
    if country == "FR":  # French RIB key over bank, branch and account
        rib = 97 - (89 * int(bank[:5]) + 15 * int(bank[5:]) + 3 * acct) % 97
        parts.append(_digit_codes(rib, 2))
        r = (r * 100 + rib) % 97
    tail = "".join(str(int(ch, 36)) for ch in country) + "00"
    codes = np.concatenate(parts, axis=1)
    codes[:, 2:4] = _digit_codes(98 - (r * 10 ** len(tail) + int(tail)) % 97, 2)
    return _from_codes(codes)


def is_iban_valid(ibans: np.ndarray) -> np.ndarray:
    """Boolean mask: IBAN syntax, registry length for the country and mod-97 == 1.

    Case-insensitive; spaces (print format) are ignored.
    """
    arr = np.asarray(ibans).astype(str).ravel()
    codes = _codes(np.strings.replace(arr, " ", "") if (_codes(arr) == 32).any() else arr)
    codes = np.where((codes >= 97) & (codes <= 122), codes - 32, codes).astype(np.int64)
    if codes.shape[1] < 4:
        return np.zeros(arr.size, dtype=bool)
    letter, digit = (codes >= 65) & (codes <= 90), (codes >= 48) & (codes <= 57)
    ok = (letter | digit | (codes == 0)).all(axis=1) & letter[:, :2].all(1) & digit[:, 2:4].all(1)
    key = np.where(ok, (codes[:, 0] - 65) * 26 + codes[:, 1] - 65, 0)
    ok &= _LEN_BY_KEY[key] == (codes != 0).sum(axis=1)
    return ok & (_mod97(codes[:, :4], _mod97(codes[:, 4:])) == 1)
