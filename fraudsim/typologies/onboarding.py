"""New honest customers opening accounts during the run: the look-alike of synthetic identities
and bust-outs, so that an account's late start does not by itself reveal fraud."""

from __future__ import annotations

from pydantic import Field

from fraudsim.core.units import DAY
from fraudsim.typologies.base import Episode, Process, TypologyParams
from fraudsim.typologies.lookalikes import _Honest
from fraudsim.typologies.registry import register


class NewCustomerParams(TypologyParams):
    credit_card_share: float = Field(
        default=0.4, ge=0, le=1, description="share who also take a credit card"
    )
    credit_limit: float = Field(default=1000.0, gt=0, description="their first credit limit")
    purchases_per_week: float = Field(
        default=3.0, gt=0, le=100, description="card payments a week once settled in"
    )
    first_deposit: float = Field(default=500.0, gt=0, description="median opening deposit")


@register("new_customer.v1")
class NewCustomer(_Honest):
    description = (
        "An honest newcomer opens an account mid-run, pays in a first deposit, "
        "gets cards and lives an ordinary financial life from then on."
    )
    default_rate_per_day = 0.5
    rows_per_episode = 12.0
    Params = NewCustomerParams

    def behave(self, ep: Episode) -> Process:
        p = self.params
        assert isinstance(p, NewCustomerParams)
        ch, rng = self.ch, self.rng
        minor = ch.world.profile.minor_per_major
        if "customer" not in ep.state:
            median = ch.world.profile.population.annual_income_median
            customer, account = ch.open_account(
                age=int(rng.integers(18, 70)),
                income=float(median * rng.lognormal(0, 0.5)),
                sex=str(rng.choice(["F", "M"])),
            )
            card = ch.issue_card(customer, "debit")
            credit = (
                ch.issue_card(customer, "credit", p.credit_limit)
                if rng.random() < p.credit_card_share
                else -1
            )
            ep.state.update(customer=customer, account=account, card=card, credit=credit)
            ch.event(ep, customer, "login", device=ch.device_of(customer), account=account)
            deposit = round(p.first_deposit * rng.lognormal(0, 0.6) * minor)
            if rng.random() < 0.5:
                ch.credit(
                    ep, account, deposit, tx_type="cash_deposit", channel="branch", role="none"
                )
            else:
                ch.credit(
                    ep,
                    account,
                    deposit,
                    tx_type="p2p_transfer",
                    channel="online_banking",
                    role="none",
                )
        s = ep.state
        end = ch.world.config.days * DAY
        while ch.now < end:
            yield ch.wait(rng.exponential(7 * DAY / p.purchases_per_week))
            cards = [s["card"]] + ([s["credit"]] if s["credit"] >= 0 else [])
            card = int(rng.choice(cards))
            online = rng.random() < 0.25
            merchant = int(ch.merchants(rng, 1, online=online)[0])
            amount = round(rng.lognormal(3.0, 0.9) * minor)
            ch.card_payment(
                ep,
                card,
                merchant,
                amount,
                channel="cnp" if online else "pos",
                device=ch.device_of(s["customer"]),
                role="none",
                has_otp=True,
            )
