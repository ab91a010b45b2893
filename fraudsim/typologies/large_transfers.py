"""Large honest transfers (a used car, a builder, a gift to family): the look-alike of
laundering hops, which move thousands at a time."""

from __future__ import annotations

from pydantic import Field

from fraudsim.core.units import DAY
from fraudsim.typologies.base import Episode, Process, TypologyParams
from fraudsim.typologies.honest import Honest
from fraudsim.typologies.registry import register


class LargeTransferParams(TypologyParams):
    amount_median: float = Field(
        default=6_000.0,
        gt=0,
        le=1e7,
        description="median transfer, major units (Europol EMMA 9: mule transactions average "
        "about EUR 9,300, so honest large payments must exist at that scale too)",
    )
    amount_sigma: float = Field(default=0.8, ge=0, le=3, description="lognormal spread")
    external_share: float = Field(
        default=0.6, ge=0, le=1, description="share paid to accounts at other banks"
    )
    instalments_max: int = Field(
        default=3, ge=1, le=12, description="a large sum may be paid in a few instalments"
    )
    round_share: float = Field(
        default=0.6,
        ge=0,
        le=1,
        description="prices agreed as round figures (a car at 8,500, a deposit of 2,000); the "
        "rest are invoices to the cent or whole units (choice)",
    )
    new_payee_share: float = Field(
        default=0.7,
        ge=0,
        le=1,
        description="paid to someone added as a payee for it (a seller, a builder); the rest "
        "to a known payee such as family (choice)",
    )


@register("large_transfer.v1")
class LargeTransfer(Honest):
    description = (
        "An honest customer with savings pays a large sum (a car, a builder, a "
        "family gift), sometimes in instalments, to another bank or a customer."
    )
    default_rate_per_day = 0.5
    rows_per_episode = 2.0
    honest_rate = "large_transfers_per_customer_month"
    Params = LargeTransferParams
    params: LargeTransferParams

    def behave(self, ep: Episode) -> Process:
        p, ch, rng = self.params, self.ch, self.rng
        if "payer" not in ep.state:
            price = p.amount_median * float(rng.lognormal(0, p.amount_sigma))
            # Someone who can afford it: the first of a handful of candidates with the money,
            # else the richest, who pays what they can spare (never "all but 10%").
            candidates = [self._someone(min_age=25) for _ in range(8)]
            rooms = [(self._room(ch.checking(c)), c) for c in candidates]
            room, payer = next(
                (r for r in rooms if r[0] >= price * self.minor * 1.1),
                max(rooms, key=lambda r: r[0]),
            )
            if room < price * self.minor * 1.1:
                price = max(room / self.minor * rng.uniform(0.3, 0.8), 1.0)
            to = (
                -1
                if rng.random() < p.external_share
                else ch.checking(self._someone(exclude=(payer,)))
            )
            total = self._typed(price, round_share=p.round_share)
            ep.state.update(
                payer=payer,
                account=ch.checking(payer),
                to=to,
                pieces=self._split(total, int(rng.integers(1, p.instalments_max + 1))),
                new_payee=bool(rng.random() < p.new_payee_share),
            )
        s = ep.state
        if s["new_payee"] and not s.get("payee_added"):
            yield ch.wait(self._at_hour("online_banking"))
            device = ch.own_device(rng, s["payer"])
            ch.event(ep, s["payer"], "new_payee", device=device, account=s["account"])
            s["payee_added"] = True
            yield ch.wait(rng.uniform(60, 3 * 3600))  # then pays, in the same session or later
        while s["pieces"]:
            if s.get("paid_any") or not s["new_payee"]:
                yield ch.wait(self._at_hour("online_banking"))
            piece = s["pieces"].pop(0)
            device = ch.own_device(rng, s["payer"])
            ch.transfer(ep, s["account"], s["to"], piece, device=device, role="none")
            s["paid_any"] = True
            if s["pieces"]:
                yield ch.wait(rng.uniform(1, 10) * DAY)
