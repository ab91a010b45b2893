"""Large honest transfers (a used car, a builder, a gift to family): the look-alike of
laundering hops, which move thousands at a time."""

from __future__ import annotations

from pydantic import Field

from fraudsim.typologies.base import Episode, Process, TypologyParams
from fraudsim.typologies.lookalikes import _Honest
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


@register("large_transfer.v1")
class LargeTransfer(_Honest):
    description = (
        "An honest customer with savings pays a large sum (a car, a builder, a "
        "family gift), sometimes in instalments, to another bank or a customer."
    )
    default_rate_per_day = 0.5
    rows_per_episode = 3.0
    Params = LargeTransferParams

    def behave(self, ep: Episode) -> Process:
        p = self.params
        assert isinstance(p, LargeTransferParams)
        ch, rng = self.ch, self.rng
        minor = ch.world.profile.minor_per_major
        if "payer" not in ep.state:
            # Someone who can afford it: the richest of a handful of candidates.
            candidates = ch.sample_customers(rng, 8, min_age=25)
            payer = int(max(candidates, key=lambda c: ch.bank.balances[ch.checking(int(c))]))
            account = ch.checking(payer)
            room = int(ch.bank.balances[account] - ch.bank.floors[account])
            total = min(
                round(p.amount_median * rng.lognormal(0, p.amount_sigma) * minor),
                max(int(room * 0.9), minor),
            )
            to = (
                -1
                if rng.random() < p.external_share
                else ch.checking(int(ch.sample_customers(rng, 1)[0]))
            )
            pieces = int(rng.integers(1, p.instalments_max + 1))
            ep.state.update(payer=payer, account=account, to=to, left=total, pieces=pieces)
        s = ep.state
        device = ch.device_of(s["payer"])
        if s["to"] >= 0 and not s.get("payee_added"):
            ch.event(ep, s["payer"], "new_payee", device=device, account=s["account"])
            s["payee_added"] = True
        while s["pieces"] > 0 and s["left"] > 0:
            yield ch.wait(self._until())
            piece = s["left"] if s["pieces"] == 1 else round(s["left"] / s["pieces"])
            ch.transfer(ep, s["account"], s["to"], piece, device=device, role="none")
            s["left"] -= piece
            s["pieces"] -= 1
            if s["pieces"]:
                yield ch.wait(rng.uniform(1, 10) * 86_400)
