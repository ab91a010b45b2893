"""Account takeover: phishing or SIM swap, a login from a new device, credential and phone
changes, a new payee, then the balance drained to mules within hours."""

from __future__ import annotations

from pydantic import Field

from fraudsim.typologies.base import Episode, Process, Typology, TypologyParams
from fraudsim.typologies.registry import register


class AccountTakeoverParams(TypologyParams):
    drain_share: float = Field(default=0.85, gt=0, le=1, description="share of available funds")
    transfers: int = Field(default=3, ge=1, le=50, description="transfers to mules")
    mules: int = Field(default=2, ge=1, le=20, description="mule accounts receiving funds")
    sim_swap_share: float = Field(
        default=0.3, ge=0, le=1, description="share of takeovers via SIM swap (phone change)"
    )
    hours_to_drain: float = Field(default=2.0, gt=0, description="mean hours login -> drain end")
    mule_forward_hours: float = Field(
        default=3.0, gt=0, description="mean hours before a mule forwards the money"
    )
    min_victim_age: int = Field(default=18, ge=18, le=99)


@register("account_takeover.v1")
class AccountTakeover(Typology):
    family = "account"
    description = (
        "Login from a new device, password and phone change, new payee, balance "
        "drained by transfers to mules within hours; mules forward it out."
    )
    report_kind = "account"
    default_rate_per_day = 0.2
    rows_per_episode = 6.0
    Params = AccountTakeoverParams

    def expected_rows(self) -> float:
        p = self.params
        assert isinstance(p, AccountTakeoverParams)
        return 2.0 * p.transfers

    def run(self, ep: Episode) -> Process:
        p = self.params
        assert isinstance(p, AccountTakeoverParams)
        ch, rng = self.ch, self.rng
        fraud = ch.world.profile.fraud
        if "victim" not in ep.state:
            victim = int(ch.sample_customers(rng, 1, min_age=p.min_victim_age)[0])
            # Mules are other people: never the victim themself.
            mules = [
                int(m)
                for m in ch.sample_customers(rng, p.mules + 1, max_age=fraud.mule_max_age)
                if int(m) != victim
            ][: p.mules]
            ep.state.update(
                victim=victim,
                mules=[ch.checking(int(m)) for m in mules],
                device=ch.new_device(),
                sim_swap=bool(rng.random() < p.sim_swap_share),
                sent=0,
                # Learnt from detector blocks: a slower, partial drain in more pieces.
                drain=p.drain_share * (1.0 - 0.5 * self.learnt),
                pace=1.0 + 4.0 * self.learnt,
                transfers=p.transfers + round(2 * self.learnt),
            )
            if self.evades():
                # ... and a remote-access tool on the victim's own phone, not a new device.
                ep.state["device"] = ch.device_of(victim)
            ep.victims.add(victim)
        victim, device = ep.state["victim"], ep.state["device"]
        account = ch.checking(victim)
        if ep.state["sent"] == 0:
            ch.event(ep, victim, "login", device=device, account=account)
            yield ch.wait(rng.exponential(300))
            ch.event(ep, victim, "password_reset", device=device, account=account)
            if ep.state["sim_swap"]:
                ch.event(ep, victim, "phone_change", device=device, account=account)
            yield ch.wait(rng.exponential(300))
            for mule in ep.state["mules"]:
                ch.event(ep, victim, "new_payee", device=device, account=account)
                ep.accounts.add(mule)
        available = int(ch.bank.balances[account] - ch.bank.floors[account])
        total = int(max(available, 0) * ep.state.get("drain", p.drain_share))
        transfers = ep.state.get("transfers", p.transfers)
        received: dict[int, int] = {}
        while ep.state["sent"] < transfers and total > 0:
            share = total // max(transfers - ep.state["sent"], 1)
            mule = ep.state["mules"][ep.state["sent"] % len(ep.state["mules"])]
            hours = p.hours_to_drain * ep.state.get("pace", 1.0)
            yield ch.wait(rng.exponential(hours * 3600 / transfers))
            outcome = ch.transfer(ep, account, mule, share, device=device, role="victim")
            ep.state["sent"] += 1
            total -= share
            if outcome.approved:
                received[mule] = received.get(mule, 0) + share
        # Mules forward nearly everything out of the bank within hours.
        for mule, amount in sorted(received.items()):
            yield ch.wait(rng.exponential(p.mule_forward_hours * 3600))
            ch.transfer(
                ep,
                mule,
                -1,
                int(amount * rng.uniform(0.9, 0.97)),
                device=ch.device_of(int(ch.pop.accounts["customer_idx"][mule])),
                role="mule",
            )
