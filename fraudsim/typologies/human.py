"""How people in fraud schemes act as people do: step times, a mule's cut, typed sums, who is
recruited or targeted, and the first weeks of an account they open."""

from __future__ import annotations

import calendar
import datetime as dt
import math
from collections.abc import Mapping

import numpy as np

from fraudsim.calibration.profile import Profile
from fraudsim.core.units import DAY, HOUR
from fraudsim.typologies.base import Actions, Episode, Outcome
from fraudsim.typologies.onboarding import NewCustomerParams

AgeShares = Mapping[tuple[int, int], float]  # (youngest, oldest) -> share of the people drawn
OLDER = 61  # "over-61s" as Cifas reports victims' ages
OLDEST = 120
# Honest newcomers' first deposits (the new_customer.v1 look-alike's defaults): accounts fraud
# opens are funded the same way, so a new account's first row does not tell them apart.
NEWCOMER = NewCustomerParams()


# -- time ---------------------------------------------------------------------------------------


def app_step(rng: np.random.Generator, profile: Profile) -> int:
    """Seconds between two events one app request writes (a login and the device binding it
    triggers): mostly the same second, as for honest sessions (profile `sessions`)."""
    s = profile.sessions
    if s.app_step_max_seconds == 0 or rng.random() < s.app_step_same_second_share:
        return 0
    return int(rng.integers(1, s.app_step_max_seconds + 1))


def human_step(rng: np.random.Generator, profile: Profile) -> int:
    """Seconds a person takes for one step (typing, confirming): the honest lognormal,
    truncated to its bounds by redrawing."""
    s = profile.sessions
    mu = math.log(s.human_step_median_seconds)
    while True:
        x = math.exp(mu + s.human_step_sigma * rng.standard_normal())
        if s.human_step_min_seconds <= x <= s.human_step_max_seconds:
            return round(x)


def session_gap(rng: np.random.Generator, profile: Profile) -> int:
    """Seconds from a session's login (or last action) to its next action: one human step plus
    a Poisson number of further ones, as honest sessions take."""
    steps = 1 + int(rng.poisson(profile.sessions.extra_steps_mean))
    return sum(human_step(rng, profile) for _ in range(steps))


def business_day(t: int, start: dt.date) -> int:
    """A scheduled payment's time moved off a weekend as honest ones are (to the Friday before,
    or the Monday after at the start of a month). `t` in seconds from `start`."""
    date = start + dt.timedelta(days=t // DAY)
    if date.weekday() < 5:
        return t
    back = date.day - (date.weekday() - 4)
    shift = -(date.weekday() - 4) if back >= 1 else 7 - date.weekday()
    return t + shift * DAY


# -- money --------------------------------------------------------------------------------------


def typed(
    rng: np.random.Generator,
    profile: Profile,
    amount: float,
    down: bool = False,
    round_share: float | None = None,
) -> int:
    """`amount` (minor units) as a person types a transfer, in minor units: a round figure,
    whole units or the exact sum with cents, at the honest person-to-person shares and rounding
    rule (the largest step not above a quarter of the sum; above the steps, one or two
    significant digits). `down` never types more than `amount` (what is there to send)."""
    t, minor = profile.transfers, profile.minor_per_major
    major = max(float(amount) / minor, 0.0)
    rounded = t.p2p_round_share if round_share is None else round_share
    whole = (1 - rounded) * t.p2p_whole_share / max(1 - t.p2p_round_share, 1e-9)
    u = rng.random()
    if u < rounded:
        steps = [s for s in t.p2p_round_steps if s <= major / 4] or [t.p2p_round_steps[0]]
        step = steps[-1]
        if major > 4 * t.p2p_round_steps[-1]:  # 2,340 -> 2,500 (or 2,300 down): two digits
            step = max(step, 10 ** math.floor(math.log10(major)) / (10 if down else 2))
        value = (math.floor if down else round)(major / step) * step
        value = value if value > 0 else math.floor(major)
    elif u < rounded + whole:
        value = math.floor(major) if down else round(major)
    else:
        value = major
    return max(round(value * minor), minor)


def cut(rng: np.random.Generator, profile: Profile, mean: float | None = None) -> float:
    """Share of a sum a mule keeps before passing it on: a beta draw around the profile's
    commission (Europol EMMA, UK Finance: mules keep a cut, often 5-20%), or around `mean`."""
    f = profile.fraud
    m = f.mule_cut_mean if mean is None else mean
    if m <= 0:
        return 0.0
    k = f.mule_cut_concentration
    return float(rng.beta(m * k, (1 - m) * k))


def passed_on(
    rng: np.random.Generator, profile: Profile, amount: int, keep: float | None = None
) -> int:
    """What a mule sends on of `amount` (minor units): less a drawn cut (`keep`: its mean,
    default the profile's mule commission), typed as people type sums (often rounded down to a
    familiar figure, or whole units), never more than `amount`."""
    rest = amount * (1 - cut(rng, profile, keep))
    return min(typed(rng, profile, rest, down=True), int(amount))


def own_keep(profile: Profile) -> float:
    """Mean share a launderer's own account keeps when passing funds on (fees, a float)."""
    return profile.fraud.own_account_keep_mean


def drain_pieces(
    rng: np.random.Generator, profile: Profile, total: int, most: int, cap: int
) -> list[int]:
    """`total` (minor units) in at most `most` transfers as a takeover sends it: round sums of
    what the bank lets through (up to about `cap`) first, then what is left, to the cent or the
    unit: pieces of different sizes, never a total cut into equal parts."""
    minor = profile.minor_per_major
    out: list[int] = []
    left = int(total)
    while len(out) < most - 1 and left > 20 * minor:
        # A share of what is left, up to about the limit, mostly as a round sum (choice: 70%,
        # above the 35% of honest transfers: people and scripts draining send 2,000, 1,500).
        want = min(left * rng.uniform(0.3, 0.85), cap * rng.uniform(0.6, 1.0))
        piece = typed(rng, profile, want, down=True, round_share=0.7)
        if piece >= left:
            break
        out.append(piece)
        left -= piece
    last = min(left, int(cap * rng.uniform(0.6, 1.0)))
    if rng.random() < 0.5:  # the exact remainder, or whole units of it
        last = last // minor * minor
    if last >= minor:
        out.append(last)
    return out


# -- people -------------------------------------------------------------------------------------


def mule_ages(profile: Profile) -> dict[tuple[int, int], float]:
    """Age brackets of mule recruits and their shares (profile `fraud.mule_age_*`)."""
    f = profile.fraud
    return {
        (int(lo), int(hi)): float(s)
        for (lo, hi), s in zip(f.mule_age_bounds, f.mule_age_shares, strict=True)
    }


def victim_ages(older: float | None, young: float | None = None) -> AgeShares | None:
    """Victims' age brackets: `older` the share aged 61+, `young` the share under 35 (None:
    that part drawn like the population). None when neither is given."""
    if older is None and young is None:
        return None
    if young is None:
        return {(18, OLDER - 1): 1.0 - float(older or 0.0), (OLDER, OLDEST): float(older or 0.0)}
    old = float(older or 0.0)
    middle = max(1.0 - young - old, 0.0)
    return {(18, 34): float(young), (35, OLDER - 1): middle, (OLDER, OLDEST): old}


def recruit(
    ch: Actions, rng: np.random.Generator, n: int, exclude: set[int] | None = None
) -> list[int]:
    """n distinct mule recruits (customer idx) at the profile's mule ages, none in `exclude`
    (fewer if the population runs out)."""
    taken = exclude or set()
    pool = ch.sample_customers(rng, n + len(taken) + 2, ages=mule_ages(ch.world.profile))
    return [int(c) for c in pool if int(c) not in taken][:n]


def newcomer(
    ch: Actions, rng: np.random.Generator, uplift: float = 1.0, ages: tuple[int, int] | None = None
) -> tuple[int, float, int, str]:
    """(age, annual income, region, sex) of someone opening an account, drawn as honest
    newcomers are: like one of the customers already here (aged within `ages` if given), with
    their own income (`uplift`: a stated income inflated by that factor)."""
    lo, hi = ages if ages is not None else (None, None)
    twin = int(ch.sample_customers(rng, 1, min_age=lo, max_age=hi)[0])
    c = ch.pop.customers
    income = float(c["income"][twin]) * float(rng.lognormal(0, 0.15)) * uplift
    return int(c["age"][twin]), income, int(c["region"][twin]), str(c["sex"][twin])


def open_like_newcomer(
    ch: Actions, rng: np.random.Generator, uplift: float = 1.0, ages: tuple[int, int] | None = None
) -> tuple[int, int]:
    """A new customer with a checking account, with the static attributes of an honest
    newcomer; (customer idx, account idx)."""
    age, income, region, sex = newcomer(ch, rng, uplift, ages)
    return ch.open_account(age, income, region=region, sex=sex)


def first_deposit(rng: np.random.Generator, profile: Profile, now: int) -> tuple[int, int, bool]:
    """(time, amount in minor units, cash?) of a new account's first deposit, as honest
    newcomers make it: cash in notes at a branch in opening hours, or a transfer from their old
    bank typed as people type sums."""
    deposit = NEWCOMER.first_deposit * float(rng.lognormal(0, 0.6))
    minor = profile.minor_per_major
    if rng.random() < NEWCOMER.branch_share:
        step = profile.transfers.cash_deposit_step
        at = now % DAY
        t = now if 9 * HOUR <= at < 17 * HOUR else now + (9 * HOUR - at) % DAY
        t += int(rng.integers(0, 8 * HOUR)) if t != now else 0
        return t, int(max(round(deposit / step), 1) * step * minor), True
    return now, typed(rng, profile, deposit * minor), False


def post_deposit(
    ch: Actions, ep: Episode, account: int, amount: int, cash: bool, role: str
) -> Outcome:
    """Post a first deposit drawn by `first_deposit`."""
    if cash:
        return ch.credit(ep, account, amount, tx_type="cash_deposit", channel="branch", role=role)
    return ch.credit(
        ep, account, amount, tx_type="p2p_transfer", channel="online_banking", role=role
    )


def paydays(
    rng: np.random.Generator,
    profile: Profile,
    start: dt.date,
    span: tuple[int, int],
    income: float,
    payday: int,
) -> list[tuple[int, int]]:
    """(time, amount in minor units) of monthly net pay within `span` (seconds): on `payday`
    (day of month, moved off weekends), in the early-morning payroll window, the same sum each
    month unless the pay is variable (profile `transfers.salary_variable_*`), as honest pay."""
    t = profile.transfers
    variable = rng.random() < t.salary_variable_share
    monthly = income / 12 * profile.minor_per_major
    out = []
    for day in range(span[0] // DAY, span[1] // DAY + 1):
        date = start + dt.timedelta(days=day)
        if date.day != min(payday, calendar.monthrange(date.year, date.month)[1]):
            continue
        at = business_day(day * DAY + int(rng.uniform(2, 5) * HOUR), start)
        if not span[0] < at < span[1]:
            continue
        sigma = t.salary_variable_sigma
        factor = math.exp(rng.normal(-sigma * sigma / 2, sigma)) if variable else 1.0
        out.append((at, max(round(monthly * factor), 100)))
    return out


def open_session(
    ch: Actions, ep: Episode, rng: np.random.Generator, customer: int, device: int, account: int
) -> int:
    """Seconds to wait before an online payment: for the profile's share of payments that open
    their own banking session, a login now and the human steps (or, prefilled, the app step)
    to the payment, as honest payments get; else 0 (a session already open)."""
    s = ch.world.profile.sessions
    if device < 0 or rng.random() >= s.payment_login_share:
        return 0
    ch.event(ep, customer, "login", device=device, account=account)
    if rng.random() < s.prefilled_step_share:
        return app_step(rng, ch.world.profile)
    return session_gap(rng, ch.world.profile)


# -- everyday life ------------------------------------------------------------------------------


def card_use(
    ch: Actions, rng: np.random.Generator, customer: int, n_cards: int, span: tuple[int, int]
) -> list[tuple[int, int, bool]]:
    """(time, card number 0..n_cards-1, online?) of a customer's everyday card payments within
    `span` (seconds) at honest rates: a monthly rate per card drawn as the population's
    (gamma), at the hours honest customers are active, online by their own propensity."""
    c = ch.world.profile.cards
    rates = rng.gamma(
        c.purchases_gamma_shape, c.purchases_per_card_month / c.purchases_gamma_shape, n_cards
    )
    online = float(ch.pop.customers["cnp_propensity"][customer])
    out: list[tuple[int, int, bool]] = []
    if span[1] <= span[0]:
        return out
    for k, rate in enumerate(rates.tolist()):
        n = int(rng.poisson(rate * (span[1] - span[0]) / (30 * DAY)))
        for t in rng.uniform(span[0], span[1], n).tolist():
            at = ch.daytime(rng, int(t))
            if at < span[1]:
                out.append((at, k, bool(rng.random() < online)))
    return sorted(out)


def everyday_ticket(ch: Actions, rng: np.random.Generator, merchant: int, online: bool) -> int:
    """An everyday purchase's amount (minor units) at a merchant: the profile's honest ticket
    for the channel, priced as the shop prices it."""
    c = ch.world.profile.cards
    median = c.ticket_median_cnp if online else c.ticket_median_pos
    return int(ch.shop_price(rng, merchant, median * float(rng.lognormal(0, c.ticket_sigma))))
