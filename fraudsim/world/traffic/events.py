"""Honest non-payment events (logins, new payees, new phones, ...) drawn per day in arrays.

They give fraud's account events (new device login, password reset, new payee) an honest
background with the same shapes, so that an event's mere existence does not reveal fraud.
"""

from __future__ import annotations

import numpy as np

from fraudsim.calibration.profile import Profile
from fraudsim.core.codes import EVENT_TYPES
from fraudsim.core.rng import SeedStreams
from fraudsim.core.units import DAY
from fraudsim.world.population import Population

DAYS_PER_MONTH = 30.44


class LegitEvents:
    """Draws each day's honest events for the initial customers."""

    def __init__(self, pop: Population, profile: Profile, streams: SeedStreams) -> None:
        self.pop, self.streams = pop, streams
        rates = profile.events
        self.rates = np.array(
            [getattr(rates, f"{kind}_per_customer_month") for kind in EVENT_TYPES]
        )
        self.n = pop.n_initial
        self.hour_cdf = np.cumsum(profile.weights("calendar", "hour_weights"))

    def day(self, index: int) -> dict[str, np.ndarray]:
        """Columns of the day's honest events (see channels.EVENT_COLUMNS)."""
        rng = self.streams.generator("legit_events", 0, index)
        counts = rng.poisson(self.rates / DAYS_PER_MONTH * self.n)
        kind = np.repeat(np.arange(len(EVENT_TYPES)), counts)
        n = len(kind)
        customer = rng.integers(0, self.n, n)
        hour = np.minimum(
            np.searchsorted(self.hour_cdf, rng.random(n) * self.hour_cdf[-1], side="right"), 23
        )
        cust = self.pop.customers
        device = cust["first_device"][customer] + (
            rng.random(n) * cust["n_devices"][customer]
        ).astype(np.int64)
        # A real new phone: a device id nobody has used before (the look-alike of a takeover).
        new_phone = kind == EVENT_TYPES.index("device_change")
        device[new_phone] = self._new_devices(customer[new_phone])
        return {
            "t": index * DAY + hour * 3600 + rng.integers(0, 3600, n),
            "customer": customer,
            "account": cust["checking_idx"][customer].astype(np.int64),
            "device": device,
            "event_type": kind,
            "is_fraud": np.zeros(n, np.int64),
            "fraud_type": np.full(n, -1),
            "episode": np.full(n, -1),
            "pattern": np.full(n, -1),
        }

    def _new_devices(self, owners: np.ndarray) -> np.ndarray:
        d = self.pop.devices
        start = len(d["customer_idx"])
        idx = np.arange(start, start + len(owners))
        d["customer_idx"] = np.concatenate([d["customer_idx"], owners.astype(np.int32)])
        d["kind"] = np.concatenate([d["kind"], np.zeros(len(owners), np.int8)])
        d["first_of_customer"] = np.concatenate([d["first_of_customer"], idx.astype(np.int32)])
        d["count_of_customer"] = np.concatenate(
            [d["count_of_customer"], np.ones(len(owners), np.int8)]
        )
        self.pop.new_ids("devices", d, idx)
        return idx
