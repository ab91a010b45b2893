"""The bank: authorises, applies its controls, settles each day and blocks what it must.

Controls apply to honest and fraudulent traffic alike — vectorised for the day's honest rows,
one by one for rows a typology posts — so a decline reason never singles out fraud:
- strong customer authentication (`authentication.py`): PSD2 exemptions, 3-D Secure challenges
  for online payments, contactless limits and PINs in store and at cash machines;
- a velocity rule: too many card attempts within an hour declines (and may block) the card;
- cards blocked and accounts frozen once a fraud is reported or a rule fires, then handled as
  cases (`cases.py`): cards replaced, victims' freezes lifted after review, mules exited;
- optionally a detector in the loop (fraudsim.world.agents.live_detector) that blocks what it flags.
"""

from __future__ import annotations

from collections import defaultdict, deque
from typing import TYPE_CHECKING

import mesa
import numpy as np

from fraudsim.core.codes import CHANNELS, DECLINE_REASONS
from fraudsim.core.ledger import Batch
from fraudsim.core.units import DAY, HOUR
from fraudsim.world.actions import Outcome
from fraudsim.world.agents.authentication import (
    ATTEMPT_COLUMNS,
    Authentication,
    attempts_of,
    draws,
)
from fraudsim.world.agents.cases import NEVER, CaseHandling
from fraudsim.world.agents.live_detector import LiveDetector
from fraudsim.world.settlement import settle

if TYPE_CHECKING:
    from fraudsim.config.scenario import DetectorConfig
    from fraudsim.detection.detectors import Detector
    from fraudsim.world.model import World

REASON = {name: i for i, name in enumerate(DECLINE_REASONS)}
CNP = CHANNELS.index("cnp")
_HOLDER_FLAGS = ("has_otp", "has_pin", "may_mit")  # an honest payer is the holder
_REVIEW_SIGMA = 0.8  # log-spread of the bank's confirmation of a case it detected (choice)


class Bank(CaseHandling, mesa.Agent):
    """Holds balances and card/account states; declines what cannot or must not go through."""

    def __init__(self, model: World) -> None:
        super().__init__(model)
        pop = model.population
        cfg = model.config.bank
        self.minor = model.profile.minor_per_major
        # The low-value limit: typologies read it to size payments under it.
        self.sca_threshold = int(round(cfg.sca_threshold * self.minor))
        self.velocity_max = cfg.velocity_max_per_hour
        self.balances = pop.accounts["opening_balance"].copy()
        self.floors = pop.accounts["floor"].copy()
        n_cards = len(pop.cards["customer_idx"])
        self.card_blocked_at = np.full(n_cards, NEVER, np.int64)
        self.account_frozen_at = np.full(len(self.balances), NEVER, np.int64)
        self.card_lost_at = np.full(n_cards, NEVER, np.int64)
        self._init_cases(n_cards, len(self.balances))
        self.auth = Authentication(model, n_cards)
        self._controls_key = model.streams.key("bank_controls")
        self.block_causes: dict[str, int] = defaultdict(int)
        self.last_day: dict[str, float] = {}
        self._legit_card_times: np.ndarray | None = np.zeros(0, np.int64)
        self._legit_today: Batch = {"card": np.zeros(0, np.int32), "t": np.zeros(0, np.int64)}
        self._legit_index: tuple[np.ndarray, np.ndarray] | None = None
        self._attempts: dict[int, list[tuple[int, ...]]] = defaultdict(list)  # by card
        self._day_start = 0
        self._fraud_attempts: dict[int, deque[int]] = defaultdict(deque)
        self.detector: LiveDetector | None = None
        if cfg.detector is not None:
            self.detector = LiveDetector(self, cfg.detector)

    def attach_detector(
        self, config: DetectorConfig, detector: Detector | None = None, fit: bool = True
    ) -> None:
        """Put a detector in the loop (before the world runs): a fitted `detector` object, or
        (with `fit`) the one `config.name` names, fitted after `config.train_days` days;
        without either it stays idle until `self.detector.swap(model)`."""
        self.detector = LiveDetector(self, config, detector, fit)

    # -- state ---------------------------------------------------------------------------------

    def add_account(self, opening_balance: int, floor: int) -> None:
        self.balances = np.append(self.balances, np.int64(opening_balance))
        self.floors = np.append(self.floors, np.int64(floor))
        self.account_frozen_at = np.append(self.account_frozen_at, NEVER)
        self._grow_accounts()

    def add_card(self) -> None:
        self.card_blocked_at = np.append(self.card_blocked_at, NEVER)
        self.card_lost_at = np.append(self.card_lost_at, NEVER)
        self._grow_cards()
        self.auth.add_card()

    def lift_block(self, card: bool, index: int, since: int) -> None:
        """Lift a card block (`card`) or account freeze set at `since`, unless it has moved
        since (e.g. a report blocked it earlier)."""
        blocked = self.card_blocked_at if card else self.account_frozen_at
        if blocked[index] == since:
            blocked[index] = NEVER
            if not card:
                self.account_thaw_at[index] = NEVER

    def drop_lost_card_rows(self, rows: Batch) -> Batch:
        """Honest rows as customers make them once cards are lost, blocked or replaced and
        customers exited (`CaseHandling.route_honest`): payments with a card its holder no
        longer has move to another card or go; credits still arrive."""
        self._issue_replacements(self._day_start + DAY)
        return self.route_honest(rows)

    def block_card(self, card: int, at: int, cause: str = "reported", notify: bool = True) -> None:
        """Block a card from time `at` (seconds): its later rows are declined; its holder
        hears of it and gets a replacement.

        With `notify`, episodes using the card are interrupted (the caller may instead
        interrupt once after blocking several items).
        """
        if self.card_blocked_at[card] > at:
            self.card_blocked_at[card] = at
            self.block_causes[cause] += 1
            self._card_case(card, at)
            if notify:
                self.model.fraud.blocked({card}, set(), cause)

    def freeze_account(
        self, account: int, at: int, cause: str = "reported", notify: bool = True
    ) -> None:
        """Freeze an account from time `at`: its later debits are declined until the review
        ends (a victim's freeze is lifted then; a mule's account stays frozen)."""
        if self.account_thaw_at[account] <= at:  # the last freeze is over (not yet cleared)
            self.account_frozen_at[account] = self.account_thaw_at[account] = NEVER
        if self.account_frozen_at[account] > at:
            self.account_frozen_at[account] = at
            self.block_causes[cause] += 1
            self._account_case(account, at)
            if notify:
                self.model.fraud.blocked(set(), {account}, cause)
        elif self.account_thaw_at[account] != NEVER:
            self._account_case(account, at)  # a new case: the review may now find a mule

    # -- one-by-one authorisation (rows posted by typologies) ----------------------------------

    def start_day(self, legit: Batch, day: int) -> None:
        """Remember the day's honest rows; the velocity and authentication indexes are built
        on first use (days without a typology attempt never pay for them)."""
        self._legit_today = legit
        self._legit_card_times = None
        self._legit_index = None
        self._day_start = day * DAY

    def _card_times(self) -> np.ndarray:
        if self._legit_card_times is None:
            legit = self._legit_today
            card = legit["card"]
            has = card >= 0
            self._legit_card_times = np.sort(
                card[has].astype(np.int64) * (2 * DAY) + legit["t"][has] - self._day_start
            )
        return self._legit_card_times

    def _recent_attempts(self, card: int, t: int) -> int:
        times = self._card_times()
        key = card * (2 * DAY) + (t - self._day_start)
        legit = np.searchsorted(times, key, side="right") - np.searchsorted(
            times, key - HOUR, side="right"
        )
        times = self._fraud_attempts[card]
        while times and times[0] <= t - HOUR:
            times.popleft()
        return int(legit) + len(times)

    def authorize(
        self,
        card: int,
        t: int,
        amount: int,
        channel: str,
        merchant: int,
        has_otp: bool,
        stale_data: bool = False,
        has_pin: bool = True,
        device: int = -1,
    ) -> Outcome:
        """Decide one card attempt now: block state, card data check, velocity, then strong
        customer authentication (exemptions, challenge, contactless limits, PIN).

        `stale_data`: the card number is right but the expiry date or CVV is not (leaked
        card data often is); the issuer declines it, as it declines customers' typos.
        `has_otp`: the payer can answer a challenge (the holder, or a fraudster holding the
        one-time code); `has_pin`: the payer knows the PIN.
        """
        if self.card_blocked_at[card] <= t:
            return Outcome(False, "card_blocked", t, amount)
        account = int(self.model.population.cards["account_idx"][card])
        if self.frozen(account, t):
            return Outcome(False, "account_frozen", t, amount)
        recent = self._recent_attempts(card, t)
        self._fraud_attempts[card].append(t)
        if stale_data:
            return Outcome(False, "rule", t, amount)
        if recent >= self.velocity_max:
            if self.model.config.bank.block_on_velocity:
                self.block_card(card, t, "velocity")
            return Outcome(False, "rule", t, amount)
        attempt = (card, t, amount, CHANNELS.index(channel), merchant, device, has_otp, has_pin, 0)
        if self._authenticate(attempt):
            return Outcome(False, "step_up_failed", t, amount)
        return Outcome(True, "none", t, amount)

    def _authenticate(self, attempt: tuple[int, ...]) -> bool:
        """SCA for one typology attempt, from the card's counters as its day so far left them;
        True if it failed."""
        card, t = attempt[0], attempt[1]
        state = self.auth.state.copy_of(card)
        for earlier in self._day_before(card, t):
            self.auth.decide_one(state, 0, earlier)
        self._attempts[card].append(attempt)
        return self.auth.decide_one(state, 0, attempt)

    def _day_before(self, card: int, t: int) -> list[tuple[int, ...]]:
        """The card's attempts of the day before t, honest ones (as routed) first, in the order
        the day's vectorised pass takes them (ATTEMPT_COLUMNS)."""
        legit = self._legit_today
        if self._legit_index is None:
            idx = attempts_of(legit) if "direction" in legit else np.zeros(0, np.int64)
            idx = idx[np.lexsort((legit["t"][idx], legit["card"][idx]))]
            self._legit_index = (legit["card"][idx], idx)
        cards, idx = self._legit_index
        lo, hi = np.searchsorted(cards, card, "left"), np.searchsorted(cards, card, "right")
        sel = idx[lo:hi]
        sel = sel[legit["t"][sel] < t]
        events: list[tuple[int, ...]] = []
        if len(sel):  # most cards have no honest payment yet today
            honest = self.route_honest({k: v[sel] for k, v in legit.items()}, apply=False)
            for i in np.flatnonzero(honest["card"] == card).tolist():
                events.append(
                    tuple(
                        1 if name in _HOLDER_FLAGS else int(honest[name][i])
                        for name in ATTEMPT_COLUMNS
                    )
                )
        events += [a for a in self._attempts.get(card, []) if a[1] < t]
        # The day's pass orders a card's attempts by time, honest ones first at equal times.
        return sorted(events, key=lambda a: a[1])

    def authorize_transfer(
        self, account: int, t: int, amount: int, to_account: int, device: int
    ) -> Outcome:
        if self.frozen(account, t):
            return Outcome(False, "account_frozen", t, amount)
        return Outcome(True, "none", t, amount)

    # -- the day's settlement ----------------------------------------------------------------

    def _controls(self, rows: Batch, day: int) -> None:
        """Vectorised controls on the day's honest rows (typology rows were decided when
        posted, though their SCA attempts move the card counters here too)."""
        legit = rows["episode"] < 0
        debit = rows["direction"] == 0
        # Draws are keyed hashes of each row, so no other row (nor a typology) shifts them.
        u = draws(self._controls_key, rows["card"], rows["t"], rows["amount"])[0]
        # Customers mistype expiry dates and CVVs too: the same "rule" decline fraud meets.
        typo = (
            legit
            & debit
            & (rows["card"] >= 0)
            & (rows["channel"] == CNP)
            & (u > 1 - self.model.config.bank.legit_card_data_error)
        )
        failed = np.zeros(len(legit), bool)
        honest = attempts_of(rows)
        honest = honest[legit[honest]]
        end = self._day_start + DAY
        ours = [a for attempts in self._attempts.values() for a in attempts if a[1] < end]
        events = {}
        for i, name in enumerate(ATTEMPT_COLUMNS):
            if name in _HOLDER_FLAGS:
                theirs = np.ones(len(honest), np.int64)
            else:
                theirs = rows[name][honest].astype(np.int64)
            events[name] = np.concatenate([theirs, np.array([a[i] for a in ours], np.int64)])
        if len(events["t"]):
            result = self.auth.run(self.auth.state, events["card"], events)
            failed[honest] = result[: len(honest)]
        for card in list(self._attempts):
            left = [a for a in self._attempts[card] if a[1] >= end]
            if left:
                self._attempts[card] = left
            else:
                del self._attempts[card]
        # Velocity: only cards with many attempts today can trip the hourly rule.
        card = rows["card"]
        busy = np.flatnonzero(
            np.bincount(card[card >= 0], minlength=len(self.card_blocked_at)) >= self.velocity_max
        )
        tripped = np.zeros(len(card), bool)
        if len(busy):
            for c in busy.tolist():
                idx = np.flatnonzero(card == c)
                times = rows["t"][idx]
                order = np.argsort(times, kind="stable")
                times, idx = times[order], idx[order]
                before = np.arange(len(times)) - np.searchsorted(times, times - HOUR, "right")
                tripped[idx[before >= self.velocity_max]] = True
        tripped = (tripped & legit) | typo
        for mask, reason in ((failed, "step_up_failed"), (tripped, "rule")):
            new = mask & ~rows["is_declined"]
            rows["decline_reason"] = np.where(new, REASON[reason], rows["decline_reason"]).astype(
                np.int8
            )
            rows["is_declined"] = rows["is_declined"] | new

    def _confirm_reports(self, rows: Batch) -> None:
        """When the bank learns that each fraud row is fraud, now that settlement decided it.

        Victims report what they see: accepted payments. A declined attempt (a failed card
        test, a blocked try) is never reported by anyone, unless the bank detected the episode
        itself (velocity rule, detector): then its investigation confirms every row of the
        episode, declined or not, after a review.
        """
        fraud = (rows["episode"] >= 0) & rows["is_fraud"]
        if not fraud.any():
            return
        ids = set(np.unique(rows["episode"][fraud]).tolist())
        episodes = [ep for ep in self.model.fraud.episodes if ep.id in ids]
        reported = rows["reported_at"].copy()
        declined = fraud & rows["is_declined"]
        reported[declined] = -1
        review_hours = self.model.config.bank.review_hours
        for ep in episodes:
            if ep.detected_at is None or ep.detected_by in (None, "report"):
                continue
            mine = fraud & (rows["episode"] == ep.id)
            rng = self.model.streams.generator("bank_review", ep.index)
            review = max(int(review_hours * HOUR * rng.lognormal(0.0, _REVIEW_SIGMA)), 600)
            found = np.maximum(rows["t"][mine], ep.detected_at) + review
            known = reported[mine]
            reported[mine] = np.where(known >= 0, np.minimum(known, found), found)
        rows["reported_at"] = reported

    def settle_day(self, rows: Batch, day: int) -> Batch:
        """Apply controls, settle one day's rows of every stream and record the day's figures."""
        rows = dict(rows)
        self._controls(rows, day)
        rows = settle(
            rows,
            self.balances,
            self.floors,
            self.card_blocked_at,
            self.account_frozen_at,
            self.account_thaw_at,
        )
        self.auth.learn_usual(rows)
        self._confirm_reports(rows)
        self.thaw_before((day + 1) * DAY)
        accepted = ~rows["is_declined"]
        checking = self.model.population.customers["checking_idx"]
        self.last_day = {
            "transactions": float(len(rows["t"])),
            "declined": float((~accepted).sum()),
            "fraud_transactions": float(rows["is_fraud"].sum()),
            "volume": float(rows["amount"][accepted].sum()) / self.minor,
            "mean_checking_balance": float(self.balances[checking].mean()) / self.minor,
            "blocked_cards": float((self.card_blocked_at != NEVER).sum()),
        }
        if self.detector is not None:
            self.detector.end_of_day(rows, day)
        return rows
