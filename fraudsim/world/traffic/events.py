"""Honest non-payment events (logins, new payees, new phones, ...) drawn per day in arrays.

They give fraud's account events (new device login, password reset, new payee) an honest
background with the same shapes, so that an event's mere existence does not reveal fraud.
Events come in sessions as real apps log them: the first login on a new phone and the device
binding it triggers land in the same second or two, a password reset is followed by a login,
a new payee, phone or address change by a login a human step (typing, confirming) before it,
and online-banking payments by the login that opened their session. Replaced phones are
sometimes handed down to a housemate, who then logs in on a device the bank has seen before.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fraudsim.calibration.profile import Profile
from fraudsim.core.codes import CHANNELS, EVENT_TYPES
from fraudsim.core.ledger import Batch
from fraudsim.core.rng import SeedStreams
from fraudsim.core.units import DAY, HOUR
from fraudsim.world.population import Population

DAYS_PER_MONTH = 30.44
EV = {name: i for i, name in enumerate(EVENT_TYPES)}
ONLINE_BANKING = CHANNELS.index("online_banking")
MAX_HANDDOWN_DAYS = 60  # a phone not handed down within two months stays in the drawer
# Events a logged-in customer makes a human step after the login of their session.
AFTER_LOGIN = ("new_payee", "phone_change", "address_change")


class LegitEvents:
    """Draws each day's honest events for the initial customers."""

    def __init__(self, pop: Population, profile: Profile, streams: SeedStreams) -> None:
        self.pop, self.streams = pop, streams
        rates = profile.events
        self.rates = np.array(
            [getattr(rates, f"{kind}_per_customer_month") for kind in EVENT_TYPES]
        )
        self.s = profile.sessions
        self.handdown_share = profile.population.phone_handdown_share
        self.handdown_days = profile.population.phone_handdown_median_days
        self.n = pop.n_initial
        self.hour_cdf = np.cumsum(profile.weights("calendar", "hour_weights"))
        # The phone each customer uses now (-1: their first device), as `adopt_devices` tells
        # the card traffic; and the handed-down phones not yet handed over.
        self.phone = np.full(self.n, -1, np.int64)
        self.mate = (
            pop.households.housemate() if pop.households is not None else np.full(self.n, -1)
        )
        self.pending = {
            k: np.zeros(0, np.int64) for k in ("t", "device", "from_customer", "customer")
        }

    def day(self, index: int, rows: Batch | None = None) -> dict[str, np.ndarray]:
        """Columns of the day's honest events (see ledger.EVENT_COLUMNS), in time order.

        `rows` are the day's honest transactions; given them, the online-banking payments get
        the login of their session.
        """
        rng = self.streams.generator("legit_events", 0, index)
        base = index * DAY
        counts = rng.poisson(self.rates / DAYS_PER_MONTH * self.n)
        out: list[dict[str, np.ndarray]] = []
        # Handed-down phones due today replace part of the day's new phones (same rate).
        due = self._take_due(base + DAY)
        n_new = max(int(counts[EV["device_change"]]) - len(due["t"]), 0)
        new_owner = rng.integers(0, self.n, n_new)
        new_device = self._new_devices(new_owner)
        handed = self._hand_down(rng, index, new_owner)
        if len(due["t"]):
            self.pop.device_handovers.append(due)
        new_start = self._times(rng, n_new, base, 2 * self.s.app_step_max_seconds)
        for start, owner, device in (
            (new_start, new_owner, new_device),
            (due["t"], due["customer"], due["device"]),
        ):
            # The first login on the phone and the device binding it triggers, logged in
            # either order (at the credential check or when the session starts).
            after = start + self._app_gap(rng, len(owner))
            first = rng.random(len(owner)) < self.s.binding_before_login_share
            login, binding = np.where(first, after, start), np.where(first, start, after)
            out.append(self._events(login, owner, device, EV["login"]))
            out.append(self._events(binding, owner, device, EV["device_change"]))
        # Password resets, then the login with the new password.
        m = int(counts[EV["password_reset"]])
        who = rng.integers(0, self.n, m)
        dev = self.pop.pick_devices(rng.random(m), who, self.phone)
        auto = rng.random(m) < self.s.password_reset_auto_login_share
        gap = np.where(auto, self._app_gap(rng, m), self._human_gap(rng, m))
        start = self._times(rng, m, base, gap)
        out.append(self._events(start, who, dev, EV["password_reset"]))
        out.append(self._events(start + gap, who, dev, EV["login"]))
        # New payees and profile changes, a login before them.
        for kind in AFTER_LOGIN:
            m = int(counts[EV[kind]])
            who = rng.integers(0, self.n, m)
            dev = self.pop.pick_devices(rng.random(m), who, self.phone)
            prefilled = (kind == "new_payee") & (rng.random(m) < self.s.prefilled_step_share)
            gap = np.where(prefilled, self._app_gap(rng, m), self._session_gap(rng, m))
            start = self._times(rng, m, base, gap)
            out.append(self._events(start, who, dev, EV["login"]))
            out.append(self._events(start + gap, who, dev, EV[kind]))
        if rows is not None:
            out.append(self._payment_logins(rng, rows, base))
        # The rest of the logins stand alone (checking the balance), so that all logins
        # together keep the profile's rate.
        logins = sum(int((b["event_type"] == EV["login"]).sum()) for b in out)
        m = int(rng.poisson(max(self.rates[EV["login"]] / DAYS_PER_MONTH * self.n - logins, 0)))
        who = rng.integers(0, self.n, m)
        dev = self.pop.pick_devices(rng.random(m), who, self.phone)
        out.append(self._events(self._times(rng, m, base, 0), who, dev, EV["login"]))
        day = {k: np.concatenate([b[k] for b in out]) for k in out[0]}
        order = np.argsort(day["t"], kind="stable")
        day = {k: v[order] for k, v in day.items()}
        # Phones in use from now on (in time order, as the card traffic adopts them).
        changed = day["event_type"] == EV["device_change"]
        self.phone[day["customer"][changed]] = day["device"][changed]
        self._queue(handed)
        n = len(order)
        cust = self.pop.customers
        return {
            "t": day["t"],
            "customer": day["customer"],
            "account": cust["checking_idx"][day["customer"]].astype(np.int64),
            "device": day["device"],
            "event_type": day["event_type"],
            "is_fraud": np.zeros(n, np.int64),
            "fraud_type": np.full(n, -1),
            "episode": np.full(n, -1),
            "pattern": np.full(n, -1),
        }

    # -- sessions --------------------------------------------------------------------------

    def _payment_logins(
        self, rng: np.random.Generator, rows: Batch, base: int
    ) -> dict[str, np.ndarray]:
        """The login opening the session of an online-banking payment, a human step before it
        (or seconds before it when the payment was prefilled, as pay-by-bank redirects are)."""
        paid = np.flatnonzero(
            (rows["channel"] == ONLINE_BANKING)
            & (rows["direction"] == 0)
            & (rows["device"] >= 0)
            & (rows["customer"] < self.n)
        )
        paid = paid[rng.random(len(paid)) < self.s.payment_login_share]
        m = len(paid)
        prefilled = rng.random(m) < self.s.prefilled_step_share
        gap = np.where(prefilled, self._app_gap(rng, m), self._session_gap(rng, m))
        t = np.maximum(rows["t"][paid] - gap, base)
        return self._events(t, rows["customer"][paid], rows["device"][paid], EV["login"])

    def _events(
        self, t: np.ndarray, customer: np.ndarray, device: np.ndarray, kind: int
    ) -> dict[str, np.ndarray]:
        n = len(t)
        return {
            "t": np.asarray(t, np.int64),
            "customer": np.asarray(customer, np.int64),
            "device": np.asarray(device, np.int64),
            "event_type": np.full(n, kind, np.int64),
        }

    def _times(
        self, rng: np.random.Generator, n: int, base: int, span: int | np.ndarray
    ) -> np.ndarray:
        """Session starts at the customers' active hours, early enough that a session of
        `span` seconds ends the same day."""
        hour = np.minimum(
            np.searchsorted(self.hour_cdf, rng.random(n) * self.hour_cdf[-1], side="right"), 23
        )
        t = base + hour * HOUR + rng.integers(0, HOUR, n)
        return np.minimum(t, base + DAY - 1 - span)

    def _app_gap(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Seconds between events one app request writes: mostly the same second."""
        s = self.s
        later = rng.integers(1, s.app_step_max_seconds + 1, n) if s.app_step_max_seconds else 0
        return np.where(rng.random(n) < s.app_step_same_second_share, 0, later).astype(np.int64)

    def _human_gap(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Seconds a person takes for a step: lognormal, truncated to [min, max] by redrawing
        (clipping would pile rows onto the bounds)."""
        s = self.s
        mu = np.log(s.human_step_median_seconds)
        x = np.exp(mu + s.human_step_sigma * rng.standard_normal(n))
        bad = (x < s.human_step_min_seconds) | (x > s.human_step_max_seconds)
        while bad.any():
            x[bad] = np.exp(mu + s.human_step_sigma * rng.standard_normal(int(bad.sum())))
            bad = (x < s.human_step_min_seconds) | (x > s.human_step_max_seconds)
        return np.round(x).astype(np.int64)

    def _session_gap(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Seconds from a session's login to its action: one human step plus a Poisson number
        of further ones (reading the balance, choosing an account, typing, confirming)."""
        steps = 1 + rng.poisson(self.s.extra_steps_mean, n)
        each = self._human_gap(rng, int(steps.sum()))
        first = np.concatenate([[0], np.cumsum(steps)[:-1]]).astype(np.int64)
        return np.add.reduceat(each, first) if n else np.zeros(0, np.int64)

    # -- phones ----------------------------------------------------------------------------

    def _hand_down(
        self, rng: np.random.Generator, index: int, owners: np.ndarray
    ) -> dict[str, np.ndarray]:
        """Some replaced phones go to a housemate a few days later (who logs in on them)."""
        mate = self.mate[owners]
        give = (mate >= 0) & (rng.random(len(owners)) < self.handdown_share)
        old = self.phone[owners]
        old = np.where(old >= 0, old, self.pop.customers["first_device"][owners])
        k = int(give.sum())
        days = np.minimum(
            1 + np.floor(rng.lognormal(np.log(self.handdown_days), 1.0, k)), MAX_HANDDOWN_DAYS
        ).astype(np.int64)
        span = 2 * self.s.app_step_max_seconds
        t = self._times(rng, k, 0, span) + (index + days) * DAY
        return {
            "t": t,
            "device": old[give].astype(np.int64),
            "from_customer": owners[give].astype(np.int64),
            "customer": mate[give],
        }

    def _queue(self, handed: dict[str, np.ndarray]) -> None:
        self.pending = {k: np.concatenate([self.pending[k], handed[k]]) for k in self.pending}

    def _take_due(self, end: int) -> dict[str, Any]:
        due = self.pending["t"] < end
        taken = {k: v[due] for k, v in self.pending.items()}
        self.pending = {k: v[~due] for k, v in self.pending.items()}
        return taken

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
