"""Synthetic identities: fabricated customers on shared devices, nurtured, then busted out or
used as mules."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import Field

from fraudsim.core.units import DAY, HOUR
from fraudsim.typologies.base import Episode, Outcome, PlannedTypology, TypologyParams
from fraudsim.typologies.registry import register

# What a bust-out buys: goods that resell easily.
BUST_CATEGORIES = ("electronics", "digital_goods", "travel", "general_retail", "apparel")


class SyntheticIdentityParams(TypologyParams):
    identities: int = Field(default=4, ge=1, le=50, description="identities opened per episode")
    devices: int = Field(
        default=1, ge=1, le=10, description="fraudster devices the identities share"
    )
    shared_phone_share: float = Field(
        default=0.5, ge=0, le=1, description="share of identities reusing the first one's phone"
    )
    open_hours: float = Field(
        default=12.0, gt=0, le=24 * 30, description="mean hours between account openings"
    )
    nurture_days: float = Field(
        default=10.0, gt=0, le=365, description="days of good behaviour after the last opening"
    )
    nurture_credit: float = Field(
        default=400.0, gt=0, le=1e5, description="median pay-in while nurturing, major units"
    )
    nurture_purchase: float = Field(
        default=25.0, gt=0, le=1e4, description="median card purchase while nurturing"
    )
    purchases_per_day: float = Field(
        default=0.8, gt=0, le=20, description="card purchases per identity and day while nurturing"
    )
    cash_out: Literal["bust_out", "mule", "mixed"] = Field(
        default="mixed", description="what the identities are for"
    )
    bust_out_share: float = Field(
        default=0.5, ge=0, le=1, description="with cash_out = mixed: share busted out"
    )
    credit_limit: float = Field(
        default=800.0, gt=0, le=1e5, description="credit card limit granted, major units"
    )
    limit_raise: float = Field(
        default=2.5, ge=1, le=10, description="factor the limit grows by before the bust-out"
    )
    bust_out_hours: float = Field(
        default=24.0, gt=0, le=24 * 14, description="hours the bust-out spree lasts"
    )
    mule_amount: float = Field(
        default=2500.0, gt=0, le=1e6, description="median proceeds one mule identity receives"
    )
    forward_hours: float = Field(
        default=3.0, gt=0, le=72, description="mean hours before a mule identity passes it on"
    )


@register("synthetic_identity.v1")
class SyntheticIdentity(PlannedTypology):
    plan_actor_key = "who"
    family = "account"
    description = (
        "Accounts opened with fabricated identities sharing devices and phones, nurtured with "
        "small pay-ins and purchases, then busted out on a raised credit limit or used as mules."
    )
    report_kind = "aml"
    default_rate_per_day = 0.05
    rows_per_episode = 40.0
    Params = SyntheticIdentityParams

    def _p(self) -> SyntheticIdentityParams:
        p = self.params
        assert isinstance(p, SyntheticIdentityParams)
        return p

    def setup(self) -> None:
        # Work-around: Population.ibans (a cached property) sizes itself on the accounts that
        # exist when first read; read it before open_account() appends any.
        _ = self.ch.pop.ibans

    def expected_rows(self) -> float:
        p = self._p()
        # nurture purchases and pay-ins, a repayment or two, then about five cash-out rows
        return p.identities * (p.nurture_days * (p.purchases_per_day + 1 / 7) + 6)

    # -- plan ----------------------------------------------------------------------------------

    def _prepare(self, ep: Episode) -> None:
        ch, rng, p = self.ch, self.rng, self._p()
        start = ch.now
        opens = start + np.cumsum(rng.exponential(p.open_hours * HOUR, p.identities))
        opens[0] = start
        # The ring cashes out all identities together, once the last one is seasoned.
        cash_out_at = int(opens[-1] + p.nurture_days * DAY)
        if p.cash_out == "mixed":
            routes = ["bust_out" if rng.random() < p.bust_out_share else "mule" for _ in opens]
        else:
            routes = [p.cash_out] * p.identities
        plan = [
            {"t": int(t), "kind": "open", "who": k, "route": r}
            for k, (t, r) in enumerate(zip(opens.tolist(), routes, strict=True))
        ]
        ep.state.update(
            plan=plan,
            ids=[None] * p.identities,
            devices=[ch.new_device() for _ in range(p.devices)],
            phone=None,
            cash_out_at=cash_out_at,
            pace=1.0,
        )

    def _skip(self, ep: Episode, item: dict[str, Any]) -> bool:
        who = ep.state["ids"][item["who"]]
        return who is not None and bool(who.get("dead"))

    # -- opening and nurturing -----------------------------------------------------------------

    def _open(self, ep: Episode, item: dict[str, Any]) -> None:
        ch, rng, p, st = self.ch, self.rng, self._p(), ep.state
        incomes = ch.pop.customers["income"][: ch.world.n_initial_customers]
        # Plausible one by one, inconsistent together: young, yet a top-decile income.
        age = int(rng.integers(21, 31))
        income = float(np.quantile(incomes, rng.uniform(0.9, 0.99)))
        cust, acct = ch.open_account(age, income, sex="F" if rng.random() < 0.5 else "M")
        phone = ch.pop.appended_identities[-1]["phone"]
        if st["phone"] is None:
            st["phone"] = phone.tolist()
        elif rng.random() < p.shared_phone_share:
            # Work-around (no channel for it): the new identity gives the same phone number.
            ch.pop.appended_identities[-1]["phone"] = np.asarray(st["phone"], dtype=phone.dtype)
        k = item["who"]
        who = {
            "cust": cust,
            "acct": acct,
            "card": ch.issue_card(cust, kind="debit"),
            "credit_card": -1,
            "credit_acct": -1,
            "device": st["devices"][k % len(st["devices"])],
            "route": item["route"],
            "role": "fraudster" if item["route"] == "bust_out" else "mule",
            "balance": 0,
            "owed": 0,
        }
        st["ids"][k] = who
        ep.accounts.add(acct)
        ch.event(ep, cust, "login", device=who["device"], account=acct)
        now, end = ch.now, st["cash_out_at"]
        # Pay-ins from a made-up employer, weekly or fortnightly, in the early-morning window
        # when payrolls land; the first the day after opening.
        day = now // DAY + 1
        first_pay_in = day * DAY + rng.uniform(2, 5) * HOUR
        every = int(rng.choice([7, 14]))
        while day * DAY < end:
            self._push(ep, day * DAY + rng.uniform(2, 5) * HOUR, "pay_in", k)
            day += every
        # Everyday purchases once there is money in, at least a couple of them.
        n_buys = max(int(rng.poisson(p.purchases_per_day * (end - now) / DAY)), 2)
        for t in np.sort(rng.uniform(first_pay_in + HOUR, end, n_buys)).tolist():
            self._push(ep, t, "buy", k)
        if who["route"] == "bust_out":
            span = end - now
            self._push(ep, now + span * rng.uniform(0.1, 0.3), "apply", k)
            self._push(ep, end - rng.uniform(0.5, 1.5) * DAY, "raise", k)
            self._push(ep, end + rng.uniform(0, 6) * HOUR, "bust", k)
        else:
            self._push(ep, end + rng.uniform(0, 24) * HOUR, "proceeds", k)

    def _pay_in(self, ep: Episode, item: dict[str, Any]) -> None:
        who = ep.state["ids"][item["who"]]
        minor = self.ch.world.profile.minor_per_major
        amount = int(self.rng.lognormal(np.log(self._p().nurture_credit), 0.3) * minor)
        out = self.ch.credit(
            ep, who["acct"], amount, tx_type="salary", role=who["role"], channel="incoming"
        )
        who["balance"] += out.amount

    def _buy(self, ep: Episode, item: dict[str, Any]) -> None:
        """An ordinary small purchase, on the credit card once there is one."""
        ch, rng, who = self.ch, self.rng, ep.state["ids"][item["who"]]
        minor = ch.world.profile.minor_per_major
        amount = int(rng.lognormal(np.log(self._p().nurture_purchase), 0.8) * minor)
        on_credit = who["credit_card"] >= 0 and rng.random() < 0.5
        if on_credit:
            # keep utilisation low: that is what earns the limit raise
            amount = min(amount, int(self._p().credit_limit * minor * 0.3) - who["owed"])
        else:
            amount = min(amount, who["balance"] // 2)
        if amount < minor:
            return
        card = who["credit_card"] if on_credit else who["card"]
        online = rng.random() < 0.4
        merchant = int(ch.merchants(rng, 1, online=online)[0])
        out = ch.card_payment(
            ep,
            card,
            merchant,
            amount,
            channel="cnp" if online else "pos",
            device=who["device"],
            role=who["role"],
            has_otp=True,  # the fraudster holds the identity's phone and passcodes
        )
        if out.approved:
            if on_credit:
                who["owed"] += amount
                self._push(ep, ch.now + rng.uniform(2, 5) * DAY, "repay", item["who"])
            else:
                who["balance"] -= amount

    def _apply(self, ep: Episode, item: dict[str, Any]) -> None:
        ch, who = self.ch, ep.state["ids"][item["who"]]
        ch.event(ep, who["cust"], "login", device=who["device"], account=who["acct"])
        who["credit_card"] = ch.issue_card(who["cust"], kind="credit", limit=self._p().credit_limit)
        who["credit_acct"] = int(ch.pop.cards["account_idx"][who["credit_card"]])
        ep.accounts.add(who["credit_acct"])
        ep.cards.add(who["card"])

    def _repay(self, ep: Episode, item: dict[str, Any]) -> None:
        """Pay the card back in full and on time: the good record the bust-out exploits."""
        ch, who = self.ch, ep.state["ids"][item["who"]]
        amount = min(who["owed"], who["balance"])
        if amount <= 0 or ch.now >= ep.state["cash_out_at"]:
            return  # (no more repayments once the bust-out has begun)
        out = ch.transfer(
            ep,
            who["acct"],
            who["credit_acct"],
            amount,
            device=who["device"],
            role=who["role"],
            tx_type="card_repayment",
        )
        if out.approved:
            who["balance"] -= amount
            who["owed"] -= amount

    def _raise(self, ep: Episode, item: dict[str, Any]) -> None:
        ch, rng, who = self.ch, self.rng, ep.state["ids"][item["who"]]
        if who["credit_acct"] < 0:
            return
        ch.set_limit(who["credit_acct"], self._p().credit_limit * self._p().limit_raise)
        if rng.random() < 0.5:
            # statements and new cards go to a drop address from now on
            ch.event(ep, who["cust"], "address_change", device=who["device"], account=who["acct"])

    def _merchant(self, category: str, online: bool) -> int:
        """A merchant of the category, in store or online as wished when there is one."""
        for kw in ({"online": online}, {"online": not online}):
            try:
                return int(self.ch.merchants(self.rng, 1, category=category, **kw)[0])
            except ValueError:
                continue
        return int(self.ch.merchants(self.rng, 1, online=online)[0])

    # -- cash-out ------------------------------------------------------------------------------

    def _bust(self, ep: Episode, item: dict[str, Any]) -> None:
        """One step of the spree: max out the card, then empty the checking account."""
        ch, rng, p, who = self.ch, self.rng, self._p(), ep.state["ids"][item["who"]]
        minor = ch.world.profile.minor_per_major
        room = (
            -int(ch.bank.floors[who["credit_acct"]]) - who["owed"] if who["credit_acct"] >= 0 else 0
        )
        gap = rng.exponential(p.bust_out_hours * HOUR / 8) * ep.state["pace"] + 600
        if room > 50 * minor:
            amount = min(int(rng.lognormal(np.log(400), 0.5) * minor), room)
            if rng.random() < 0.2:
                out = ch.atm_withdrawal(
                    ep,
                    who["credit_card"],
                    min(amount, 500 * minor) // (10 * minor) * 10 * minor,
                    role=who["role"],
                )
            else:
                category = BUST_CATEGORIES[int(rng.integers(0, len(BUST_CATEGORIES)))]
                merchant = self._merchant(category, online=rng.random() < 0.6)
                out = ch.card_payment(
                    ep,
                    who["credit_card"],
                    merchant,
                    amount,
                    channel="cnp" if ch.pop.merchants["online"][merchant] else "pos",
                    device=who["device"],
                    role=who["role"],
                    has_otp=True,
                )
            if out.approved:
                who["owed"] += out.amount
            self._push(ep, ch.now + gap, "bust", item["who"])
        elif who["balance"] > 20 * minor:
            # Card maxed out: empty the checking account too (bar some small change).
            amount = who["balance"] - int(rng.uniform(1, 20) * minor)
            ch.transfer(ep, who["acct"], -1, amount, device=who["device"], role=who["role"])
            who["balance"] -= amount

    def _proceeds(self, ep: Episode, item: dict[str, Any]) -> None:
        """Fraud proceeds land on the mule identity, in one to three pay-ins."""
        ch, rng, p = self.ch, self.rng, self._p()
        minor = ch.world.profile.minor_per_major
        total = rng.lognormal(np.log(p.mule_amount), 0.5) * minor
        for part in rng.dirichlet(np.full(int(rng.integers(1, 4)), 4.0)).tolist():
            self._push(
                ep,
                ch.now + rng.uniform(0, 4) * HOUR,
                "receive",
                item["who"],
                amount=int(total * part),
            )

    def _receive(self, ep: Episode, item: dict[str, Any]) -> None:
        ch, rng, who = self.ch, self.rng, ep.state["ids"][item["who"]]
        out = ch.credit(
            ep,
            who["acct"],
            item["amount"],
            tx_type="p2p_transfer",
            role=who["role"],
            channel="incoming",
        )
        who["balance"] += out.amount
        delay = rng.exponential(self._p().forward_hours * HOUR) + rng.uniform(600, 3600)
        self._push(
            ep,
            ch.now + delay,
            "forward",
            item["who"],
            amount=int(out.amount * rng.uniform(0.9, 0.98)),
        )

    def _forward(self, ep: Episode, item: dict[str, Any]) -> None:
        ch, who = self.ch, ep.state["ids"][item["who"]]
        amount = min(item["amount"], who["balance"])
        out = ch.transfer(ep, who["acct"], -1, amount, device=who["device"], role=who["role"])
        if out.approved:
            who["balance"] -= amount

    # -- adaptation ----------------------------------------------------------------------------

    def _burnt(self, ep: Episode) -> None:
        """Identities whose card or account the bank stopped are abandoned."""
        bank, now = self.ch.bank, self.ch.now
        for who in ep.state.get("ids", []):
            if who is None or who.get("dead"):
                continue
            cards = [c for c in (who["card"], who["credit_card"]) if c >= 0]
            if bank.account_frozen_at[who["acct"]] <= now or any(
                bank.card_blocked_at[c] <= now for c in cards
            ):
                who["dead"] = True

    def on_declined(self, ep: Episode, outcome: Outcome) -> None:
        if outcome.reason == "rule":
            # Velocity rule hit during the spree: spread the purchases out.
            ep.state["pace"] = ep.state.get("pace", 1.0) * 2
            ep.adaptations += 1
        elif outcome.reason in ("card_blocked", "account_frozen"):
            self._burnt(ep)

    def on_interrupt(self, ep: Episode, cause: str) -> bool:
        self._burnt(ep)
        alive = {
            k for k, who in enumerate(ep.state.get("ids", [])) if who is None or not who.get("dead")
        }
        # Carry on with the identities the bank has not caught (and those not yet opened).
        return any(x["who"] in alive for x in ep.state.get("plan", []))
