"""APP scam: a manipulated victim pays a new payee from their own device; the payee forwards it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from pydantic import Field

from fraudsim.core.units import DAY, HOUR
from fraudsim.typologies import human
from fraudsim.typologies.base import Episode, Outcome, Process, Typology, TypologyParams
from fraudsim.typologies.registry import register

Variant = Literal["purchase", "romance", "investment", "impersonation", "invoice"]


@dataclass(frozen=True)
class Shape:
    """Per-variant defaults."""

    median: float  # loss per case, major units (UK Finance 2023 averages, read as EUR)
    payments: int
    trust: int  # small trust-building payments before the large ones
    span_hours: float  # first to last payment
    older_share: float | None  # share of victims aged 61+ (None: drawn like the population)
    round_to: int  # scam payments are asked for in round sums; invoices and prices are not
    young_share: float | None = None  # share of victims under 35 (None: like the population)


SHAPES: dict[str, Shape] = {
    # UK Finance Annual Fraud Report 2024 (2023 cases): average loss per APP case by type.
    # Victims' ages (choice, after UK Finance / Which? APP data: purchase scams skew younger,
    # investment, romance and impersonation scams older; the population has ~30% under 35 and
    # ~23% aged 61+): purchase 45% under 35, investment and romance 40% aged 61+.
    "purchase": Shape(550.0, 1, 0, 2.0, 0.12, 0, young_share=0.45),
    "romance": Shape(4_555.0, 6, 2, 14 * 24.0, 0.40, 10, young_share=0.15),
    # between 6,422 and 18,600
    "investment": Shape(10_000.0, 5, 2, 21 * 24.0, 0.40, 10, young_share=0.15),
    "impersonation": Shape(6_441.0, 3, 0, 1.0, 0.35, 10, young_share=0.20),
    "invoice": Shape(14_469.0, 1, 0, 0.5, None, 0),  # businesses' payers: like everyone
}


class AppScamParams(TypologyParams):
    variant: Variant = Field(default="purchase", description="scam story: sets the defaults below")
    amount_median: float | None = Field(
        default=None, gt=0, le=1e7, description="median loss per case, major units (None: variant)"
    )
    amount_sigma: float = Field(default=0.8, gt=0, le=3, description="lognormal sigma of the loss")
    max_share: float = Field(
        default=0.9, gt=0, le=1, description="most of the victim's funds (checking+savings) taken"
    )
    payments: int | None = Field(
        default=None, ge=1, le=50, description="payments per case (None: variant default)"
    )
    span_hours: float | None = Field(
        default=None, gt=0, le=24 * 180, description="hours first -> last payment (None: variant)"
    )
    older_share: float | None = Field(
        default=None, ge=0, le=1, description="share of victims aged 61+ (None: variant default)"
    )
    young_share: float | None = Field(
        default=None, ge=0, le=1, description="share of victims under 35 (None: variant default)"
    )
    mule_share: float = Field(
        default=0.7, ge=0, le=1, description="payee is a recruited mule (else a fraudster account)"
    )
    forward_hours: float = Field(
        default=2.0, gt=0, le=72, description="mean hours before the payee forwards each payment"
    )
    # choice: a new payee is set up minutes before the first payment to it (a real signal of
    # APP scams: the payee is new, the payment large)
    payee_minutes: float = Field(
        default=5.0, gt=0, le=24 * 60, description="mean minutes from new payee to payment"
    )
    fake_returns: bool = Field(
        default=True, description="investment: the payee pays small 'profits' back to build trust"
    )


@register("app_scam.v1")
class AppScam(Typology):
    family = "account"
    description = (
        "Authorised push payment scam: the victim adds a new payee and pays it from their own "
        "device (small trust payments first for romance/investment); the payee forwards it out."
    )
    report_kind = "scam"
    default_rate_per_day = 0.2
    rows_per_episode = 4.0
    Params = AppScamParams

    def __init__(self, params: TypologyParams, *args: Any, **kwargs: Any) -> None:
        super().__init__(params, *args, **kwargs)
        if isinstance(params, AppScamParams) and params.variant in ("romance", "investment"):
            # Work-around: the engine draws the report delay from the episode start by
            # report_kind. A victim strung along for weeks realises (and reports) far later
            # than the 3-day scam median, so these variants take the 30-day median of "aml",
            # the nearest delay on offer, until the engine takes a delay per episode.
            self.report_kind = "aml"

    def setup(self) -> None:
        # Work-around: Population.ibans (a cached property) sizes itself on the accounts that
        # exist when first read; read it before open_account() appends any.
        _ = self.ch.pop.ibans

    # -- parameters resolved against the variant --------------------------------------------

    def _p(self) -> AppScamParams:
        p = self.params
        assert isinstance(p, AppScamParams)
        return p

    def _shape(self) -> Shape:
        p = self._p()
        s = SHAPES[p.variant]
        return Shape(
            median=p.amount_median if p.amount_median is not None else s.median,
            payments=p.payments if p.payments is not None else s.payments,
            trust=min(s.trust, max((p.payments or s.payments) - 1, 0)),
            span_hours=p.span_hours if p.span_hours is not None else s.span_hours,
            older_share=p.older_share if p.older_share is not None else s.older_share,
            round_to=s.round_to,
            young_share=p.young_share if p.young_share is not None else s.young_share,
        )

    def expected_rows(self) -> float:
        s = self._shape()
        # each payment plus its forward, some savings top-ups, an investment 'profit'
        extra = 1.0 if self._p().variant == "investment" and self._p().fake_returns else 0.0
        return s.payments * 2.3 + extra

    # -- set-up of one case --------------------------------------------------------------------

    def _funds(self, customer: int) -> tuple[int, int]:
        """(checking available, savings balance) in minor units, from settled balances."""
        ch = self.ch
        acct = ch.checking(customer)
        checking = int(ch.bank.balances[acct] - ch.bank.floors[acct])
        sav = int(ch.pop.customers["savings_idx"][customer])
        savings = int(ch.bank.balances[sav]) if sav >= 0 else 0
        return max(checking, 0), max(savings, 0)

    def _pick_victim(self, shape: Shape, wanted: int) -> int:
        ch, rng = self.ch, self.rng
        young = shape.young_share
        if young is not None and shape.older_share is not None:
            young = min(young, 1.0 - shape.older_share)
        ages = human.victim_ages(shape.older_share, young)
        pool = ch.sample_customers(rng, 8, ages=ages)
        # Scammers keep working on whoever can pay: the first candidate who can cover half.
        funds = [sum(self._funds(int(c))) for c in pool]
        for c, f in zip(pool.tolist(), funds, strict=True):
            if f >= wanted // 2:
                return int(c)
        return int(pool[int(np.argmax(funds))])

    def _pick_payee(self, ep: Episode) -> dict[str, Any]:
        ch, rng = self.ch, self.rng
        if rng.random() < self._p().mule_share:
            victim = ep.state.get("victim")
            mule = human.recruit(ch, rng, 1, exclude=set() if victim is None else {victim})[0]
            payee = {"account": ch.checking(mule), "device": ch.device_of(mule), "role": "mule"}
            payee["cust"] = mule
        else:
            # A fraudster-owned account opened under an identity like any newcomer's, funded
            # with a first deposit as newcomers fund theirs.
            cust, acct = human.open_like_newcomer(ch, rng)
            payee = {"account": acct, "device": ch.device_of(cust), "role": "fraudster"}
            payee["cust"] = cust
            t, amount, cash = human.first_deposit(rng, ch.world.profile, ch.now)
            self._push(ep, {"t": t, "kind": "deposit", "amount": amount, "cash": cash, "to": acct})
        payee["announced"] = False
        ep.accounts.add(payee["account"])
        return payee

    def _amounts(self, shape: Shape, total: int) -> list[int]:
        """Payment amounts (minor units): trust payments small, then growing ones."""
        rng, minor = self.rng, self.ch.world.profile.minor_per_major
        n, k = shape.payments, shape.trust
        trust = [total * rng.uniform(0.02, 0.05) for _ in range(k)]
        rest = max(total - sum(trust), 0)
        if k:
            weights = 1.6 ** np.arange(n - k) * rng.uniform(0.8, 1.2, n - k)
        else:
            weights = rng.dirichlet(np.full(n - k, 5.0))
        big = list(rest * weights / weights.sum())
        out = []
        for a in trust + big:
            if shape.round_to and a >= 100 * minor:
                a = max(round(a / (shape.round_to * minor)), 1) * shape.round_to * minor
            out.append(max(int(a), minor))
        return out

    def _prepare(self, ep: Episode) -> None:
        ch, rng, p = self.ch, self.rng, self._p()
        shape = self._shape()
        minor = ch.world.profile.minor_per_major
        wanted = int(rng.lognormal(np.log(shape.median), p.amount_sigma) * minor)
        victim = self._pick_victim(shape, wanted)
        checking, savings = self._funds(victim)
        # The loss is scaled to what the victim has, so that it stays payable.
        total = max(min(wanted, int(p.max_share * (checking + savings))), 20 * minor)
        amounts = self._amounts(shape, total)
        # Payments spread over the span, a few minutes apart at least; amounts grow, so the
        # trust payments come first.
        n = len(amounts)
        gaps = rng.dirichlet(np.ones(max(n - 1, 1)))[: n - 1] * shape.span_hours * HOUR
        offsets = np.r_[0.0, np.cumsum(gaps + rng.uniform(120, 600, n - 1))]
        start = ch.now + int(rng.uniform(120, 900))  # the call or chat before the first payment
        plan = [
            {"t": start + int(o), "kind": "pay", "amount": a, "i": i, "topped": False}
            for i, (o, a) in enumerate(zip(offsets.tolist(), amounts, strict=True))
        ]
        if p.variant == "investment" and p.fake_returns and shape.trust and len(amounts) > 1:
            # A fake 'profit' paid back after the trust payments and before the large ones.
            t_back = (offsets[shape.trust - 1] + offsets[shape.trust]) / 2
            plan.append({"t": start + int(t_back), "kind": "return", "amount": 0})
        plan.sort(key=lambda x: x["t"])
        ep.victims.add(victim)
        ep.state["victim"] = victim
        ep.state.update(
            account=ch.checking(victim),
            savings=int(ch.pop.customers["savings_idx"][victim]),
            device=ch.device_of(victim),
            plan=plan,
            pending={},
            paid=0,
            trust_paid=0,
            kept=0,
            last_seen=-DAY,
            stop=False,
        )
        ep.state["payee"] = self._pick_payee(ep)

    # -- the behaviour -------------------------------------------------------------------------

    def run(self, ep: Episode) -> Process:
        ch = self.ch
        if "plan" not in ep.state:
            self._prepare(ep)
        st = ep.state
        while st["plan"] and not st["stop"]:
            item = st["plan"][0]
            if item["t"] > ch.now:
                yield ch.wait(item["t"] - ch.now)
                continue
            st["plan"].pop(0)
            steps = {"pay": self._pay, "forward": self._forward, "return": self._return}
            steps["deposit"] = self._deposit
            steps[item["kind"]](ep, item)

    def _push(self, ep: Episode, item: dict[str, Any]) -> None:
        ep.state["plan"].append(item)
        ep.state["plan"].sort(key=lambda x: x["t"])

    def _today(self, ep: Episode) -> dict[str, int]:
        """What this case moved per account today (the bank's balances settle at day end)."""
        day = self.ch.now // DAY
        if ep.state["pending"].get("day") != day:
            ep.state["pending"] = {"day": day}
        return ep.state["pending"]

    def _available(self, ep: Episode, account: int) -> int:
        if account < 0:
            return 0
        bank = self.ch.bank
        moved = self._today(ep).get(str(account), 0)
        return int(bank.balances[account] - bank.floors[account]) + moved

    def _moved(self, ep: Episode, account: int, delta: int) -> None:
        today = self._today(ep)
        today[str(account)] = today.get(str(account), 0) + delta

    def _session(self, ep: Episode, item: dict[str, Any]) -> bool:
        """The victim opens the banking app when no session of theirs is open (half an hour
        since their last action): True when they just logged in, and `item` comes back a few
        human steps later, as every honest session's first action does."""
        ch, st = self.ch, ep.state
        if ch.now - st["last_seen"] <= HOUR // 2:
            st["last_seen"] = ch.now
            return False
        ch.event(ep, st["victim"], "login", device=st["device"], account=st["account"])
        st["last_seen"] = ch.now
        self._push(ep, {**item, "t": ch.now + human.session_gap(self.rng, ch.world.profile)})
        return True

    def _pay(self, ep: Episode, item: dict[str, Any]) -> None:
        ch, rng, st = self.ch, self.rng, ep.state
        victim, account, device = st["victim"], st["account"], st["device"]
        payee = st["payee"]
        prof = ch.world.profile
        if self._session(ep, item):
            return
        if not payee["announced"]:
            # The victim adds the scammer's account as a new payee on their own phone, and pays
            # it minutes later.
            ch.event(ep, victim, "new_payee", device=device, account=account)
            payee["announced"] = True
            wait = human.session_gap(rng, prof) + rng.exponential(self._p().payee_minutes * 60)
            self._push(ep, {**item, "t": ch.now + int(wait)})
            return
        amount = item["amount"]
        available = self._available(ep, account)
        savings = st["savings"]
        if amount > available and savings >= 0 and not item["topped"]:
            # The victim first moves money over from savings ('move it to a safe account').
            minor100 = 100 * prof.minor_per_major
            need = -(-(amount - available + minor100) // minor100) * minor100
            need = min(need, max(self._available(ep, savings), 0))
            if need > 0:
                ch.transfer(
                    ep,
                    savings,
                    account,
                    need,
                    device=device,
                    role="victim",
                    tx_type="savings_transfer",
                )
                self._moved(ep, savings, -need)
                self._moved(ep, account, need)
                wait = human.session_gap(rng, prof)
                self._push(ep, {**item, "t": ch.now + wait, "topped": True})
                return
        if amount > int(available * 0.8):
            # Ask for what is left (with a margin: the day's own spending is not settled yet),
            # in whole round sums like any other request.
            unit = max(self._shape().round_to, 1) * prof.minor_per_major
            amount = int(available * 0.8) // unit * unit
            if amount < 10 * prof.minor_per_major:
                st["stop"] = True  # nothing left to take
                return
        outcome = ch.transfer(ep, account, payee["account"], amount, device=device, role="victim")
        if not outcome.approved:
            return
        self._moved(ep, account, -amount)
        st["paid"] += amount
        if item["i"] < self._shape().trust:
            st["trust_paid"] += amount
        # The payee passes it on within hours, keeping a cut (a mule's commission; a
        # fraudster's own account keeps little).
        keep = human.own_keep(prof) if payee["role"] == "fraudster" else None
        forward = human.passed_on(rng, prof, amount, keep)
        st["kept"] += amount - forward
        delay = rng.exponential(self._p().forward_hours * HOUR) + rng.uniform(300, 1800)
        self._push(
            ep,
            {"t": ch.now + int(delay), "kind": "forward", "amount": forward, "payee": dict(payee)},
        )

    def _forward(self, ep: Episode, item: dict[str, Any]) -> None:
        ch, payee = self.ch, item["payee"]
        if not item.get("in_session"):
            gap = human.open_session(
                ch, ep, self.rng, payee["cust"], payee["device"], payee["account"]
            )
            if gap:
                self._push(ep, {**item, "t": ch.now + gap, "in_session": True})
                return
        ch.transfer(
            ep, payee["account"], -1, item["amount"], device=payee["device"], role=payee["role"]
        )

    def _deposit(self, ep: Episode, item: dict[str, Any]) -> None:
        """The first deposit on a fraudster's newly opened account, as newcomers make it."""
        human.post_deposit(self.ch, ep, item["to"], item["amount"], item["cash"], "fraudster")

    def _return(self, ep: Episode, item: dict[str, Any]) -> None:
        st, prof = ep.state, self.ch.world.profile
        profit = st["trust_paid"] * self.rng.uniform(0.05, 0.15)
        amount = min(human.typed(self.rng, prof, profit), st["kept"])
        if amount <= 0:
            return
        payee = st["payee"]
        self.ch.transfer(
            ep, payee["account"], st["account"], amount, device=payee["device"], role=payee["role"]
        )
        st["kept"] -= amount
        self._moved(ep, st["account"], amount)

    # -- adaptation ----------------------------------------------------------------------------

    def _frozen(self, account: int) -> bool:
        return bool(self.ch.bank.account_frozen_at[account] <= self.ch.now)

    def on_declined(self, ep: Episode, outcome: Outcome) -> None:
        st = ep.state
        if outcome.reason != "account_frozen" or "account" not in st:
            return
        if self._frozen(st["account"]):
            st["stop"] = True  # the bank stepped in on the victim's account
        elif self._frozen(st["payee"]["account"]):
            # The payee account is burnt: give the victim new bank details for what is left.
            st["payee"] = self._pick_payee(ep)
            ep.adaptations += 1

    def on_interrupt(self, ep: Episode, cause: str) -> bool:
        st = ep.state
        if "account" not in st or self._frozen(st["account"]):
            return False
        if self._frozen(st["payee"]["account"]):
            st["payee"] = self._pick_payee(ep)
            # forwards queued from the frozen payee would fail: drop them
            st["plan"] = [x for x in st["plan"] if x["kind"] != "forward"]
        return any(x["kind"] == "pay" for x in st["plan"])
