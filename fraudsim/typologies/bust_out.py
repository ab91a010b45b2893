"""Bust-out: a new credit customer behaves for weeks, gets a higher limit, maxes out, vanishes."""

from __future__ import annotations

import numpy as np
from pydantic import Field, model_validator

from fraudsim.core.units import DAY, HOUR
from fraudsim.typologies.base import Episode, Outcome, Process, Typology, TypologyParams
from fraudsim.typologies.registry import register

MIN_GAP = 480  # seconds between burst attempts: stays under the 8-per-hour velocity rule
ATM_MAX = 500.0  # largest single cash advance, major units
# Resellable goods bought in the burst (first ones that exist in the world are used).
BURST_CATEGORIES = ("electronics", "general_retail", "travel", "apparel")


class BustOutParams(TypologyParams):
    credit_limit: float = Field(
        default=1_000.0, ge=100, le=100_000, description="initial credit limit, major units"
    )
    limit_raise_factor: float = Field(
        default=3.0, gt=1, le=20, description="limit after the raise / initial limit"
    )
    nurture_days: float = Field(
        default=90.0, ge=1, le=720, description="days of good behaviour (compressed to fit)"
    )
    burst_days: float = Field(
        default=2.0, gt=0, le=30, description="days of the spending burst (compressed to fit)"
    )
    purchases_per_week: float = Field(
        default=3.0, gt=0, le=50, description="small card purchases per week while nurturing"
    )
    nurture_amount: float = Field(
        default=25.0, gt=0, le=1_000, description="median nurture purchase, major units"
    )
    repay_every_days: float = Field(
        default=30.0, gt=0, le=90, description="days between full repayments (statements)"
    )
    annual_income: float = Field(
        default=30_000.0, gt=0, le=1_000_000, description="declared income; inflows follow it"
    )
    burst_purchases: int = Field(
        default=12, ge=1, le=200, description="purchases in the final burst"
    )
    burst_atm_share: float = Field(
        default=0.2, ge=0, le=1, description="share of the burst taken as ATM cash advances"
    )
    burst_fill: float = Field(
        default=0.95, gt=0, le=1, description="share of the available credit the burst uses"
    )
    charge_off_days: float = Field(
        default=60.0, gt=0, le=120, description="median days from the burst to the write-off"
    )
    min_age: int = Field(default=21, ge=18, le=99, description="youngest synthetic applicant")
    max_age: int = Field(default=40, ge=18, le=99, description="oldest synthetic applicant")

    @model_validator(mode="after")
    def _ages(self) -> BustOutParams:
        if self.max_age < self.min_age:
            raise ValueError("max_age must be >= min_age")
        return self


@register("bust_out.v1")
class BustOut(Typology):
    """Every row is on the fraudster's own (new) accounts: role "fraudster".

    Timing is in days; when the run is shorter than nurture + burst, the whole timeline is
    compressed to 90% of the days left. The bank learns of it when the card is written off
    after missed payments, `charge_off_days` after the burst: the episode sets its report time
    itself, since the engine's draw counts from the episode start, which is months too early.
    """

    family = "card"
    description = (
        "A new customer with a credit card makes small purchases and repays them for weeks, "
        "gets a higher limit, then maxes the card out in a burst and never repays."
    )
    report_kind = "dispute"  # the write-off is always found (no never-reported share)
    default_rate_per_day = 0.05
    rows_per_episode = 60.0
    Params = BustOutParams

    def expected_rows(self) -> float:
        p = self.params
        assert isinstance(p, BustOutParams)
        cycles = max(2, round(p.nurture_days / p.repay_every_days))
        purchases = max(2 * cycles, round(p.nurture_days / 7 * p.purchases_per_week))
        return purchases + 2 * cycles + p.burst_purchases + 4

    def setup(self) -> None:
        # Work-around: Population.ibans is a lazy cached_property sized on the accounts that
        # exist when first read; read it before any account is opened, or the exported
        # accounts table gets IBANs for the new accounts twice.
        _ = self.ch.pop.ibans

    def run(self, ep: Episode) -> Process:
        p = self.params
        assert isinstance(p, BustOutParams)
        ch = self.ch
        if "plan" not in ep.state:
            self._setup(ep, p)  # before the first yield: the report time must be set now
        plan: list[tuple[int, str, int]] = ep.state["plan"]  # (time, action, amount or index)
        while ep.state["step"] < len(plan):
            t, kind, amount = plan[ep.state["step"]]
            slow = ep.state["slow"] if kind in ("burst", "cash") else 0
            yield ch.wait(t + slow - ch.now)
            self._act(ep, p, kind, amount)
            ep.state["step"] += 1

    # -- planning ----------------------------------------------------------------------------

    def _setup(self, ep: Episode, p: BustOutParams) -> None:
        ch, rng = self.ch, self.rng
        minor = ch.world.profile.minor_per_major
        age = int(rng.integers(p.min_age, p.max_age + 1))
        customer, checking = ch.open_account(
            age, p.annual_income, sex="F" if rng.random() < 0.5 else "M"
        )
        card = ch.issue_card(customer, "credit", p.credit_limit)
        credit = int(ch.pop.cards["account_idx"][card])
        # Compress the whole story into the days left when the run is shorter than it.
        left = ch.world.config.days * DAY - ch.now
        gap_days = 1.0  # between the limit raise and the burst
        scale = min(1.0, 0.9 * left / ((p.nurture_days + gap_days + p.burst_days) * DAY))
        nurture = p.nurture_days * DAY * scale
        cycles = max(2, round(p.nurture_days / p.repay_every_days))
        n_buys = max(2 * cycles, round(p.nurture_days / 7 * p.purchases_per_week))
        start = ch.now
        plan: list[tuple[int, str, int]] = []
        inflow = int(p.annual_income / 12 * (p.nurture_days / cycles) / 30 * minor)
        hours = np.asarray(ch.world.profile.weights("calendar", "hour_weights"))
        first_weekday = ch.world.config.start_date.weekday()
        for k in range(cycles):
            # Salary lands and the standing order repays in the early morning, as everyone's.
            c0 = start + int((k + 0.05) * nurture / cycles)
            plan.append(
                (_business_day(_at_hour(rng, c0, 2, 5, start), first_weekday), "salary", inflow)
            )
            c1 = start + int((k + 1) * nurture / cycles) - DAY // 2
            plan.append((_business_day(_at_hour(rng, c1, 4, 5, start), first_weekday), "repay", 0))
        # Purchases spread over every statement cycle, so each cycle has something to repay.
        cycle_of = np.arange(n_buys) % cycles
        for t in (cycle_of + rng.uniform(0.1, 0.85, n_buys)) * nurture / cycles:
            # Small purchases at the hours honest customers shop.
            hour = int(rng.choice(24, p=hours))
            at = _at_hour(rng, start + int(t), hour, hour + 1, start)
            amount = int(round(p.nurture_amount * rng.lognormal(0, 0.6) * minor))
            plan.append((at, "buy", max(amount, minor)))
        # The limit raise comes after the good record (any purchase left owing is subtracted
        # from the burst budget).
        raise_at = max(t for t, _, _ in plan) + int(rng.uniform(0.1, 0.5) * DAY * scale) + 60
        plan.append((raise_at, "raise", 0))
        burst_at = raise_at + int(gap_days * DAY * scale)
        # Cash advances of at most ATM_MAX each; their count is fixed now, amounts at the burst.
        new_limit = p.credit_limit * p.limit_raise_factor
        n_cash = int(np.ceil(new_limit * p.burst_fill * p.burst_atm_share / ATM_MAX))
        n = p.burst_purchases + n_cash
        span = max(p.burst_days * DAY * scale, (MIN_GAP + 120) * n)
        gaps = MIN_GAP + (span - MIN_GAP * n) * rng.dirichlet(np.ones(n))
        steps = [("burst", j) for j in range(p.burst_purchases)] + [
            ("cash", j) for j in range(n_cash)
        ]
        for t, k in zip(np.cumsum(gaps).tolist(), rng.permutation(n).tolist(), strict=True):
            plan.append((burst_at + int(t), *steps[k]))
        end = burst_at + int(span) + 600
        plan.append((end, "vanish", 0))
        plan.sort(key=lambda x: x[0])
        ep.report_at = end + int(p.charge_off_days * DAY * rng.lognormal(0, 0.3))
        ep.state.update(
            customer=customer,
            checking=checking,
            card=card,
            credit=credit,
            region=int(ch.pop.customers["region"][customer]),
            plan=plan,
            step=0,
            owed=0,  # approved card spend not yet repaid, minor units
            cash=0,  # inflows minus repayments on checking
            slow=0,  # extra seconds added to burst steps after a velocity decline
        )

    # -- actions -----------------------------------------------------------------------------

    def _act(self, ep: Episode, p: BustOutParams, kind: str, amount: int) -> None:
        ch, s = self.ch, ep.state
        device = ch.device_of(s["customer"])
        if kind == "salary":
            ch.credit(ep, s["checking"], amount, tx_type="salary", role="fraudster")
            s["cash"] += amount
        elif kind == "buy":
            self._purchase(ep, amount, big=False)
        elif kind == "repay" and s["owed"] > 0:
            # A full, on-time repayment: what the issuer's scoring rewards.
            outcome = ch.transfer(
                ep,
                s["checking"],
                s["credit"],
                min(s["owed"], s["cash"]),
                tx_type="card_repayment",
                channel="standing_order",
                role="fraudster",
            )
            if outcome.approved:
                s["cash"] -= min(s["owed"], s["cash"])
                s["owed"] -= outcome.amount
        elif kind == "raise":
            ch.event(ep, s["customer"], "login", device=device, account=s["credit"])
            ch.set_limit(s["credit"], p.credit_limit * p.limit_raise_factor)
        elif kind in ("burst", "cash"):
            if "amounts" not in s:
                self._burst_amounts(ep, p)
            amount = s["amounts"][kind][amount]  # here `amount` is the step's index
            if kind == "cash":
                outcome = ch.atm_withdrawal(ep, s["card"], amount, role="fraudster")
                if outcome.approved:
                    s["owed"] += amount
            else:
                self._purchase(ep, amount, big=True)
        elif kind == "vanish":
            # The money on checking leaves too (bar some change); nothing is ever repaid.
            change = int(self.rng.uniform(0.5, 40.0) * ch.world.profile.minor_per_major)
            if s["cash"] > change:
                out = s["cash"] - change
                ch.transfer(ep, s["checking"], -1, out, device=device, role="fraudster")
                s["cash"] = change

    def _purchase(self, ep: Episode, amount: int, big: bool) -> None:
        ch, rng, s = self.ch, self.rng, ep.state
        online = rng.random() < (0.6 if big else 0.3)
        merchant = self._merchant(online, big, s["region"])
        if merchant < 0:
            online, merchant = True, self._merchant(True, big, None)
        outcome = ch.card_payment(
            ep,
            s["card"],
            merchant,
            amount,
            channel="cnp" if online else "pos",
            device=ch.device_of(s["customer"]) if online else -1,
            role="fraudster",
            has_otp=True,  # their own card and phone: step-up passes
        )
        if outcome.approved:
            s["owed"] += amount

    def _burst_amounts(self, ep: Episode, p: BustOutParams) -> None:
        """Split what is left of the raised limit over the burst's purchases and cash."""
        s, rng = ep.state, self.rng
        minor = self.ch.world.profile.minor_per_major
        limit = int(round(p.credit_limit * p.limit_raise_factor * minor))
        budget = int((limit - s["owed"]) * p.burst_fill)
        n_cash = sum(1 for step in s["plan"] if step[1] == "cash")
        note = 10 * minor
        per_cash = int(budget * p.burst_atm_share / max(n_cash, 1)) // note * note
        cash = [min(per_cash, int(ATM_MAX * minor))] * n_cash
        weights = rng.dirichlet(np.full(p.burst_purchases, 3.0))
        buys = np.floor(weights * (budget - sum(cash))).astype(int).tolist()
        s["amounts"] = {"burst": [max(b, minor) for b in buys], "cash": cash}

    def _merchant(self, online: bool, big: bool, region: int | None) -> int:
        ch, rng = self.ch, self.rng
        categories = BURST_CATEGORIES if big else (None,)
        for category in categories:
            try:
                return int(ch.merchants(rng, 1, online, category, None if online else region)[0])
            except ValueError:
                continue
        return -1 if not online else int(ch.merchants(rng, 1, online=True)[0])

    # -- adaptation --------------------------------------------------------------------------

    def on_declined(self, ep: Episode, outcome: Outcome) -> None:
        if outcome.reason == "rule":
            # The velocity rule fired: space the rest of the burst out (and keep the budget).
            ep.state["slow"] = ep.state.get("slow", 0) + HOUR
            ep.adaptations += 1

    def on_interrupt(self, ep: Episode, cause: str) -> bool:
        # The bank froze or blocked the account: the identity is burnt, the fraudster is gone.
        return False


def _business_day(t: int, first_weekday: int) -> int:
    """Salaries and standing orders run on business days, as honest ones do: a Saturday or
    Sunday moves to the Monday after. `first_weekday` is the scenario's first weekday."""
    weekday = (t // DAY + first_weekday) % 7
    return t + (7 - weekday) * DAY if weekday >= 5 else t


def _at_hour(rng: np.random.Generator, t: int, lo: float, hi: float, after: int) -> int:
    """A time between hours `lo` and `hi` on the day of `t`, moved a day on if not after `after`."""
    out = t - t % DAY + int(rng.uniform(lo, hi) * HOUR)
    return out if out > after else out + DAY
