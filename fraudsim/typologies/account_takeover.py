"""Account takeover: phishing or SIM swap, a login from a new device, credential and phone
changes, a new payee, then the balance drained to mules within hours."""

from __future__ import annotations

from pydantic import Field

from fraudsim.core.units import HOUR
from fraudsim.typologies import human
from fraudsim.typologies.base import Episode, Process, Typology, TypologyParams
from fraudsim.typologies.registry import register


class AccountTakeoverParams(TypologyParams):
    # choice: takeovers leave some money behind (a buffer the script keeps, pending debits)
    drain_share: float = Field(
        default=0.85, gt=0, le=1, description="mean share of available funds taken"
    )
    transfers: int = Field(default=3, ge=1, le=50, description="most transfers to mules")
    # choice: daily online-transfer limits of European banks are commonly 1,000-5,000 units
    max_transfer: float = Field(
        default=2_500.0, gt=0, le=1e6, description="median most one transfer moves (major units)"
    )
    mules: int = Field(default=2, ge=1, le=20, description="mule accounts receiving funds")
    # Cifas Fraudscape 2025: unauthorised SIM swaps ~3,000 vs >74,000 facility takeovers (UK
    # 2024); SIM-swap variants kept at 30% so that the variant shows (choice)
    sim_swap_share: float = Field(
        default=0.3, ge=0, le=1, description="share of takeovers via SIM swap (phone change)"
    )
    # choice: fraudsters often leave the password alone so the victim notices later
    password_change_share: float = Field(
        default=0.6, ge=0, le=1, description="share of phishing takeovers changing the password"
    )
    hours_to_drain: float = Field(default=2.0, gt=0, description="mean hours login -> drain end")
    mule_forward_hours: float = Field(
        default=3.0, gt=0, description="mean hours before a mule forwards the money"
    )
    min_victim_age: int = Field(default=18, ge=18, le=99)
    # Cifas Fraudscape 2025: over-61s = 25% of identity-fraud victims (UK 2024)
    older_share: float = Field(default=0.25, ge=0, le=1, description="share of victims aged 61+")


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
    params: AccountTakeoverParams

    def expected_rows(self) -> float:
        return 2.0 * self.params.transfers

    def _begin(self, ep: Episode) -> None:
        p, ch, rng = self.params, self.ch, self.rng
        ages = human.victim_ages(p.older_share)
        victim = int(ch.sample_customers(rng, 1, min_age=p.min_victim_age, ages=ages)[0])
        mules = human.recruit(ch, rng, p.mules, exclude={victim})  # never the victim
        if not mules:  # (a tiny world may run out of recruits: then anyone else)
            mules = [int(c) for c in ch.sample_customers(rng, 2) if int(c) != victim][:1]
        minor = ch.world.profile.minor_per_major
        # The most the fraudster moves at once: what they believe the bank lets through.
        cap = human.typed(
            rng, ch.world.profile, p.max_transfer * minor * rng.lognormal(0, 0.4), round_share=1
        )
        k = 20.0  # how tightly episodes' drained shares gather around the mean (choice)
        share = float(rng.beta(p.drain_share * k, max(1 - p.drain_share, 0.01) * k))
        ep.state.update(
            victim=victim,
            mules=[ch.checking(m) for m in mules],
            device=ch.new_device(),
            sim_swap=bool(rng.random() < p.sim_swap_share),
            reset=bool(rng.random() < p.password_change_share),
            sent=0,
            pieces=None,
            cap=cap,
            # Learnt from detector blocks: a slower, partial drain in more pieces.
            drain=share * (1.0 - 0.5 * self.learnt),
            pace=1.0 + 4.0 * self.learnt,
            transfers=p.transfers + round(2 * self.learnt),
            last=ch.now,
        )
        if self.evades():
            # ... and a remote-access tool on the victim's own phone, not a new device.
            ep.state["device"] = ch.device_of(victim)
        ep.victims.add(victim)

    def run(self, ep: Episode) -> Process:
        p, ch, rng = self.params, self.ch, self.rng
        prof = ch.world.profile
        if "victim" not in ep.state:
            self._begin(ep)
        st = ep.state
        victim, device = st["victim"], st["device"]
        account = ch.checking(victim)
        if st["pieces"] is None:
            # Each step takes a person's time (the honest session model): the new device is
            # bound as the app binds any new phone, then the profile is changed and payees set
            # up a minute or more apart.
            ch.event(ep, victim, "login", device=device, account=account)
            if device != ch.device_of(victim):
                # (an app step: often the same second, as for honest new phones)
                gap = human.app_step(rng, prof)
                if gap:
                    yield ch.wait(gap)
                ch.event(ep, victim, "device_change", device=device, account=account)
            if st["sim_swap"]:
                # The number moves to the fraudster's SIM first: codes now reach them.
                yield ch.wait(human.session_gap(rng, prof))
                ch.event(ep, victim, "phone_change", device=device, account=account)
            if st["sim_swap"] or st["reset"]:
                yield ch.wait(human.session_gap(rng, prof))
                ch.event(ep, victim, "password_reset", device=device, account=account)
                auto = rng.random() < prof.sessions.password_reset_auto_login_share
                gap = human.app_step(rng, prof) if auto else human.human_step(rng, prof)
                if gap:
                    yield ch.wait(gap)
                ch.event(ep, victim, "login", device=device, account=account)
            for mule in st["mules"]:
                # typing in a payee's details: a minute or two
                yield ch.wait(human.session_gap(rng, prof) + rng.exponential(30))
                ch.event(ep, victim, "new_payee", device=device, account=account)
                ep.accounts.add(mule)
            available = int(ch.bank.balances[account] - ch.bank.floors[account])
            total = int(max(available, 0) * st["drain"])
            st["pieces"] = human.drain_pieces(rng, prof, total, st["transfers"], st["cap"])
            st["last"] = ch.now
        received: dict[int, int] = st.setdefault("received", {})
        pieces = st["pieces"]
        while st["sent"] < len(pieces):
            amount = pieces[st["sent"]]
            mule = st["mules"][st["sent"] % len(st["mules"])]
            if st["sent"] == 0:
                # The first payment goes minutes after the new payee: the real signal.
                yield ch.wait(human.session_gap(rng, prof) + rng.exponential(5 * 60))
            else:
                hours = p.hours_to_drain * st["pace"]
                yield ch.wait(rng.exponential(hours * HOUR / len(pieces)) + 60)
                if ch.now - st["last"] > HOUR // 2:
                    # A new banking session: the login a few human steps before the payment.
                    ch.event(ep, victim, "login", device=device, account=account)
                    yield ch.wait(human.session_gap(rng, prof))
            outcome = ch.transfer(ep, account, mule, amount, device=device, role="victim")
            st["sent"] += 1
            st["last"] = ch.now
            if outcome.approved:
                received[mule] = received.get(mule, 0) + amount
        # Mules pass it on out of the bank within hours, keeping their cut.
        for mule in sorted(received):
            yield ch.wait(rng.exponential(p.mule_forward_hours * HOUR) + rng.uniform(300, 1800))
            owner = int(ch.pop.accounts["customer_idx"][mule])
            phone = ch.device_of(owner)
            gap = human.open_session(ch, ep, rng, owner, phone, mule)
            if gap:
                yield ch.wait(gap)
            out = human.passed_on(rng, prof, received.pop(mule))
            ch.transfer(ep, mule, -1, out, device=phone, role="mule")
