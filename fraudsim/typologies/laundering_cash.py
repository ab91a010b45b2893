"""Cash laundering (structuring, rapid pass-through) and the honest business cash deposits."""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field

from fraudsim.core.units import DAY, HOUR
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


def _open_own_account(typ: Typology, ep: Episode) -> int:
    """A launderer-controlled account (a new customer), with a debit card for cash-outs."""
    ch, rng = typ.ch, typ.rng
    age = int(rng.integers(21, 55))
    cust, account = ch.open_account(age, float(rng.lognormal(np.log(30_000), 0.4)))
    ch.issue_card(cust, kind="debit")
    ep.accounts.add(account)
    return account


class StructuringParams(TypologyParams):
    threshold: float = Field(
        default=10_000.0, gt=0, le=1e8, description="reporting threshold, major units"
    )
    margin: float = Field(
        default=0.15, gt=0, lt=1, description="deposits fall in [threshold*(1-margin), threshold)"
    )
    depositors: int = Field(
        default=3, ge=1, le=50, description="people depositing (1: one structurer, >1: smurfs)"
    )
    deposits_each: int = Field(default=4, ge=2, le=100, description="deposits per depositor")
    days: float = Field(default=6.0, gt=0, le=90, description="days the deposits are spread over")
    collect_hours: float = Field(
        default=12.0, gt=0, le=240, description="mean hours before a smurf forwards the cash"
    )
    smurf_fee: float = Field(default=0.03, ge=0, le=0.2, description="share a smurf keeps")
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
        return p.depositors * p.deposits_each * each + p.exit

    def _amount(self, ep: Episode) -> int:
        """Just under the threshold, in round cash amounts (tens when the threshold allows)."""
        p = self.params
        unit = 10.0 if p.threshold >= 1_000 else 1.0
        value = p.threshold * self.rng.uniform(1 - ep.state["margin"], 0.995)
        return int(max(np.floor(value / unit) * unit, unit) * 100)

    def _plan(self, ep: Episode) -> None:
        p, ch, rng = self.params, self.ch, self.rng
        if p.depositors == 1:
            # One structurer banking their own cash: the offender's own account.
            people = ch.sample_customers(rng, 1, min_age=25)
            roles = {ch.checking(int(people[0])): "fraudster"}
            collector = ch.checking(int(people[0]))
        else:
            mules = ch.sample_customers(
                rng, p.depositors, max_age=ch.world.profile.fraud.mule_max_age
            )
            roles = {ch.checking(int(m)): "mule" for m in mules}
            collector = _open_own_account(self, ep)
        events: list[list[Any]] = []  # [time, kind, account]
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
            if kind == "deposit":
                amount = self._amount(ep)
                ch.credit(ep, account, amount, role=role, **DEPOSIT)
                held[account] = held.get(account, 0) + amount
                continue
            fee = self.params.smurf_fee if kind == "forward" else 0.0
            amount = int(held.get(account, 0) * (1 - fee))
            if amount < 100:
                continue
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
    out_share: float = Field(
        default=0.96, ge=0.5, le=1, description="share of the round's inflow sent on"
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
        return p.rounds * (p.inflows + p.outflows + np.ceil(cash))

    def run(self, ep: Episode) -> Process:
        p, ch, rng, st = self.params, self.ch, self.rng, ep.state
        if "account" not in st:
            if rng.random() < p.own_account_share:
                st["account"], st["role"] = _open_own_account(self, ep), "fraudster"
            else:
                mule = ch.sample_customers(rng, 1, max_age=ch.world.profile.fraud.mule_max_age)
                st["account"], st["role"] = ch.checking(int(mule[0])), "mule"
            st.update(round=0, phase="in", step=0, received=0, todo=[])
            ep.accounts.add(st["account"])
        account, role = st["account"], st["role"]
        while st["round"] < p.rounds:
            if st["phase"] == "in":
                while st["step"] < p.inflows:
                    st["step"] += 1
                    amount = int(rng.lognormal(np.log(p.amount), 0.3) * 100 / p.inflows)
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
                st.update(phase="out", todo=self._outflows(st["received"]))
            mean_gap = p.hours * HOUR / (len(st["todo"]) + 1)
            while st["todo"]:
                kind, amount = st["todo"].pop(0)
                yield ch.wait(max(_capped_wait(rng, mean_gap), 600 if kind == "atm" else 1))
                if kind == "atm":
                    self._atm(ep, account, amount, role)
                else:
                    device = _device(ch, account)
                    ch.transfer(ep, account, -1, amount, device=device, role=role)
            st.update(round=st["round"] + 1, phase="in", step=0, received=0)
            if st["round"] < p.rounds:
                yield ch.wait(rng.exponential(p.round_gap_days * DAY))

    def _outflows(self, received: int) -> list[list[Any]]:
        """Split the round's outflow into wires out of the bank and ATM withdrawals."""
        p, rng = self.params, self.rng
        total = int(received * min(p.out_share * rng.uniform(1.0, 1.03), 1.0))
        cash = int(total * p.cash_share)
        wires = rng.dirichlet(np.full(p.outflows, 3.0)) * (total - cash)
        todo: list[list[Any]] = [["wire", int(w)] for w in wires]
        cap = int(p.atm_max * 100)
        while cash >= 2_000:  # ATM notes: at least 20 units, in tens
            piece = min(cash, cap)
            piece -= piece % 1_000
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
