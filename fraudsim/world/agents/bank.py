"""The bank: authorises, applies its controls, settles each day and blocks what it must.

Controls apply to honest and fraudulent traffic alike — vectorised for the day's honest rows,
one by one for rows a typology posts — so a decline reason never singles out fraud:
- strong customer authentication (step-up) for online card payments above a threshold;
- a velocity rule: too many card attempts within an hour declines (and may block) the card;
- cards blocked and accounts frozen once a fraud is reported or a rule fires;
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
from fraudsim.world.agents.live_detector import LiveDetector
from fraudsim.world.settlement import settle

if TYPE_CHECKING:
    from fraudsim.config.scenario import DetectorConfig
    from fraudsim.detection.detectors import Detector
    from fraudsim.world.model import World

NEVER = np.iinfo(np.int64).max
REASON = {name: i for i, name in enumerate(DECLINE_REASONS)}
CNP = CHANNELS.index("cnp")
# A fraudster without the victim's one-time passcode rarely passes step-up (choice).
FRAUD_STEP_UP_PASS = 0.05


class Bank(mesa.Agent):
    """Holds balances and card/account states; declines what cannot or must not go through."""

    def __init__(self, model: World) -> None:
        super().__init__(model)
        pop = model.population
        cfg = model.config.bank
        self.minor = model.profile.minor_per_major
        self.sca_threshold = int(round(cfg.sca_threshold * self.minor))
        self.velocity_max = cfg.velocity_max_per_hour
        self.balances = pop.accounts["opening_balance"].copy()
        self.floors = pop.accounts["floor"].copy()
        self.card_blocked_at = np.full(len(pop.cards["customer_idx"]), NEVER, np.int64)
        self.account_frozen_at = np.full(len(self.balances), NEVER, np.int64)
        self.card_lost_at = np.full(len(self.card_blocked_at), NEVER, np.int64)
        self.block_causes: dict[str, int] = defaultdict(int)
        self.last_day: dict[str, float] = {}
        self._legit_card_times: np.ndarray | None = np.zeros(0, np.int64)
        self._legit_today: Batch = {"card": np.zeros(0, np.int32), "t": np.zeros(0, np.int64)}
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

    def add_card(self) -> None:
        self.card_blocked_at = np.append(self.card_blocked_at, NEVER)
        self.card_lost_at = np.append(self.card_lost_at, NEVER)

    def lift_block(self, card: bool, index: int, since: int) -> None:
        """Lift a card block (`card`) or account freeze set at `since`, unless it has moved
        since (e.g. a report blocked it earlier)."""
        blocked = self.card_blocked_at if card else self.account_frozen_at
        if blocked[index] == since:
            blocked[index] = NEVER

    def drop_lost_card_rows(self, rows: Batch) -> Batch:
        """Honest payments with a card after its owner lost it never happen (credits to it, such
        as returns, still arrive)."""
        card = rows["card"]
        lost = (
            (rows["episode"] < 0)
            & (card >= 0)
            & (rows["direction"] == 0)
            & (rows["t"] >= self.card_lost_at[np.maximum(card, 0)])
        )
        if not lost.any():
            return rows
        keep = np.flatnonzero(~lost)
        return {name: column[keep] for name, column in rows.items()}

    def block_card(self, card: int, at: int, cause: str = "reported", notify: bool = True) -> None:
        """Block a card from time `at` (seconds): its later rows are declined.

        With `notify`, episodes using the card are interrupted (the caller may instead
        interrupt once after blocking several items).
        """
        if self.card_blocked_at[card] > at:
            self.card_blocked_at[card] = at
            self.block_causes[cause] += 1
            if notify:
                self.model.fraud.blocked({card}, set(), cause)

    def freeze_account(
        self, account: int, at: int, cause: str = "reported", notify: bool = True
    ) -> None:
        """Freeze an account from time `at`: its later debits are declined."""
        if self.account_frozen_at[account] > at:
            self.account_frozen_at[account] = at
            self.block_causes[cause] += 1
            if notify:
                self.model.fraud.blocked(set(), {account}, cause)

    # -- one-by-one authorisation (rows posted by typologies) ----------------------------------

    def start_day(self, legit: Batch, day: int) -> None:
        """Remember the day's honest rows; the velocity index is built on first use (days
        without a typology attempt never pay for it)."""
        self._legit_today = legit
        self._legit_card_times = None
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
    ) -> Outcome:
        """Decide one card attempt now: block state, card data check, velocity, step-up.

        `stale_data`: the card number is right but the expiry date or CVV is not (leaked
        card data often is); the issuer declines it, as it declines customers' typos.
        """
        if self.card_blocked_at[card] <= t:
            return Outcome(False, "card_blocked", t, amount)
        account = int(self.model.population.cards["account_idx"][card])
        if self.account_frozen_at[account] <= t:
            return Outcome(False, "account_frozen", t, amount)
        recent = self._recent_attempts(card, t)
        self._fraud_attempts[card].append(t)
        if stale_data:
            return Outcome(False, "rule", t, amount)
        if recent >= self.velocity_max:
            if self.model.config.bank.block_on_velocity:
                self.block_card(card, t, "velocity")
            return Outcome(False, "rule", t, amount)
        if channel == "cnp" and amount > self.sca_threshold:
            passed = has_otp or self.model.fraud.rng.random() < FRAUD_STEP_UP_PASS
            if not passed:
                return Outcome(False, "step_up_failed", t, amount)
        elif (
            channel == "cnp"
            and merchant >= 0
            and not has_otp
            and self.model.merchant_agents.requires_step_up(merchant)
        ):
            return Outcome(False, "step_up_failed", t, amount)
        return Outcome(True, "none", t, amount)

    def authorize_transfer(
        self, account: int, t: int, amount: int, to_account: int, device: int
    ) -> Outcome:
        if self.account_frozen_at[account] <= t:
            return Outcome(False, "account_frozen", t, amount)
        return Outcome(True, "none", t, amount)

    # -- the day's settlement ----------------------------------------------------------------

    def _controls(self, rows: Batch, day: int) -> None:
        """Vectorised controls on the day's honest rows (fraud rows were decided when posted)."""
        legit = rows["episode"] < 0
        rng = self.model.streams.generator("bank", day)
        debit = rows["direction"] == 0
        step_up = legit & debit & (rows["channel"] == CNP) & (rows["amount"] > self.sca_threshold)
        draws = rng.random(len(step_up))
        failed = step_up & (draws < self.model.config.bank.legit_step_up_failure)
        # Customers mistype expiry dates and CVVs too: the same "rule" decline fraud meets.
        typo = (
            legit
            & debit
            & (rows["channel"] == CNP)
            & (draws > 1 - self.model.config.bank.legit_card_data_error)
        )
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

    def settle_day(self, rows: Batch, day: int) -> Batch:
        """Apply controls, settle one day's rows of every stream and record the day's figures."""
        rows = dict(rows)
        self._controls(rows, day)
        rows = settle(
            rows, self.balances, self.floors, self.card_blocked_at, self.account_frozen_at
        )
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
