"""Subscriptions: a digital service charges a card a small fixed price on a fixed day each
month (the honest look-alike of card testing's tiny amounts)."""

from __future__ import annotations

import calendar
import datetime as dt
import functools
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from fraudsim.core.units import DAY, HOUR
from fraudsim.typologies.base import Episode, Process, TypologyParams
from fraudsim.typologies.honest import Honest
from fraudsim.typologies.registry import register

# Monthly prices of digital services (apps, cloud storage, music, video, news), choice.
PRICES = (0.99, 1.99, 2.99, 3.99, 4.99, 5.99, 6.99, 7.99, 9.99, 10.99, 12.99, 14.99, 17.99)
PRICE_WEIGHTS = (10, 6, 8, 4, 9, 5, 4, 5, 9, 6, 6, 4, 3)


class SubscriptionParams(TypologyParams):
    period: Literal["month", "week"] = Field(
        default="month", description="charged on the same day each month, or each week"
    )
    prices: tuple[float, ...] = Field(
        default=PRICES, min_length=1, description="price list, major units (one per service)"
    )
    price_weights: tuple[float, ...] = Field(
        default=PRICE_WEIGHTS, min_length=1, description="relative frequency of each price"
    )
    foreign_share: float = Field(
        default=0.1,
        ge=0,
        le=1,
        description="services billing in another currency: the converted amount moves a "
        "little each period (choice)",
    )
    jitter_minutes: float = Field(
        default=20.0, ge=0, le=720, description="sd of the billing run's time of day"
    )

    @model_validator(mode="after")
    def _one_weight_per_price(self) -> SubscriptionParams:
        if len(self.prices) != len(self.price_weights) or sum(self.price_weights) <= 0:
            raise ValueError("give one non-negative weight per price, with a positive sum")
        if min(self.prices) <= 0 or min(self.price_weights) < 0:
            raise ValueError("prices must be positive and weights non-negative")
        return self


@register("subscription_micro_charges.v1")
class SubscriptionMicroCharges(Honest):
    description = "A digital service charges a card a small fixed price on the same day each month."
    honest_rate = "subscriptions_per_customer"
    Params = SubscriptionParams
    params: SubscriptionParams

    @functools.cached_property
    def _price_cdf(self) -> np.ndarray:
        return np.cumsum(np.asarray(self.params.price_weights, dtype=np.float64))

    @property
    def standing_days(self) -> float:
        return 7.0 if self.params.period == "week" else 30.0

    def expected_rows(self) -> float:
        return self.ch.world.config.days / (7.0 if self.params.period == "week" else 30.4)

    def behave(self, ep: Episode) -> Process:
        p, ch, rng, st = self.params, self.ch, self.rng, ep.state
        if "card" not in st:
            customer = self._someone()
            cdf = self._price_cdf
            price = p.prices[int(np.searchsorted(cdf, rng.random() * cdf[-1], side="right"))]
            st.update(
                card=self._card(customer),
                customer=customer,
                service=self._merchant("digital_goods", True),
                price=price,
                foreign=bool(rng.random() < p.foreign_share),
                day=int(ch.now // DAY),  # the sign-up day fixes the billing day
                at=self._hour("cnp") * HOUR + int(rng.integers(0, HOUR)),
            )
            if st["day"] * DAY + st["at"] <= ch.now:
                st["day"] += 1
        end = ch.world.config.days * DAY
        while True:
            t = st["day"] * DAY + st["at"] + int(rng.normal(0, p.jitter_minutes * 60))
            if t >= end:
                return
            if t > ch.now:
                yield ch.wait(t - ch.now)
            amount = st["price"] * (rng.uniform(0.97, 1.03) if st["foreign"] else 1.0)
            # Merchant-initiated recurring charges are exempt from step-up.
            ch.card_payment(
                ep, st["card"], st["service"], round(amount * self.minor), role="none", has_otp=True
            )
            st["day"] = self._next_day(st["day"])

    def _next_day(self, day: int) -> int:
        """The next billing day: a week later, or the same day of next month (the month's
        last day when it is shorter)."""
        if self.params.period == "week":
            return day + 7
        start = self.ch.world.config.start_date
        date = start + dt.timedelta(days=day)
        year, month = (date.year, date.month + 1) if date.month < 12 else (date.year + 1, 1)
        last = calendar.monthrange(year, month)[1]
        return (dt.date(year, month, min(date.day, last)) - start).days
