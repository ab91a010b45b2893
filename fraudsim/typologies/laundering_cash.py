"""Cash laundering (structuring, rapid pass-through) and the honest business cash deposits."""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field

from fraudsim.core.units import DAY, HOUR
from fraudsim.typologies import human
from fraudsim.typologies.base import Episode, Outcome, Process, Typology, TypologyParams
from fraudsim.typologies.registry import register

# No "cash_deposit" TX type exists: a deposit is money arriving over the counter/ATM, posted
# as an incoming credit. Honest shop takings (business_cash_deposits.v1) use the same form.
DEPOSIT = {"tx_type": "cash_deposit", "channel": "branch"}


def _open_hours(rng: np.random.Generator, day_start: int, first_weekday: int) -> int:
    """A time during branch opening hours (09:00-17:00, Monday to Saturday, as for honest
    deposits in traffic.py) on the day starting at day_start, or the next open day.
    `first_weekday` is the weekday of the scenario's first day (Monday = 0)."""
    if (day_start // DAY + first_weekday) % 7 == 6:  # Sunday: the branch is shut
        day_start += DAY
    return day_start + int(rng.integers(9 * HOUR, 17 * HOUR))


def _capped_wait(rng: np.random.Generator, mean: float) -> float:
    """Exponential wait cut at three means, so 'within hours' stays within hours."""
    return min(rng.exponential(mean), 3 * mean)


def _device(ch: Any, account: int) -> int:
    return int(ch.device_of(int(ch.pop.accounts["customer_idx"][account])))


def _open_own_account(typ: Typology, ep: Episode) -> tuple[int, tuple[int, int, bool]]:
    """A launderer-controlled account (a new customer like any newcomer), with a debit card
    for cash-outs; (account, its first deposit as `human.first_deposit` draws it)."""
    ch, rng = typ.ch, typ.rng
    cust, account = human.open_like_newcomer(ch, rng)
    ch.issue_card(cust, kind="debit")
    ep.accounts.add(account)
    return account, human.first_deposit(rng, ch.world.profile, ch.now)


def _forward_mean(role: str, profile: Any, keep: float | None) -> float | None:
    """Mean share kept when passing funds on: `keep` if given, else a mule's commission
    (None: the profile's) or the little a launderer's own account keeps."""
    if keep is not None:
        return keep
    return human.own_keep(profile) if role == "fraudster" else None


class StructuringParams(TypologyParams):
    threshold: float = Field(
        default=10_000.0, gt=0, le=1e8, description="reporting threshold, major units"
    )
    # choice: structured deposits spread over ~70-99% of the threshold, most near the top
    margin: float = Field(
        default=0.30, gt=0, lt=1, description="deposits fall in [threshold*(1-margin), threshold)"
    )
    depositors: int = Field(
        default=3, ge=1, le=50, description="people depositing (1: one structurer, >1: smurfs)"
    )
    deposits_each: int = Field(default=4, ge=2, le=100, description="deposits per depositor")
    days: float = Field(default=6.0, gt=0, le=90, description="days the deposits are spread over")
    collect_hours: float = Field(
        default=12.0, gt=0, le=240, description="mean hours before a smurf forwards the cash"
    )
    smurf_fee: float | None = Field(
        default=None,
        ge=0,
        le=0.5,
        description="mean share a smurf keeps (None: the profile's mule commission, ~5-20%)",
    )
    exit: bool = Field(default=True, description="the collected funds are wired out at the end")


@register("structuring.v1")
class Structuring(Typology):
    family = "aml"
    description = (
        "Repeated cash deposits just under the reporting threshold by one person or by "
        "smurfs who forward them to a collecting account."
    )
    report_kind = "aml"
    default_rate_per_day = 0.1
    Params = StructuringParams
    params: StructuringParams

    def expected_rows(self) -> float:
        p = self.params
        each = 2 if p.depositors > 1 else 1  # a deposit, then the smurf's forward
        opening = 1 if p.depositors > 1 else 0  # the new collecting account's first deposit
        return p.depositors * p.deposits_each * each + p.exit + opening

    def _amount(self, ep: Episode) -> int:
        """Under the threshold, in notes: spread over [1 - margin, 1) of it with most mass near
        the top (a beta draw), a third of them rounded down to a round figure (9,500, 8,000)."""
        p, rng = self.params, self.rng
        prof = self.ch.world.profile
        step = prof.transfers.cash_deposit_step if p.threshold >= 100 else 1.0
        value = p.threshold * (1 - ep.state["margin"] * float(rng.beta(1.2, 3.0)))
        value = min(value, p.threshold - step)
        if rng.random() < prof.transfers.p2p_round_share:
            digits = 10 ** np.floor(np.log10(max(value, 1.0))) / 10
            value = np.floor(value / digits) * digits
        value = max(np.floor(value / step) * step, step)
        return int(round(value * prof.minor_per_major))

    def _plan(self, ep: Episode) -> None:
        p, ch, rng = self.params, self.ch, self.rng
        events_first: list[list[Any]] = []
        if p.depositors == 1:
            # One structurer banking their own cash: the offender's own account.
            people = ch.sample_customers(rng, 1, min_age=25)
            roles = {ch.checking(int(people[0])): "fraudster"}
            collector = ch.checking(int(people[0]))
        else:
            mules = human.recruit(ch, rng, p.depositors)
            roles = {ch.checking(m): "mule" for m in mules}
            collector, (t0, amount, cash) = _open_own_account(self, ep)
            events_first = [[t0, "opening", collector]]
            ep.state["opening"] = {str(collector): [amount, cash]}
        events: list[list[Any]] = events_first  # [time, kind, account]
        day0 = (ch.now // DAY + 1) * DAY  # from tomorrow's opening hours
        first_weekday = ch.world.config.start_date.weekday()
        # Days the branch is open (not Sundays), enough of them for everyone's deposits.
        open_days: list[int] = []
        d = 0
        while len(open_days) < max(int(np.ceil(p.days)), p.deposits_each):
            if (day0 // DAY + d + first_weekday) % 7 != 6:
                open_days.append(d)
            d += 1
        for account in roles:
            # One deposit a day at most per person, on distinct open days, in opening hours.
            days = rng.choice(open_days, size=p.deposits_each, replace=False)
            for d in sorted(days.tolist()):
                t = _open_hours(rng, day0 + d * DAY, first_weekday)
                events.append([t, "deposit", account])
                if account != collector:  # smurfs pass each deposit on within hours
                    wait = int(_capped_wait(rng, p.collect_hours * HOUR))
                    events.append([t + max(wait, 600), "forward", account])
        end = max(t for t, _, _ in events)
        if p.exit:
            events.append([end + int(_capped_wait(rng, 24 * HOUR)), "exit", collector])
        roles.setdefault(collector, "fraudster")
        events.sort(key=lambda e: (e[0], e[1]))
        ep.state.update(
            events=events, next=0, roles=roles, collector=collector, held={}, margin=p.margin
        )
        if ep.fraudster is not None:
            ep.fraudster.mule_accounts += [a for a, r in roles.items() if r == "mule"]

    def run(self, ep: Episode) -> Process:
        ch, st = self.ch, ep.state
        if "events" not in st:
            self._plan(ep)
        while st["next"] < len(st["events"]):
            t, kind, account = st["events"][st["next"]]
            st["next"] += 1
            if t > ch.now:
                yield ch.wait(t - ch.now)
            held = st["held"]
            role = st["roles"][account]
            if kind == "opening":  # the collecting account's first deposit, as newcomers make it
                amount, cash = st["opening"][str(account)]
                human.post_deposit(ch, ep, account, amount, cash, role)
                continue
            if kind == "deposit":
                amount = self._amount(ep)
                ch.credit(ep, account, amount, role=role, **DEPOSIT)
                held[account] = held.get(account, 0) + amount
                continue
            prof = ch.world.profile
            smurf = self.params.smurf_fee if kind == "forward" else None
            keep = _forward_mean(role, prof, smurf)
            amount = human.passed_on(self.rng, prof, held.get(account, 0), keep)
            if amount < 100:
                continue
            # The payer opens their banking app first, as honest payers do.
            owner = int(ch.pop.accounts["customer_idx"][account])
            gap = human.open_session(ch, ep, self.rng, owner, _device(ch, account), account)
            if gap:
                yield ch.wait(gap)
            to = st["collector"] if kind == "forward" else -1
            outcome = ch.transfer(ep, account, to, amount, device=_device(ch, account), role=role)
            if outcome.approved:
                held[account] = 0  # a smurf pockets the fee; nothing of it moves on
                if to >= 0:
                    held[to] = held.get(to, 0) + amount

    def _drop_frozen(self, ep: Episode) -> bool:
        """Cancel what frozen depositors were still to do; True if anything is left."""
        st, bank = ep.state, self.ch.bank
        if "events" not in st:
            return False
        frozen = {a for a in st["roles"] if bank.account_frozen_at[a] <= self.ch.now}
        rest = [e for e in st["events"][st["next"] :] if e[2] not in frozen]
        st["events"] = st["events"][: st["next"]] + rest
        return bool(rest)

    def on_declined(self, ep: Episode, outcome: Outcome) -> None:
        if outcome.reason == "account_frozen":
            # Someone was caught: stay further below the threshold and drop that person.
            ep.state["margin"] = min(ep.state.get("margin", self.params.margin) * 1.5, 0.6)
            self._drop_frozen(ep)
            ep.adaptations += 1

    def on_interrupt(self, ep: Episode, cause: str) -> bool:
        return self._drop_frozen(ep)


class PassThroughParams(TypologyParams):
    amount: float = Field(
        default=8_000.0, gt=0, le=1e9, description="median funds arriving per round, major units"
    )
    inflows: int = Field(default=2, ge=1, le=20, description="incoming payments per round")
    outflows: int = Field(default=3, ge=1, le=20, description="onward transfers per round")
    out_share: float | None = Field(
        default=None,
        ge=0.5,
        le=1,
        description="mean share of the round's inflow sent on (None: all but the holder's "
        "cut: a mule's commission, ~5-20%, or the little a launderer's own account keeps)",
    )
    hours: float = Field(
        default=3.0, gt=0, le=48, description="mean hours from the last inflow to all out"
    )
    cash_share: float = Field(
        default=0.15, ge=0, le=1, description="share of the outflow withdrawn at ATMs"
    )
    atm_max: float = Field(default=1_000.0, gt=0, description="largest ATM withdrawal")
    rounds: int = Field(default=2, ge=1, le=30, description="times the account is used")
    round_gap_days: float = Field(default=3.0, gt=0, le=60, description="mean days between rounds")
    own_account_share: float = Field(
        default=0.3, ge=0, le=1, description="share run through a launderer-opened account"
    )


@register("rapid_pass_through.v1")
class RapidPassThrough(Typology):
    family = "aml"
    description = (
        "An account receives funds and sends nearly all of them on (transfers out, some "
        "cash) within hours, round after round."
    )
    report_kind = "aml"
    default_rate_per_day = 0.15
    Params = PassThroughParams
    params: PassThroughParams

    def expected_rows(self) -> float:
        p = self.params
        cash = p.amount * p.cash_share / p.atm_max
        opening = p.own_account_share  # a new account's first deposit
        return p.rounds * (p.inflows + p.outflows + np.ceil(cash)) + opening

    def run(self, ep: Episode) -> Process:
        p, ch, rng, st = self.params, self.ch, self.rng, ep.state
        if "account" not in st:
            st.update(round=0, phase="in", step=0, received=0, todo=[])
            if rng.random() < p.own_account_share:
                st["account"], first = _open_own_account(self, ep)
                st["role"], st["opening"] = "fraudster", list(first)
            else:
                st["account"], st["role"] = ch.checking(human.recruit(ch, rng, 1)[0]), "mule"
            ep.accounts.add(st["account"])
        account, role = st["account"], st["role"]
        if st.get("opening"):
            # A new account gets its first deposit, as newcomers' do, before it is used.
            t, amount, cash = st["opening"]
            if t > ch.now:
                yield ch.wait(t - ch.now)
            st["opening"] = None
            human.post_deposit(ch, ep, account, amount, cash, role)
        while st["round"] < p.rounds:
            if st["phase"] == "in":
                while st["step"] < p.inflows:
                    st["step"] += 1
                    minor = ch.world.profile.minor_per_major
                    sent = rng.lognormal(np.log(p.amount), 0.3) * minor / p.inflows
                    amount = human.typed(rng, ch.world.profile, sent)  # typed by the payer
                    ch.credit(
                        ep,
                        account,
                        amount,
                        tx_type="p2p_transfer",
                        channel="online_banking",
                        role=role,
                    )
                    st["received"] += amount
                    yield ch.wait(_capped_wait(rng, 30 * 60))
                st.update(phase="out", todo=self._outflows(st["received"], role))
            mean_gap = p.hours * HOUR / (len(st["todo"]) + 1)
            while st["todo"]:
                kind, amount = st["todo"].pop(0)
                yield ch.wait(max(_capped_wait(rng, mean_gap), 600 if kind == "atm" else 1))
                if kind == "atm":
                    self._atm(ep, account, amount, role)
                else:
                    device = _device(ch, account)
                    owner = int(ch.pop.accounts["customer_idx"][account])
                    gap = human.open_session(ch, ep, rng, owner, device, account)
                    if gap:
                        yield ch.wait(gap)
                    ch.transfer(ep, account, -1, amount, device=device, role=role)
            st.update(round=st["round"] + 1, phase="in", step=0, received=0)
            if st["round"] < p.rounds:
                yield ch.wait(rng.exponential(p.round_gap_days * DAY))

    def _outflows(self, received: int, role: str) -> list[list[Any]]:
        """Split the round's outflow into wires out of the bank (typed sums, the last what is
        left) and ATM withdrawals, after the holder's cut."""
        p, rng, prof = self.params, self.rng, self.ch.world.profile
        keep = None if p.out_share is None else 1 - p.out_share
        total = int(received * (1 - human.cut(rng, prof, _forward_mean(role, prof, keep))))
        minor = prof.minor_per_major
        cash = int(total * p.cash_share)
        left = total - cash
        todo: list[list[Any]] = []
        for j, w in enumerate(rng.dirichlet(np.full(p.outflows, 3.0)).tolist()):
            typed = human.typed(rng, prof, w * (total - cash), down=True)
            piece = left if j == p.outflows - 1 else min(typed, left)
            left -= piece
            if piece > 0:
                todo.append(["wire", piece])
        cap = int(p.atm_max * minor)
        while cash >= 20 * minor:  # ATM notes: at least 20 units, in tens
            piece = min(cash, cap)
            piece -= piece % (10 * minor)
            todo.append(["atm", piece])
            cash -= piece
        order = rng.permutation(len(todo))
        return [todo[i] for i in order]

    def _atm(self, ep: Episode, account: int, amount: int, role: str) -> None:
        cards = [
            int(c)
            for c in self.ch.cards_of(int(self.ch.pop.accounts["customer_idx"][account]))
            if int(self.ch.pop.cards["account_idx"][c]) == account
        ]
        if cards:
            self.ch.atm_withdrawal(ep, cards[0], amount, role=role)
        else:  # no card on the account: wire it instead
            self.ch.transfer(ep, account, -1, amount, device=_device(self.ch, account), role=role)

    def on_declined(self, ep: Episode, outcome: Outcome) -> None:
        if outcome.reason in ("account_frozen", "card_blocked"):
            # The account is burnt: stop future rounds after this one.
            ep.state["round"] = self.params.rounds
            ep.state["todo"] = []
            ep.adaptations += 1

    def on_interrupt(self, ep: Episode, cause: str) -> bool:
        return False  # a frozen pass-through account is abandoned


class CashDepositsParams(TypologyParams):
    days: int = Field(default=10, ge=1, le=365, description="business days with a deposit")
    amount: float = Field(default=3_000.0, gt=0, le=1e8, description="median daily takings")
    sigma: float = Field(default=0.6, ge=0, le=3, description="lognormal sigma of takings")
    pay_supplier_share: float = Field(
        default=0.3, ge=0, le=1, description="chance a deposit is followed by a supplier payment"
    )


@register("business_cash_deposits.v1")
class BusinessCashDeposits(Typology):
    """Legitimate look-alike of structuring: a shopkeeper banks varying daily takings."""

    family = "lookalike"
    description = "A small shopkeeper banks the day's cash takings, which vary day to day."
    report_kind = "never"
    is_fraud = False
    default_rate_per_day = 0.1
    Params = CashDepositsParams
    params: CashDepositsParams

    def expected_rows(self) -> float:
        return self.params.days * (1 + self.params.pay_supplier_share)

    def run(self, ep: Episode) -> Process:
        ep.pattern = "business_cash_deposits"
        p, ch, rng, st = self.params, self.ch, self.rng, ep.state
        if "account" not in st:
            owner = int(ch.sample_customers(rng, 1, min_age=28)[0])
            st.update(account=ch.checking(owner), day=0, day0=(ch.now // DAY + 1) * DAY)
        account = st["account"]
        while st["day"] < p.days:
            # Takings are banked after closing, Monday to Saturday.
            day = st["day0"] + st["day"] * DAY
            st["day"] += 1
            if (ch.world.config.start_date.weekday() + day // DAY) % 7 == 6:
                continue  # closed on Sundays
            t = day + int(rng.integers(17 * HOUR, 19 * HOUR))
            if t > ch.now:
                yield ch.wait(t - ch.now)
            amount = int(round(rng.lognormal(np.log(p.amount), p.sigma), -1) * 100)
            ch.credit(ep, account, max(amount, 1_000), role="none", **DEPOSIT)
            if rng.random() < p.pay_supplier_share:
                yield ch.wait(rng.uniform(HOUR, 3 * HOUR))
                share = rng.uniform(0.3, 0.9)
                ch.transfer(
                    ep, account, -1, int(amount * share), device=_device(ch, account), role="none"
                )
