"""Strong customer authentication: PSD2 exemptions, 3-D Secure challenges, contactless limits.

The issuer's decision for a card payment, the same for honest and typology attempts
(Commission Delegated Regulation (EU) 2018/389, the RTS on SCA):

- online (cnp): out of scope when merchant-initiated (subscription charges) or when the shop is
  acquired outside the EEA (one-leg-out); exempt as low value (Art. 16) while the card's
  exempted payments since its last SCA stay within the limits; exempt by transaction risk
  analysis (Art. 18) when the merchant's acquirer asks and the issuer's risk engine agrees, or
  let through without a challenge ("frictionless") by the issuer's own risk engine; otherwise
  challenged: the owner passes most challenges, a fraudster only with the one-time code
  (phished, or read on a swapped SIM). A merchant that switched step-up on challenges all.
- in store (pos): a tap without PIN within the contactless limits (Art. 11), else a PIN.
- at a cash machine: a PIN.

Decisions depend on per-card counters (payments since the last SCA), so a card's attempts are
decided in time order: a day of honest attempts at once, rank by rank (the k-th attempt of
every card together), and one typology attempt by replaying its card's day so far. Every draw
is a keyed hash of the attempt (card, time, amount), so both ways reach the same answer and no
other row (nor any typology) shifts an honest row's draw.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

import numpy as np

from fraudsim.core.codes import CHANNELS
from fraudsim.core.ids import scramble
from fraudsim.core.ledger import Batch

if TYPE_CHECKING:
    from fraudsim.world.model import World

POS, CNP, ATM = (CHANNELS.index(c) for c in ("pos", "cnp", "atm"))
ATTEMPT_COLUMNS = (
    "card",
    "t",
    "amount",
    "channel",
    "merchant",
    "device",
    "has_otp",
    "has_pin",
    "may_mit",
)
_DRAWS = 6  # recurring billing, TRA, frictionless, challenge, tap, PIN
_MASK63 = (1 << 63) - 1
_MASK64 = (1 << 64) - 1
_SALT = 0x9E3779B97F4A7C15
_MUL1, _MUL2 = 0xBF58476D1CE4E5B9, 0x94D049BB133111EB  # core.ids.scramble's multipliers


@dataclass
class CardCounters:
    """Per card: remote payments exempted since its last SCA (count, sum), taps since its last
    PIN (count, sum), all minor units; the log of its usual online ticket and the amount above
    which a ticket looks unusual (minor units)."""

    remote_n: np.ndarray
    remote_sum: np.ndarray
    tap_n: np.ndarray
    tap_sum: np.ndarray
    usual_log: np.ndarray
    unusual_above: np.ndarray

    @classmethod
    def new(cls, n: int, usual_log: float, unusual_above: float) -> CardCounters:
        zeros = np.zeros(n, np.int64)
        return cls(
            zeros.copy(),
            zeros.copy(),
            zeros.copy(),
            zeros,
            np.full(n, usual_log),
            np.full(n, unusual_above),
        )

    def grow(self, usual_log: float, unusual_above: float) -> None:
        """One more card (issued during the run): no payments yet."""
        fill = {"usual_log": usual_log, "unusual_above": unusual_above}
        for f in fields(self):
            column = getattr(self, f.name)
            value = np.asarray(fill.get(f.name, 0), column.dtype)
            setattr(self, f.name, np.append(column, value))

    def copy_of(self, card: int) -> CardCounters:
        """A one-slot copy of a card's counters (for replaying its day so far)."""
        return CardCounters(*(getattr(self, f.name)[card : card + 1].copy() for f in fields(self)))


def draws(key: int, card: np.ndarray, t: np.ndarray, amount: np.ndarray) -> np.ndarray:
    """Uniforms in [0, 1), shape (_DRAWS, n): keyed hashes of each attempt."""
    n = len(card)
    with np.errstate(over="ignore"):
        x = card.astype(np.uint64) * np.uint64(_SALT) + t.astype(np.uint64)
        x = x * np.uint64(0xD6E8FEB86659FD93) + amount.astype(np.uint64)
        # One hash per draw: the draw number enters before the (bijective) scramble.
        x = (x[None, :] ^ (np.arange(_DRAWS, dtype=np.uint64)[:, None] << np.uint64(57))).ravel()
        x &= np.uint64(_MASK63)
    return (scramble(x, key & _MASK63, bits=63) / float(1 << 63)).reshape(_DRAWS, n)


def draws_one(key: int, card: int, t: int, amount: int) -> list[float]:
    """`draws` for one attempt, in plain Python (the same numbers)."""
    x = (card * _SALT + t) & _MASK64
    x = (x * 0xD6E8FEB86659FD93 + amount) & _MASK64
    out = []
    for i in range(_DRAWS):
        y = ((x ^ (i << 57)) & _MASK63) + (key & _MASK63)
        y = (y & _MASK63) * _MUL1 & _MASK63
        y ^= y >> 32
        y = y * _MUL2 & _MASK63
        y ^= y >> 32
        y = y * _MUL1 & _MASK63
        out.append(y / float(1 << 63))
    return out


def attempts_of(rows: Batch) -> np.ndarray:
    """Positions of rows that meet card authentication: card debits in store, online, at ATMs."""
    channel = rows["channel"]
    return np.flatnonzero(
        (rows["card"] >= 0)
        & (rows["direction"] == 0)
        & ((channel == POS) | (channel == CNP) | (channel == ATM))
    )


class Authentication:
    """The issuer's SCA decisions and the card counters they depend on."""

    def __init__(self, world: World, n_cards: int) -> None:
        self.world = world
        sca, bank = world.profile.sca, world.config.bank
        minor = world.profile.minor_per_major
        self.key = world.streams.key("bank_sca")
        self.threshold = int(round(bank.sca_threshold * minor))
        # A low-value limit above the regulation's models an issuer outside PSD2.
        self.psd2 = bank.sca_threshold <= sca.low_value_limit
        self.lv_count = sca.low_value_count
        self.lv_sum = int(round(sca.low_value_cumulative * minor))
        self.tap_limit = int(round(sca.contactless_limit * minor))
        self.tap_count = sca.contactless_count
        self.tap_sum = int(round(sca.contactless_cumulative * minor))
        self.tap_share = sca.contactless_share
        self.issuer_ceiling = int(round(bank.issuer_tra_ceiling * minor))
        self.tra_accept = np.asarray(sca.tra_accept_by_risk)
        self.frictionless = np.asarray(sca.frictionless_by_risk)
        self.multiple = sca.usual_amount_multiple
        self.usual_weight = sca.usual_amount_weight
        self.mit_share = sca.mit_share
        failure = bank.legit_step_up_failure
        self.failure = sca.challenge_failure if failure is None else failure
        self.pin_error = sca.pin_error
        # Before a card has history, the profile's median online ticket is its usual one.
        usual = world.profile.cards.ticket_median_cnp * minor
        self.usual0, self.unusual0 = math.log(usual), usual * self.multiple
        self.state = CardCounters.new(n_cards, self.usual0, self.unusual0)
        self.tra_accept_list = self.tra_accept.tolist()
        self.frictionless_list = self.frictionless.tolist()

    def add_card(self) -> None:
        self.state.grow(self.usual0, self.unusual0)

    # -- decisions -----------------------------------------------------------------------------

    def run(self, state: CardCounters, slots: np.ndarray, a: Batch) -> np.ndarray:
        """Decide attempts `a` in time order per slot of `state` (updated); True = failed SCA.

        Attempts with equal slot and time keep their order in `a`.
        """
        n = len(slots)
        failed = np.zeros(n, bool)
        if n == 0:
            return failed
        order = np.lexsort((np.arange(n), a["t"], slots))
        sorted_slots = slots[order]
        first = np.r_[True, sorted_slots[1:] != sorted_slots[:-1]]
        starts = np.flatnonzero(first)
        rank = np.arange(n) - np.repeat(starts, np.diff(np.r_[starts, n]))
        by_rank = order[np.argsort(rank, kind="stable")]
        counts = np.bincount(rank)
        lo = 0
        for count in counts.tolist():
            idx = by_rank[lo : lo + count]
            lo += count
            failed[idx] = self.decide(state, slots[idx], {k: a[k][idx] for k in a})
        return failed

    def decide(self, state: CardCounters, slot: np.ndarray, a: Batch) -> np.ndarray:
        """One attempt per distinct slot; updates the slots' counters; True = failed SCA."""
        amount, channel, merchant, t = a["amount"], a["channel"], a["merchant"], a["t"]
        u = draws(self.key, a["card"], t, amount)
        has_otp, has_pin = a["has_otp"].astype(bool), a["has_pin"].astype(bool)
        ma = self.world.merchant_agents
        known = merchant >= 0
        m = np.maximum(merchant, 0)
        cnp, pos = channel == CNP, channel == POS
        # Online: exemptions, then the challenge.
        rn, rs = state.remote_n[slot], state.remote_sum[slot]
        mandated = cnp & known & (ma.step_up_since[m] <= t)
        counted = np.zeros(len(slot), bool)
        if self.psd2:
            free = cnp & ~mandated
            olo = free & known & ma.one_leg_out[m]
            category = self.world.population.merchants["category"][m]
            mit = (
                free
                & ~olo
                & a["may_mit"].astype(bool)
                & known
                & ma.recurring_category[category]
                & (u[0] < self.mit_share)
            )
            open_ = free & ~olo & ~mit
            lv = (
                open_
                & (amount <= self.threshold)
                & (rn < self.lv_count)
                & (rs + amount <= self.lv_sum)
            )
            rest = open_ & ~lv
            risk = self._risk(a, state.unusual_above[slot])
            tra = rest & known & (amount <= ma.tra_ceiling[m]) & (u[1] < self.tra_accept[risk])
            frictionless = (
                rest & ~tra & (amount <= self.issuer_ceiling) & (u[2] < self.frictionless[risk])
            )
            challenge = mandated | (rest & ~tra & ~frictionless)
            counted = lv | tra | frictionless
        else:
            challenge = mandated | (cnp & (amount > self.threshold))
        passed = challenge & has_otp & (u[3] >= self.failure)
        failed = challenge & ~passed
        state.remote_n[slot] = np.where(passed, 0, rn + counted)
        state.remote_sum[slot] = np.where(passed, 0, rs + np.where(counted, amount, 0))
        # In store and at cash machines: a tap within the limits, else the PIN.
        tn, ts = state.tap_n[slot], state.tap_sum[slot]
        may_tap = (
            pos & (amount <= self.tap_limit) & (tn < self.tap_count) & (ts + amount <= self.tap_sum)
        )
        # Without the PIN a thief always taps; owners tap most payments they may.
        tap = may_tap & (~has_pin | (u[4] < self.tap_share))
        pin = (pos & ~tap) | (channel == ATM)
        pin_ok = pin & has_pin & (u[5] >= self.pin_error)
        failed |= pin & ~pin_ok
        state.tap_n[slot] = np.where(pin_ok, 0, tn + tap)
        state.tap_sum[slot] = np.where(pin_ok, 0, ts + np.where(tap, amount, 0))
        return failed

    def _risk(self, a: Batch, unusual_above: np.ndarray) -> np.ndarray:
        """Risk signals the issuer's engine counts (0..3): a device that is not the card
        holder's, an amount well above the card's usual online ticket, a merchant that is not
        one of the holder's regular online shops."""
        pop = self.world.population
        card, device, merchant = a["card"], a["device"], a["merchant"]
        holder = pop.cards["customer_idx"][card]
        owner = np.where(device >= 0, pop.devices["customer_idx"][np.maximum(device, 0)], -2)
        new_device = owner != holder
        unusual = a["amount"] > unusual_above
        fav = pop.favourites_cnp
        regular = np.zeros(len(card), bool)
        inside = holder < len(fav)
        if inside.any():
            regular[inside] = (fav[holder[inside]] == merchant[inside, None]).any(axis=1)
        return new_device.astype(np.int64) + unusual + ~regular

    def decide_one(self, state: CardCounters, slot: int, a: tuple[int, ...]) -> bool:
        """`decide` for one attempt (ATTEMPT_COLUMNS order) in plain Python: typology attempts
        come one at a time, where numpy's per-call cost dominates. A test keeps both equal."""
        card, t, amount, channel, merchant, device, has_otp, has_pin, may_mit = a
        u = draws_one(self.key, card, t, amount)
        ma, pop = self.world.merchant_agents, self.world.population
        known = merchant >= 0
        m = max(merchant, 0)
        cnp = channel == CNP
        rn, rs = int(state.remote_n[slot]), int(state.remote_sum[slot])
        mandated = cnp and known and int(ma.step_up_since[m]) <= t
        counted = False
        if self.psd2:
            free = cnp and not mandated
            olo = free and known and bool(ma.one_leg_out[m])
            mit = (
                free
                and not olo
                and bool(may_mit)
                and known
                and bool(ma.recurring_category[pop.merchants["category"][m]])
                and u[0] < self.mit_share
            )
            open_ = free and not olo and not mit
            lv = (
                open_
                and amount <= self.threshold
                and rn < self.lv_count
                and rs + amount <= self.lv_sum
            )
            rest = open_ and not lv
            tra = frictionless = False
            if rest:
                holder = int(pop.cards["customer_idx"][card])
                owner = int(pop.devices["customer_idx"][device]) if device >= 0 else -2
                fav = pop.favourites_cnp
                regular = holder < len(fav) and bool((fav[holder] == merchant).any())
                unusual = amount > float(state.unusual_above[slot])
                risk = int(owner != holder) + int(unusual) + int(not regular)
                tra = (
                    known and amount <= int(ma.tra_ceiling[m]) and u[1] < self.tra_accept_list[risk]
                )
                frictionless = (
                    not tra
                    and amount <= self.issuer_ceiling
                    and u[2] < self.frictionless_list[risk]
                )
            challenge = mandated or (rest and not tra and not frictionless)
            counted = lv or tra or frictionless
        else:
            challenge = mandated or (cnp and amount > self.threshold)
        passed = challenge and bool(has_otp) and u[3] >= self.failure
        failed = challenge and not passed
        state.remote_n[slot] = 0 if passed else rn + counted
        state.remote_sum[slot] = 0 if passed else rs + (amount if counted else 0)
        tn, ts = int(state.tap_n[slot]), int(state.tap_sum[slot])
        pos = channel == POS
        may_tap = (
            pos and amount <= self.tap_limit and tn < self.tap_count and ts + amount <= self.tap_sum
        )
        tap = may_tap and (not has_pin or u[4] < self.tap_share)
        pin = (pos and not tap) or channel == ATM
        pin_ok = pin and bool(has_pin) and u[5] >= self.pin_error
        failed = failed or (pin and not pin_ok)
        state.tap_n[slot] = 0 if pin_ok else tn + tap
        state.tap_sum[slot] = 0 if pin_ok else ts + (amount if tap else 0)
        return bool(failed)

    # -- the day -------------------------------------------------------------------------------

    def learn_usual(self, rows: Batch) -> None:
        """After settlement: each card's usual online ticket moves towards the day's accepted
        online payments (the issuer's profile of the card; fraud that got through counts too)."""
        ok = (
            (rows["card"] >= 0)
            & (rows["channel"] == CNP)
            & (rows["direction"] == 0)
            & ~rows["is_declined"]
        )
        if not ok.any():
            return
        card = rows["card"][ok]
        n = len(self.state.usual_log)
        count = np.bincount(card, minlength=n)
        logs = np.bincount(card, weights=np.log(rows["amount"][ok]), minlength=n)
        seen = count > 0
        w = self.usual_weight
        state = self.state
        state.usual_log[seen] = (1 - w) * state.usual_log[seen] + w * (logs[seen] / count[seen])
        state.unusual_above[seen] = np.exp(state.usual_log[seen]) * self.multiple
