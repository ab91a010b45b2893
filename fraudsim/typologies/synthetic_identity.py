"""Synthetic identities: fabricated customers on shared devices, nurtured, then busted out or
used as mules."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import numpy as np
from pydantic import Field

from fraudsim.core.units import DAY, HOUR
from fraudsim.typologies import human
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
    # TYPOLOGIES.md: identities are "nurtured" before the bust-out (choice: median two months)
    nurture_days: float = Field(
        default=60.0,
        gt=0,
        le=365,
        description="median days of good behaviour after the last opening (cut to the run)",
    )
    nurture_sigma: float = Field(
        default=0.5, ge=0, le=2, description="lognormal sigma of the nurture period"
    )
    income_uplift: float = Field(
        default=1.15,
        ge=1,
        le=3,
        description="stated income over a newcomer's (choice: a little inflated to get credit)",
    )
    cash_out: Literal["bust_out", "mule", "mixed"] = Field(
        default="mixed", description="what the identities are for"
    )
    bust_out_share: float = Field(
        default=0.5, ge=0, le=1, description="with cash_out = mixed: share busted out"
    )
    credit_limit: float | None = Field(
        default=None,
        gt=0,
        le=1e5,
        description="credit card limit granted, major units (None: what the bank grants the "
        "stated income, as for everyone)",
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
        months = p.nurture_days / 30
        # a first deposit; monthly pay and repayment; two cards at the honest rate (~12 a
        # month each); then about five cash-out rows
        return p.identities * (1 + months * (2 + 18) + 6)

    # -- plan ----------------------------------------------------------------------------------

    def _prepare(self, ep: Episode) -> None:
        ch, rng, p = self.ch, self.rng, self._p()
        start = ch.now
        opens = start + np.cumsum(rng.exponential(p.open_hours * HOUR, p.identities))
        opens[0] = start
        # The ring cashes out all identities together, once the last one is seasoned: weeks
        # to months, within what is left of the run (a few days kept for the cash-out).
        run_end = ch.world.config.days * DAY
        nurture = p.nurture_days * DAY * float(rng.lognormal(0, p.nurture_sigma))
        latest = max(run_end - 2 * DAY, int(opens[-1]) + DAY)
        cash_out_at = int(min(opens[-1] + nurture, latest))
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
        prof = ch.world.profile
        # Plausible one by one: the age, home and income of someone who could open an
        # account here, the income a little inflated; inconsistent together (shared phone and
        # device).
        cust, acct = human.open_like_newcomer(ch, rng, p.income_uplift)
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
            "limit": 0,
        }
        st["ids"][k] = who
        ep.accounts.add(acct)
        ch.event(ep, cust, "login", device=who["device"], account=acct)
        now, end = ch.now, st["cash_out_at"]
        # A first deposit as newcomers make one, pay from a made-up employer monthly at the
        # stated income, everyday card use at honest rates and tickets.
        t, amount, cash = human.first_deposit(rng, prof, now + 1)
        self._push(ep, t, "deposit", k, amount=amount, cash=cash)
        income = float(ch.pop.customers["income"][cust])
        payday = int(ch.pop.customers["payday"][cust])
        first = ch.world.config.start_date
        for at, pay in human.paydays(rng, prof, first, (now, end), income, payday):
            self._push(ep, at, "pay_in", k, amount=pay)
        for at, card, online in human.card_use(ch, rng, cust, 2, (now + HOUR, end)):
            self._push(ep, at, "buy", k, credit=card == 1, online=online)
        due = int(rng.integers(1, prof.transfers.card_repayment_day_max + 1))
        for day in range(now // DAY + 1, end // DAY + 1):
            if (first + dt.timedelta(days=day)).day == due:
                at = human.business_day(day * DAY + int(rng.uniform(4, 5) * HOUR), first)
                if now < at < end:
                    self._push(ep, at, "repay", k)
        if who["route"] == "bust_out":
            span = end - now
            self._push(ep, now + span * rng.uniform(0.1, 0.3), "apply", k)
            self._push(ep, end - rng.uniform(0.5, 1.5) * DAY, "raise", k)
            self._push(ep, end + rng.uniform(0, 6) * HOUR, "bust", k)
        else:
            self._push(ep, end + rng.uniform(0, 24) * HOUR, "proceeds", k)

    def _deposit(self, ep: Episode, item: dict[str, Any]) -> None:
        who = ep.state["ids"][item["who"]]
        out = human.post_deposit(
            self.ch, ep, who["acct"], item["amount"], item["cash"], who["role"]
        )
        who["balance"] += out.amount

    def _pay_in(self, ep: Episode, item: dict[str, Any]) -> None:
        who = ep.state["ids"][item["who"]]
        out = self.ch.credit(
            ep, who["acct"], item["amount"], tx_type="salary", role=who["role"], channel="incoming"
        )
        who["balance"] += out.amount

    def _buy(self, ep: Episode, item: dict[str, Any]) -> None:
        """An everyday purchase at an honest ticket, on the credit card once there is one."""
        ch, rng, who = self.ch, self.rng, ep.state["ids"][item["who"]]
        on_credit = item["credit"] and who["credit_card"] >= 0
        online = item["online"]
        merchant = int(ch.merchants(rng, 1, online=online)[0])
        amount = human.everyday_ticket(ch, rng, merchant, online)
        if on_credit and who["owed"] + amount > 0.3 * who["limit"]:
            return  # keep utilisation low: that is what earns the limit raise
        if not on_credit and amount > who["balance"] // 2:
            return  # no money to spare yet
        card = who["credit_card"] if on_credit else who["card"]
        out = ch.card_payment(
            ep,
            card,
            merchant,
            amount,
            channel="cnp" if online else "pos",
            device=who["device"] if online else -1,
            role=who["role"],
            has_otp=True,  # the fraudster holds the identity's phone and passcodes
        )
        if out.approved:
            if on_credit:
                who["owed"] += amount
            else:
                who["balance"] -= amount

    def _apply(self, ep: Episode, item: dict[str, Any]) -> None:
        ch, who = self.ch, ep.state["ids"][item["who"]]
        prof = ch.world.profile
        ch.event(ep, who["cust"], "login", device=who["device"], account=who["acct"])
        income = float(ch.pop.customers["income"][who["cust"]])
        limit = self._p().credit_limit or max(
            income / 12 * prof.balances.credit_limit_months, prof.balances.credit_limit_min
        )
        who["credit_card"] = ch.issue_card(who["cust"], kind="credit", limit=round(limit, -2))
        who["credit_acct"] = int(ch.pop.cards["account_idx"][who["credit_card"]])
        who["limit"] = -int(ch.bank.floors[who["credit_acct"]])
        ep.accounts.add(who["credit_acct"])
        ep.cards.add(who["card"])

    def _repay(self, ep: Episode, item: dict[str, Any]) -> None:
        """Pay the card back in full on its day each month: the good record the bust-out
        exploits."""
        ch, who = self.ch, ep.state["ids"][item["who"]]
        amount = min(who["owed"], who["balance"])
        if amount <= 0 or who["credit_acct"] < 0 or ch.now >= ep.state["cash_out_at"]:
            return  # (no more repayments once the bust-out has begun)
        out = ch.transfer(
            ep,
            who["acct"],
            who["credit_acct"],
            amount,
            device=who["device"],
            role=who["role"],
            tx_type="card_repayment",
            channel="standing_order",
        )
        if out.approved:
            who["balance"] -= amount
            who["owed"] -= amount

    def _raise(self, ep: Episode, item: dict[str, Any]) -> None:
        ch, rng, who = self.ch, self.rng, ep.state["ids"][item["who"]]
        if who["credit_acct"] < 0:
            return
        raised = round(who["limit"] * self._p().limit_raise / ch.world.profile.minor_per_major, -2)
        ch.set_limit(who["credit_acct"], raised)
        who["limit"] = -int(ch.bank.floors[who["credit_acct"]])
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
                price = min(ch.shop_price(rng, merchant, amount / minor), room)
                out = ch.card_payment(
                    ep,
                    who["credit_card"],
                    merchant,
                    price,
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
            # paid in by people elsewhere (victims, other mules), as they type sums
            amount = human.typed(rng, ch.world.profile, total * part)
            self._push(ep, ch.now + rng.uniform(0, 4) * HOUR, "receive", item["who"], amount=amount)

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
        # The ring's own identity: it keeps little (fees, a float), typed as people type sums.
        prof = ch.world.profile
        amount = human.passed_on(rng, prof, out.amount, human.own_keep(prof))
        self._push(ep, ch.now + delay, "forward", item["who"], amount=amount)

    def _forward(self, ep: Episode, item: dict[str, Any]) -> None:
        ch, who = self.ch, ep.state["ids"][item["who"]]
        if not item.get("in_session"):
            gap = human.open_session(ch, ep, self.rng, who["cust"], who["device"], who["acct"])
            if gap:
                rest = {k: v for k, v in item.items() if k not in ("t", "kind", "who")}
                self._push(ep, ch.now + gap, "forward", item["who"], **rest, in_session=1)
                return
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
