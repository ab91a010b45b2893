"""Mule network: a ring's young recruits receive fraud proceeds and pass them on within hours,
fanning out to a second layer, wiring them out of the bank or taking cash at ATMs."""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field

from fraudsim.core.units import HOUR
from fraudsim.typologies import human
from fraudsim.typologies.base import Episode, Outcome, PlannedTypology, Ring, TypologyParams
from fraudsim.typologies.registry import register


class MuleNetworkParams(TypologyParams):
    first_layer: int = Field(default=3, ge=1, le=50, description="mules receiving the proceeds")
    second_layer: int = Field(
        default=2, ge=0, le=50, description="mules the first layer fans out to (0: none)"
    )
    amount: float = Field(
        default=6000.0, gt=0, le=1e7, description="median proceeds per episode, major units"
    )
    amount_sigma: float = Field(default=0.6, gt=0, le=3, description="lognormal sigma of amount")
    batches: int = Field(
        default=2, ge=1, le=20, description="pay-ins of proceeds per first-layer mule"
    )
    arrival_hours: float = Field(
        default=24.0, gt=0, le=24 * 30, description="hours over which the proceeds arrive"
    )
    forward_hours: float = Field(
        default=2.0, gt=0, le=24, description="mean hours before a mule passes money on"
    )
    cut: float | None = Field(
        default=None,
        ge=0,
        le=0.5,
        description="mean share a mule keeps (None: the profile's mule commission, ~5-20%)",
    )
    fan_out_share: float = Field(
        default=0.6, ge=0, le=1, description="share of pay-ins a first-layer mule fans out"
    )
    cash_share: float = Field(
        default=0.3, ge=0, le=1, description="share of cash-outs taken at ATMs (else wired out)"
    )
    atm_max: float = Field(
        default=500.0, gt=0, le=5000, description="largest ATM withdrawal, major units"
    )
    controlled_share: float = Field(
        default=0.3, ge=0, le=1, description="share of mules whose banking the ring runs itself"
    )
    reuse_share: float = Field(
        default=0.3, ge=0, le=1, description="chance an episode reuses an earlier ring's mules"
    )


@register("mule_network.v1")
class MuleNetwork(PlannedTypology):
    plan_actor_key = "mule"
    family = "account"
    description = (
        "A ring's young mules receive fraud proceeds and pass nearly all of it on within hours: "
        "fan-out to a second layer, transfers out of the bank or ATM cash."
    )
    report_kind = "aml"
    default_rate_per_day = 0.1
    rows_per_episode = 18.0
    Params = MuleNetworkParams

    def _p(self) -> MuleNetworkParams:
        p = self.params
        assert isinstance(p, MuleNetworkParams)
        return p

    def setup(self) -> None:
        self.rings: list[Ring] = []

    def expected_rows(self) -> float:
        p = self._p()
        cash_out = 1 + p.cash_share * 0.5  # a wire, or one or two ATM withdrawals
        fan = p.fan_out_share if p.second_layer else 0.0
        per_pay_in = 1 + fan * (p.second_layer + 1) / 2 * (1 + cash_out) + (1 - fan) * cash_out
        return p.first_layer * p.batches * per_pay_in

    # -- the ring and its mules ----------------------------------------------------------------

    def _recruit(self, ep: Episode, layer: int, customer: int | None = None) -> int:
        """Add a mule to the episode (a new recruit unless `customer` is given); its index."""
        ch, rng, st = self.ch, self.rng, ep.state
        ring = self.rings[st["ring"]]
        if customer is None:
            # A recruit at the ages mules are recruited (the profile's shares by age).
            fresh = human.recruit(ch, rng, 1, exclude={m["cust"] for m in st["mules"]})
            customer = fresh[0] if fresh else int(ch.sample_customers(rng, 1)[0])
        if customer not in ring.members:
            ring.members.append(customer)
            ring.mule_accounts.append(ch.checking(customer))
        account = ch.checking(customer)
        cards = ch.cards_of(customer)
        debit = [int(c) for c in cards if ch.pop.cards["account_idx"][c] == account]
        controlled = rng.random() < self._p().controlled_share
        st["mules"].append(
            {
                "cust": customer,
                "acct": account,
                "card": debit[0] if debit else -1,
                "device": ring.devices[0] if controlled else ch.device_of(customer),
                "controlled": controlled,
                "layer": layer,
                "dead": False,
                "payees": [],
            }
        )
        return len(st["mules"]) - 1

    def _prepare(self, ep: Episode) -> None:
        ch, rng, p = self.ch, self.rng, self._p()
        minor = ch.world.profile.minor_per_major
        live = [
            i
            for i, r in enumerate(self.rings)
            if len(r.members) >= p.first_layer + p.second_layer
            and not any(self._frozen(ch.checking(c)) for c in r.members)
        ]
        reuse = bool(live) and rng.random() < p.reuse_share
        if reuse:
            index = int(live[int(rng.integers(0, len(live)))])
        else:
            ring = Ring(ch.world, self.name)
            ring.devices.append(ch.new_device())
            self.rings.append(ring)
            index = len(self.rings) - 1
        ep.state.update(ring=index, mules=[], plan=[], pace=1.0)
        old = list(self.rings[index].members)
        for k in range(p.first_layer + p.second_layer):
            layer = 1 if k < p.first_layer else 2
            self._recruit(ep, layer, old[k] if reuse and k < len(old) else None)
        total = rng.lognormal(np.log(p.amount), p.amount_sigma) * minor
        first = [i for i, m in enumerate(ep.state["mules"]) if m["layer"] == 1]
        n = len(first) * p.batches
        parts = rng.dirichlet(np.full(n, 4.0)) * total
        times = np.sort(rng.uniform(0, p.arrival_hours * HOUR, n))
        prof = ch.world.profile
        for j, (t, part) in enumerate(zip(times.tolist(), parts.tolist(), strict=True)):
            # Proceeds are paid in by people elsewhere (scam victims, other mules), as typed.
            amount = human.typed(rng, prof, part)
            self._push(ep, ch.now + t, "arrive", first[j % len(first)], amount=amount)

    def _skip(self, ep: Episode, item: dict[str, Any]) -> bool:
        return bool(ep.state["mules"][item["mule"]]["dead"])

    def _later(self) -> float:
        """Seconds before a mule acts on money that came in: within hours."""
        rng, p = self.rng, self._p()
        return min(rng.exponential(p.forward_hours * HOUR), 4 * p.forward_hours * HOUR) + (
            rng.uniform(600, 1800)
        )

    def _keep(self, amount: int) -> int:
        """What the mule passes on after taking its cut (drawn per mule and sum)."""
        return human.passed_on(self.rng, self.ch.world.profile, amount, self._p().cut)

    def _arrive(self, ep: Episode, item: dict[str, Any]) -> None:
        """Proceeds land from outside the bank (scam victims elsewhere, other mules)."""
        mule = ep.state["mules"][item["mule"]]
        out = self.ch.credit(
            ep,
            mule["acct"],
            item["amount"],
            tx_type="p2p_transfer",
            channel="online_banking",
            role="mule",
        )
        self._push(
            ep, self.ch.now + self._later(), "pass", item["mule"], amount=self._keep(out.amount)
        )

    def _send(self, ep: Episode, item: dict[str, Any]) -> None:
        """One transfer (to another mule, or out of the bank with `to` = -1), in a banking
        session as people make one: a login on the mule's phone (the ring's, for a mule whose
        banking it runs), a new payee set up a few human steps later, then the payment."""
        ch, rng, st = self.ch, self.rng, ep.state
        prof = ch.world.profile
        mule = st["mules"][item["mule"]]
        if item["to"] >= 0 and st["mules"][item["to"]]["dead"]:
            # the second-layer mule was caught meanwhile: another one, or straight out
            alive = [i for i, m in enumerate(st["mules"]) if m["layer"] == 2 and not m["dead"]]
            item = {**item, "to": alive[0] if alive else -1}
        to = item["to"] if item["to"] < 0 else st["mules"][item["to"]]["acct"]
        stage = item.get("stage", "start")
        if stage == "start" and to not in mule["payees"]:
            ch.event(ep, mule["cust"], "login", device=mule["device"], account=mule["acct"])
            prefilled = rng.random() < prof.sessions.prefilled_step_share
            gap = human.app_step(rng, prof) if prefilled else human.session_gap(rng, prof)
            self._push(ep, ch.now + gap, "send", item["mule"], **{**_rest(item), "stage": "payee"})
            return
        if stage == "payee":
            ch.event(ep, mule["cust"], "new_payee", device=mule["device"], account=mule["acct"])
            mule["payees"].append(to)
            wait = human.session_gap(rng, prof)
            self._push(ep, ch.now + wait, "send", item["mule"], **{**_rest(item), "stage": "pay"})
            return
        if stage == "start":
            gap = human.open_session(ch, ep, rng, mule["cust"], mule["device"], mule["acct"])
            if gap:
                self._push(
                    ep, ch.now + gap, "send", item["mule"], **{**_rest(item), "stage": "pay"}
                )
                return
        out = ch.transfer(ep, mule["acct"], to, item["amount"], device=mule["device"], role="mule")
        if out.approved and item["to"] >= 0:
            self._push(
                ep, ch.now + self._later(), "pass", item["to"], amount=self._keep(item["amount"])
            )

    def _pass(self, ep: Episode, item: dict[str, Any]) -> None:
        """Pass money on: fan out to second-layer mules, or cash it out."""
        rng, p, st, now = self.rng, self._p(), ep.state, self.ch.now
        mule = st["mules"][item["mule"]]
        second = [i for i, m in enumerate(st["mules"]) if m["layer"] == 2 and not m["dead"]]
        if mule["layer"] == 1 and second and rng.random() < p.fan_out_share:
            k = int(rng.integers(1, len(second) + 1))
            targets = rng.choice(second, size=k, replace=False).tolist()
            shares = rng.dirichlet(np.full(k, 4.0)).tolist()
            left = item["amount"]
            for j, (target, share) in enumerate(zip(targets, shares, strict=True)):
                # Typed sums to all but the last, who gets what is left.
                typed = human.typed(rng, self.ch.world.profile, item["amount"] * share, True)
                amount = left if j == k - 1 else min(typed, left)
                left -= amount
                if amount <= 0:
                    break
                self._push(
                    ep,
                    now + j * rng.uniform(60, 300),
                    "send",
                    item["mule"],
                    to=int(target),
                    amount=amount,
                )
        elif mule["card"] >= 0 and rng.random() < p.cash_share:
            self._push(ep, now, "cash", item["mule"], amount=item["amount"], done=0)
        else:
            self._push(ep, now, "send", item["mule"], to=-1, amount=item["amount"])

    def _cash(self, ep: Episode, item: dict[str, Any]) -> None:
        """Cash at ATMs, a few withdrawals minutes apart; what is beyond that is wired out."""
        ch, rng, p = self.ch, self.rng, self._p()
        mule = ep.state["mules"][item["mule"]]
        minor = ch.world.profile.minor_per_major
        unit, top = 10 * minor, int(p.atm_max * minor)
        amount = item["amount"]
        if item["done"] >= 3 or amount < unit or mule["card"] < 0:
            if amount >= unit:
                self._push(ep, ch.now, "send", item["mule"], to=-1, amount=amount)
            return
        take = min(amount, top) // unit * unit
        out = ch.atm_withdrawal(ep, mule["card"], take, role="mule")
        left = amount - take if out.approved else amount
        if not out.approved and out.reason == "card_blocked":
            mule["card"] = -1  # the card is gone: the rest goes by transfer
        gap = rng.uniform(300, 1200) * ep.state["pace"]
        self._push(ep, ch.now + gap, "cash", item["mule"], amount=left, done=item["done"] + 1)

    # -- adaptation ----------------------------------------------------------------------------

    def _frozen(self, account: int) -> bool:
        return bool(self.ch.bank.account_frozen_at[account] <= self.ch.now)

    def _replace_burnt(self, ep: Episode) -> None:
        """Mules whose account is frozen are dropped; fresh recruits take their pay-ins."""
        st = ep.state
        for i, mule in enumerate(list(st["mules"])):
            if mule["dead"] or not self._frozen(mule["acct"]):
                continue
            mule["dead"] = True
            pending = [x for x in st["plan"] if x["mule"] == i and x["kind"] == "arrive"]
            if pending:
                new = self._recruit(ep, mule["layer"])
                for x in pending:
                    x["mule"] = new
                ep.adaptations += 1

    def on_declined(self, ep: Episode, outcome: Outcome) -> None:
        if outcome.reason == "account_frozen":
            self._replace_burnt(ep)
        elif outcome.reason == "rule":
            ep.state["pace"] = ep.state.get("pace", 1.0) * 2  # slower at the ATM
            ep.adaptations += 1

    def on_interrupt(self, ep: Episode, cause: str) -> bool:
        if "mules" not in ep.state:
            return False
        self._replace_burnt(ep)
        return any(not ep.state["mules"][x["mule"]]["dead"] for x in ep.state["plan"])


def _rest(item: dict[str, Any]) -> dict[str, Any]:
    """A plan item's own fields, to schedule it again."""
    return {k: v for k, v in item.items() if k not in ("t", "kind", "mule")}
